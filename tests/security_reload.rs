//! SIGHUP reload of `[security]` with clients connected: new users admitted, a broken file
//! keeping the old settings, the new ACL applied at the next delivery, deleted users
//! disconnected (5.0 DISCONNECT 0x98), and a QoS 1 publisher under load losing nothing.

mod common;

use common::security::*;
use common::v5::*;
use common::*;
use std::time::Duration;

/// alice (3.1.1) and bob (5.0) connected with the password file; returns both clients.
fn alice_and_bob(b: &Broker) -> (RawClient, RawClient) {
    let mut c = Connect::v311(&unique("alice"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let (alice, _) = RawClient::handshake_with(b.b.addr, &c);
    let mut c = Connect5::new(&unique("bob"));
    c.username = Some("bob".into());
    c.password = Some(b"b0b pass".to_vec());
    let mut bob = RawClient::connect(b.b.addr);
    bob.send(&c.to_bytes());
    let (first, body) = bob.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0);
    (alice, bob)
}

/// Rewrites the password file without `user`'s line.
fn delete_user(b: &Broker, user: &str) {
    let pw = b.dir.path().join("passwd");
    let text = std::fs::read_to_string(&pw).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with(&format!("{user}:")))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&pw, kept).unwrap();
}

#[test]
fn sighup_disconnects_a_5_0_user_deleted_from_the_password_file_with_0x98() {
    let b = broker(Some(&mosquitto_file()), None, false);
    let (mut alice, mut bob) = alice_and_bob(&b);
    delete_user(&b, "bob");
    hup(&b);
    let line = wait_log(&b, "removed from the password file");
    assert!(line.contains("\"bob\""), "{line}");
    let packets = bob.expect_closed_after_packets(Duration::from_secs(5));
    let (first, body) = packets
        .last()
        .expect("a DISCONNECT before the close")
        .clone();
    assert_eq!(
        parse_disconnect(first, &body).0,
        0x98,
        "administrative action"
    );
    // alice was not deleted: still connected, and bob cannot come back.
    assert_eq!(alice.subscribe(1, &[("still/here", 0)]), vec![0]);
    assert_eq!(connack5(&b, Some("bob"), Some("b0b pass")), 0x86);
}

#[test]
fn sighup_closes_a_3_1_1_user_deleted_from_the_password_file() {
    let b = broker(Some(&mosquitto_file()), None, false);
    let (mut alice, mut bob) = alice_and_bob(&b);
    delete_user(&b, "alice");
    hup(&b);
    wait_log(&b, "removed from the password file");
    alice.expect_closed(Duration::from_secs(5));
    bob.send(&subscribe5(1, &[("still/here", 0)], &[]));
    let (first, _) = bob.read_packet();
    assert_eq!(first, 0x90, "bob stays connected");
}

#[test]
fn sighup_turning_allow_anonymous_off_disconnects_anonymous_clients() {
    let dir_env = tempfile::tempdir().unwrap();
    let conf = dir_env.path().join("10-local.toml");
    std::fs::write(&conf, "[security]\nallow_anonymous = true\n").unwrap();
    let b = common::process::BrokerProcess::start(
        &dir_env.path().join("data"),
        &["--config-dir", dir_env.path().to_str().unwrap()],
        &[("COURTIER__PERSISTENCE__ENABLED", "false")],
    );
    let mut anon = RawClient::connected(b.addr, &unique("anon"));
    std::fs::write(&conf, "[security]\nallow_anonymous = false\n").unwrap();
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    anon.expect_closed(Duration::from_secs(5));
}

