//! Bridges against real remotes: Debian's Mosquitto and a second Courtier (issue #16).
//! Skipped (with a note) where the `mosquitto` broker package is not installed.

mod common;

use common::remote::*;
use std::sync::Arc;
use std::time::Duration;

/// An in-process Courtier with `conf` (TOML) added to the defaults; port 0 everywhere.
fn courtier(dir: &std::path::Path, conf: &str) -> courtier::ServerThread {
    let conf_dir = dir.join(format!("conf-{}", free_port()));
    std::fs::create_dir_all(&conf_dir).unwrap();
    let text = format!("[listener]\nbind = \"127.0.0.1\"\nport = 0\n[http]\nport = 0\n{conf}");
    std::fs::write(conf_dir.join("10-test.toml"), text).unwrap();
    let settings = courtier::config::load(&courtier::config::ConfigSources {
        config_dir: Some(conf_dir),
        env: Vec::new(),
    })
    .expect("valid test config");
    let store = Arc::new(courtier_storage::MemoryStore::new());
    courtier::ServerThread::spawn(settings, store).expect("courtier starts")
}

fn wait_connected(b: &courtier::ServerThread, name: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if b.broker
            .bridges()
            .iter()
            .any(|s| s.name == name && s.connected)
        {
            // The remote has the SUBSCRIBE of the `in` topics a moment after CONNACK.
            std::thread::sleep(Duration::from_millis(300));
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("bridge {name} did not connect: {:?}", b.broker.bridges());
}

fn skip_without_mosquitto() -> bool {
    if !have_mosquitto() {
        eprintln!("skipped: /usr/sbin/mosquitto (Debian package mosquitto) is not installed");
        return true;
    }
    false
}

#[test]
fn messages_cross_both_ways_with_prefixes_at_qos_0_1_2() {
    if skip_without_mosquitto() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let remote = Mosquitto::start(dir.path(), "allow_anonymous true");
    let bridge = bridge_toml(
        "cloud",
        remote.addr(),
        &[
            r#"{ pattern = "sensors/#", direction = "out", qos = 2, local_prefix = "home/", remote_prefix = "site1/" }"#,
            r#"{ pattern = "cmd/#", direction = "in", qos = 2, local_prefix = "from-cloud/", remote_prefix = "site1/" }"#,
        ],
        "",
    );
    let local = courtier(dir.path(), &bridge);
    wait_connected(&local, "cloud");

    // Out: local home/sensors/.. -> remote site1/sensors/..
    let remote_sub = Subscriber::start(remote.addr(), "remote-sub", &["site1/sensors/#"], false);
    let local_pub = Publisher::start(local.mqtt_addr, "local-pub");
    for qos in 0..=2 {
        local_pub.publish(
            &format!("home/sensors/q{qos}"),
            &format!("out{qos}"),
            qos,
            false,
        );
    }
    local_pub.publish("home/other", "not bridged", 1, false);
    let got = remote_sub.wait_for(3, Duration::from_secs(10));
    let mut got: Vec<_> = got
        .iter()
        .map(|(t, p, q, _)| (t.clone(), p.clone(), *q))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("site1/sensors/q0".into(), "out0".into(), 0),
            ("site1/sensors/q1".into(), "out1".into(), 1),
            ("site1/sensors/q2".into(), "out2".into(), 2),
        ]
    );

    // In: remote site1/cmd/.. -> local from-cloud/cmd/..
    let local_sub = Subscriber::start(local.mqtt_addr, "local-sub", &["from-cloud/#"], false);
    let remote_pub = Publisher::start(remote.addr(), "remote-pub");
    for qos in 0..=2 {
        remote_pub.publish(
            &format!("site1/cmd/q{qos}"),
            &format!("in{qos}"),
            qos,
            false,
        );
    }
    let got = local_sub.wait_for(3, Duration::from_secs(10));
    let mut got: Vec<_> = got
        .iter()
        .map(|(t, p, q, _)| (t.clone(), p.clone(), *q))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("from-cloud/cmd/q0".into(), "in0".into(), 0),
            ("from-cloud/cmd/q1".into(), "in1".into(), 1),
            ("from-cloud/cmd/q2".into(), "in2".into(), 2),
        ]
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        remote_sub.received.lock().unwrap().len(),
        3,
        "nothing else crossed"
    );
    let s = &local.broker.bridges()[0];
    assert_eq!(
        (s.sent, s.received, s.queued, s.dropped),
        (3, 3, 0, 0),
        "{s:?}"
    );

    // Visible in /metrics, the admin API and $SYS.
    let http = local.http_addr.expect("HTTP listener");
    let metrics = common::http::get(http, "/metrics").body;
    for line in [
        "courtier_bridge_connected{bridge=\"cloud\"} 1",
        "courtier_bridge_messages_sent_total{bridge=\"cloud\"} 3",
        "courtier_bridge_messages_received_total{bridge=\"cloud\"} 3",
        "courtier_bridge_queued_messages{bridge=\"cloud\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let api = common::http::get(http, "/api/v1/bridges");
    assert_eq!(api.status, 200, "{}", api.body);
    assert!(api.body.contains("\"name\":\"cloud\""), "{}", api.body);
    assert!(api.body.contains("\"connected\":true"), "{}", api.body);
    let filter = ["$SYS/broker/connection/+/state"];
    let state = Subscriber::start(local.mqtt_addr, "sys-sub", &filter, false);
    let got = state.wait_for(1, Duration::from_secs(5));
    assert_eq!(
        got.first().map(|(t, p, _, r)| (t.as_str(), p.as_str(), *r)),
        Some(("$SYS/broker/connection/cloud/state", "1", true))
    );
}