#[test]
fn sighup_adds_a_user_and_a_broken_file_keeps_the_old_users() {
    let b = broker(Some(&mosquitto_file()), None, false);
    let (mut stays, _) = {
        let mut c = Connect::v311(&unique("stay"));
        c.username = Some("alice".into());
        c.password = Some(b"alice-secret".to_vec());
        RawClient::handshake_with(b.b.addr, &c)
    };
    assert_eq!(connack311(&b, Some("erin"), Some("erin-pw")), 5);
    let pw = b.dir.path().join("passwd");
    let status = std::process::Command::new(common::process::BIN)
        .args(["passwd", "-b"])
        .arg(&pw)
        .args(["erin", "erin-pw"])
        .status()
        .unwrap();
    assert!(status.success());
    hup(&b);
    wait_log(&b, "(4 users)");
    assert_eq!(
        connack311(&b, Some("erin"), Some("erin-pw")),
        0,
        "no restart needed"
    );

    std::fs::write(&pw, "erin:not-a-hash\n").unwrap();
    hup(&b);
    let line = wait_log(&b, "reload failed");
    assert!(
        line.contains("line 1") && line.contains("password_file"),
        "{line}"
    );
    assert_eq!(
        connack311(&b, Some("alice"), Some("alice-secret")),
        0,
        "old users kept"
    );
    assert_eq!(connack311(&b, Some("erin"), Some("erin-pw")), 0);
    stays.subscribe(1, &[("still/here", 0)]);
}

#[test]
fn sighup_applies_a_new_acl_to_clients_already_connected() {
    let b = broker(None, Some("topic readwrite a/#\n"), true);
    let mut sub = RawClient::connected(b.b.addr, &unique("s"));
    assert_eq!(sub.subscribe(1, &[("#", 0)]), vec![0]);
    let mut p = RawClient::connected(b.b.addr, &unique("p"));
    p.send(&publish("a/1", b"one", 0, false, false, 0));
    assert_eq!(sub.recv_publish().payload, b"one");
    std::fs::write(b.dir.path().join("acl"), "topic write a/#\n").unwrap();
    hup(&b);
    wait_log(&b, "security: allow_anonymous");
    p.send(&publish("a/2", b"two", 0, false, false, 0));
    sub.expect_silence(Duration::from_millis(300));
}

/// The load check: a client publishing QoS 1 throughout a series of reloads (files
/// rewritten each time) loses nothing and is not disconnected; its subscriber gets every
/// message once, in order.
#[test]
fn sighup_under_load_loses_no_qos1_message_and_drops_no_client() {
    const ACL_TEXT: &str = "user alice\ntopic readwrite load/#\n";
    const N: u16 = 3000;
    let b = broker(Some(&mosquitto_file()), Some(ACL_TEXT), false);
    let login = |id: &str| {
        let mut c = Connect::v311(&unique(id));
        c.username = Some("alice".into());
        c.password = Some(b"alice-secret".to_vec());
        RawClient::handshake_with(b.b.addr, &c).0
    };
    let mut sub = login("sub");
    assert_eq!(sub.subscribe(1, &[("load/#", 1)]), vec![1]);
    let mut publisher = login("pub");
    let sender = std::thread::spawn(move || {
        for i in 1..=N {
            publisher.send(&publish("load/x", &i.to_be_bytes(), 1, false, false, i));
            let (first, body) = publisher.read_packet();
            assert_eq!(
                (first, &body[..]),
                (0x40, &i.to_be_bytes()[..]),
                "PUBACK {i}"
            );
        }
        publisher
    });
    let receiver = std::thread::spawn(move || {
        for i in 1..=N {
            let p = sub.recv_publish();
            assert_eq!(
                p.payload,
                i.to_be_bytes(),
                "message {i} in order, none lost"
            );
            sub.send(&puback(p.packet_id.unwrap()));
        }
        sub
    });
    let acl = b.dir.path().join("acl");
    let mut reloads = 0;
    while !sender.is_finished() {
        std::fs::write(&acl, format!("# reload {reloads}\n{ACL_TEXT}")).unwrap();
        hup(&b);
        reloads += 1;
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut publisher = sender.join().expect("every publish acknowledged");
    let mut sub = receiver.join().expect("every message delivered");
    assert!(reloads >= 3, "only {reloads} reloads during the run");
    publisher.send(&pingreq());
    assert_eq!(publisher.read_packet().0, 0xD0, "publisher still connected");
    sub.expect_silence(Duration::from_millis(200));
    let log = b.b.drain_log();
    assert!(
        !log.iter()
            .any(|l| l.contains("reload failed") || l.contains("disconnected")),
        "{log:#?}"
    );
}