/// Two Courtiers, the second bridged to the first with one `both` entry: each message crosses
/// once and does not come back (on the remote: 5.0 No Local, or for 3.1.1 the bridge bit,
/// which Courtier honours as Mosquitto does; locally the bridge's own subscriptions are
/// No Local).
fn both_ways_between_two_courtiers(protocol: &str) {
    let dir = tempfile::tempdir().unwrap();
    let hub = courtier(dir.path(), "");
    let bridge = bridge_toml(
        "up",
        hub.mqtt_addr,
        &[r#"{ pattern = "chat/#", direction = "both", qos = 1 }"#],
        &format!("protocol = {protocol:?}"),
    );
    let site = courtier(dir.path(), &bridge);
    wait_connected(&site, "up");
    let at_hub = Subscriber::start(hub.mqtt_addr, "hub-sub", &["chat/#"], false);
    let at_site = Subscriber::start(site.mqtt_addr, "site-sub", &["chat/#"], false);
    Publisher::start(site.mqtt_addr, "site-pub").publish("chat/from-site", "s", 1, false);
    Publisher::start(hub.mqtt_addr, "hub-pub").publish("chat/from-hub", "h", 1, false);
    at_hub.wait_for(2, Duration::from_secs(10));
    at_site.wait_for(2, Duration::from_secs(10));
    // Time for a loop to show.
    std::thread::sleep(Duration::from_secs(1));
    for (who, sub) in [("hub", &at_hub), ("site", &at_site)] {
        let got = sub.received.lock().unwrap();
        let mut topics: Vec<&str> = got.iter().map(|m| m.0.as_str()).collect();
        topics.sort();
        assert_eq!(topics, ["chat/from-hub", "chat/from-site"], "at the {who}");
    }
    let s = &site.broker.bridges()[0];
    assert_eq!((s.sent, s.received), (1, 1), "{s:?}");
}

#[test]
fn both_between_two_courtiers_does_not_loop_v5() {
    both_ways_between_two_courtiers("5.0");
}

/// A Mosquitto remote with a TLS listener (certificates made by rcgen) and a password file
/// made by mosquitto_passwd, as the seeds' cloud broker; returns it and a `[[bridges]]` table
/// that sends `password`.
fn cloud(dir: &std::path::Path, password: &str) -> (Mosquitto, String) {
    let ca = common::tls::Ca::new("Bridge Test CA");
    let server = ca.server(&rcgen::PKCS_ECDSA_P256_SHA256);
    let w = |name: &str, text: &str| common::tls::write(dir, name, text).display().to_string();
    let cafile = w("ca.pem", &ca.pem);
    let cert = w("server.pem", &server.cert_pem);
    let key = w("server.key", &server.key_pem);
    let passwd = dir.join("passwd");
    let ok = std::process::Command::new("mosquitto_passwd")
        .args(["-b", "-c"])
        .arg(&passwd)
        .args(["hub", "s3cret"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mosquitto_passwd");
    let extra = format!(
        "allow_anonymous false\npassword_file {}\ncafile {cafile}\ncertfile {cert}\nkeyfile {key}\n",
        passwd.display()
    );
    let remote = Mosquitto::start(dir, &extra);
    let bridge = bridge_toml(
        "cloud",
        remote.addr(),
        &[r#"{ pattern = "home/#", direction = "out", qos = 1 }"#],
        &format!(
            "cafile = {cafile:?}\ntls_server_name = \"localhost\"\n\
             remote_username = \"hub\"\nremote_password = {password:?}"
        ),
    );
    (remote, bridge)
}

#[test]
fn tls_with_username_and_password_to_mosquitto() {
    if skip_without_mosquitto() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_remote, bridge) = cloud(dir.path(), "s3cret");
    let local = courtier(dir.path(), &bridge);
    wait_connected(&local, "cloud");
    let publisher = Publisher::start(local.mqtt_addr, "tls-pub");
    publisher.publish("home/temp", "21.5", 1, false);
    publisher.wait_acks(1);
    // Acknowledged by the remote over TLS: the bridge counts it as sent.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while local.broker.bridges()[0].sent < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            local.broker.bridges()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refused_credentials_back_off_without_a_busy_loop() {
    if skip_without_mosquitto() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_remote, bridge) = cloud(dir.path(), "wrong");
    let local = courtier(dir.path(), &bridge);
    // Delays 0.2, 0.4, 0.8, 1.0, 1.0 ... s: about 6 attempts in 4 s, not thousands.
    std::thread::sleep(Duration::from_secs(4));
    let s = &local.broker.bridges()[0];
    assert!(!s.connected);
    assert!((3..=8).contains(&s.failed_attempts), "{s:?}");
    let refused = ["not authorized", "bad user name or password"];
    assert!(refused.iter().any(|r| s.last_error.contains(r)), "{s:?}");
}

#[test]
fn both_between_two_courtiers_does_not_loop_3_1_1_with_the_bridge_bit() {
    both_ways_between_two_courtiers("3.1.1");
}

#[test]
fn a_full_queue_drops_by_its_policy_and_counts_the_drops() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the bridge queues.
    let nowhere: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let bridge = bridge_toml(
        "offline",
        nowhere,
        &[r#"{ pattern = "q/#", direction = "out", qos = 1 }"#],
        "max_queued_messages = 5\nqueue_overflow = \"drop_oldest\"",
    );
    // Published at once after start-up: the broker accepts clients only once its bridges'
    // `out` filters are subscribed, so none of these misses the queue.
    let local = courtier(dir.path(), &bridge);
    let publisher = Publisher::start(local.mqtt_addr, "filler");
    for i in 0..12 {
        publisher.publish("q/x", &i.to_string(), 1, false);
    }
    publisher.wait_acks(12);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = local.broker.bridges()[0].clone();
        if s.queued == 5 && s.dropped == 7 {
            assert!(!s.connected && s.failed_attempts > 0, "{s:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{s:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
