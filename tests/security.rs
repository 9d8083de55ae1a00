//! `[security]` end to end with the real binary: password files (written by the real
//! mosquitto_passwd, tests/fixtures/mosquitto_passwd), allow_anonymous, ACL files and SIGHUP
//! reload, with raw 3.1.1 and 5.0 clients (exact reason codes) and rumqttc.

mod common;

use common::security::*;
use common::v5::*;
use common::*;
use std::time::{Duration, Instant};

#[test]
fn mosquitto_passwd_file_right_password_connects_and_wrong_is_refused_in_both_versions() {
    let b = broker(Some(&mosquitto_file()), None, false);
    assert_eq!(connack311(&b, Some("alice"), Some("alice-secret")), 0);
    assert_eq!(connack311(&b, Some("carol"), Some("carol6")), 0, "$6$");
    assert_eq!(connack311(&b, Some("alice"), Some("nope")), 5);
    assert_eq!(connack311(&b, Some("mallory"), Some("x")), 5);
    assert_eq!(connack311(&b, None, None), 5);
    assert_eq!(connack5(&b, Some("bob"), Some("b0b pass")), 0);
    assert_eq!(connack5(&b, Some("bob"), Some("bob")), 0x86);
    assert_eq!(connack5(&b, None, None), 0x87);
    let log = b.b.drain_log().join("\n");
    for secret in ["alice-secret", "nope", "lXNDQ5w0Ca7z5HCS"] {
        assert!(
            !log.contains(secret),
            "the log never shows passwords or hashes"
        );
    }
}

#[test]
fn anonymous_on_with_a_password_file_still_checks_named_clients() {
    let b = broker(Some(&mosquitto_file()), None, true);
    assert_eq!(connack311(&b, None, None), 0);
    assert_eq!(connack311(&b, Some("alice"), Some("alice-secret")), 0);
    assert_eq!(connack311(&b, Some("alice"), Some("wrong")), 5);
    assert_eq!(connack5(&b, Some("nobody"), None), 0x86);
}

#[test]
fn rumqttc_client_with_the_right_password_publishes_and_receives() {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let b = broker(Some(&mosquitto_file()), None, false);
    let mut opts = MqttOptions::new(unique("rq"), "127.0.0.1", b.b.addr.port());
    opts.set_credentials("alice", "alice-secret");
    let (client, mut conn) = Client::new(opts, 10);
    client.subscribe("rq/t", QoS::AtLeastOnce).unwrap();
    client
        .publish("rq/t", QoS::AtLeastOnce, false, "hi")
        .unwrap();
    let got = conn.iter().find_map(|e| match e.expect("connected") {
        Event::Incoming(Packet::Publish(p)) => Some(p.payload),
        _ => None,
    });
    assert_eq!(got.as_deref(), Some(&b"hi"[..]));
    let mut bad = MqttOptions::new(unique("rq"), "127.0.0.1", b.b.addr.port());
    bad.set_credentials("alice", "wrong");
    let (_c, mut conn) = Client::new(bad, 10);
    assert!(conn.iter().next().unwrap().is_err(), "refused");
}

#[test]
fn a_bad_password_file_stops_start_up_naming_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    std::fs::write(&pw, "# users\nalice:secret\n").unwrap();
    let out = std::process::Command::new(common::process::BIN)
        .args(["-p", "0"])
        .env("COURTIER__SECURITY__PASSWORD_FILE", quoted(&pw))
        .env("COURTIER__PERSISTENCE__ENABLED", "false")
        .env("COURTIER__HTTP__ENABLED", "false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password_file") && err.contains("line 2"),
        "{err}"
    );
    assert!(
        err.contains("plaintext") && !err.contains("secret\""),
        "{err}"
    );
}

const ACL: &str = "\
# anonymous clients
topic read public/#
topic write public/news
user alice
topic readwrite home/#
topic deny home/secret
pattern readwrite users/%u/#
";

#[test]
fn acl_denied_publish_is_acknowledged_and_dropped_in_3_1_1_and_refused_0x87_in_5_0() {
    let b = broker(Some(&mosquitto_file()), Some(ACL), true);
    let mut watcher = Connect::v311(&unique("w"));
    watcher.username = Some("alice".into());
    watcher.password = Some(b"alice-secret".to_vec());
    let (mut w, _) = RawClient::handshake_with(b.b.addr, &watcher);
    w.subscribe(1, &[("home/#", 0), ("users/#", 0)]);
    let mut c = Connect::v311(&unique("p"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let (mut p, _) = RawClient::handshake_with(b.b.addr, &c);
    p.send(&publish("home/secret", b"no", 1, false, false, 1));
    p.expect(&puback(1));
    p.send(&publish("users/bob/x", b"no", 1, false, false, 2));
    p.expect(&puback(2));
    p.send(&publish("home/light", b"yes", 0, false, false, 0));
    assert_eq!(
        w.recv_publish().payload,
        b"yes",
        "only the allowed publish is routed"
    );
    let line = wait_log(&b, "denied publish");
    assert!(
        line.contains("alice") && line.contains("home/secret"),
        "{line}"
    );

    let mut c5 = Connect5::new(&unique("p5"));
    c5.username = Some("alice".into());
    c5.password = Some(b"alice-secret".to_vec());
    let mut p5 = RawClient::connect(b.b.addr);
    p5.send(&c5.to_bytes());
    p5.read_packet();
    p5.send(&publish5("public/x", b"no", 1, false, 7, &[]));
    let (first, body) = p5.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0x87]);
    p5.send(&publish5("users/alice/x", b"yes", 1, false, 8, &[]));
    let (first, body) = p5.read_packet();
    assert_eq!(
        Ack5::parse(first, &body).reasons,
        vec![0],
        "own subtree through %u"
    );
}

#[test]
fn acl_refuses_subscriptions_to_nothing_readable_and_filters_deliveries() {
    let b = broker(Some(&mosquitto_file()), Some(ACL), true);
    let mut anon = RawClient::connected(b.b.addr, &unique("anon"));
    assert_eq!(
        anon.subscribe(1, &[("public/#", 1), ("home/#", 1), ("#", 0)]),
        vec![1, 0x80, 0]
    );
    let mut c = Connect::v311(&unique("a"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let (mut alice, _) = RawClient::handshake_with(b.b.addr, &c);
    alice.send(&publish("home/secret", b"hidden", 0, false, false, 0));
    alice.send(&publish("home/a", b"home", 0, false, false, 0));
    let mut c5 = Connect5::new(&unique("s5"));
    c5.username = Some("alice".into());
    c5.password = Some(b"alice-secret".to_vec());
    let mut s5 = RawClient::connect(b.b.addr);
    s5.send(&c5.to_bytes());
    s5.read_packet();
    s5.send(&subscribe5(3, &[("public/#", 0), ("home/#", 0)], &[]));
    let (first, body) = s5.read_packet();
    assert_eq!(first, 0x90);
    let suback = Ack5::parse(first, &body);
    assert_eq!(
        suback.reasons,
        vec![0x87, 0],
        "5.0 SUBACK: 0x87 not authorized"
    );
    // The anonymous `#` subscriber receives nothing of alice's: it may read public/# only.
    let mut pubber = RawClient::connected(b.b.addr, &unique("pub"));
    pubber.send(&publish("public/news", b"news", 0, false, false, 0));
    let got = anon.recv_publish();
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        ("public/news", &b"news"[..])
    );
    anon.expect_silence(Duration::from_millis(300));
}

#[test]
fn a_will_is_checked_like_a_publish_of_its_user() {
    let b = broker(Some(&mosquitto_file()), Some(ACL), true);
    let mut c = Connect::v311(&unique("watch"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let (mut w, _) = RawClient::handshake_with(b.b.addr, &c);
    w.subscribe(1, &[("home/#", 0)]);
    for (topic, user) in [("home/secret", "alice"), ("home/gone", "alice")] {
        let mut d = Connect::v311(&unique("dies")).will(topic, b"bye", 0, false);
        d.username = Some(user.into());
        d.password = Some(b"alice-secret".to_vec());
        let (dying, _) = RawClient::handshake_with(b.b.addr, &d);
        dying.drop_connection();
    }
    let got = w.recv_publish();
    assert_eq!(
        got.topic, "home/gone",
        "the will to the denied topic is not published"
    );
    let line = wait_log(&b, "denied will");
    assert!(line.contains("home/secret"), "{line}");
}

/// `failed_auth_delay_ms`: the first wrong password is answered at once, each further one from
/// the same address later (doubling), without holding up other clients; a right password
/// starts over.
#[test]
fn repeated_failed_logins_from_one_address_are_answered_later_and_later() {
    let b = broker_with(
        Some(&mosquitto_file()),
        None,
        false,
        &[
            ("COURTIER__SECURITY__FAILED_AUTH_DELAY_MS", "400"),
            ("COURTIER__SECURITY__FAILED_AUTH_DELAY_MAX_MS", "800"),
        ],
    );
    let timed = |user: &str, password: &str| {
        let started = Instant::now();
        let code = connack311(&b, Some(user), Some(password));
        (code, started.elapsed())
    };
    let (code, first) = timed("alice", "wrong");
    assert_eq!(code, 5);
    assert!(
        first < Duration::from_millis(300),
        "first refusal at once: {first:?}"
    );
    let (_, second) = timed("alice", "wrong");
    assert!(second >= Duration::from_millis(400), "{second:?}");
    // The third waits 800 ms; meanwhile anonymous-off refusals and good logins of other
    // connections are not held up.
    let slow = std::thread::spawn({
        let addr = b.b.addr;
        move || {
            let mut c = Connect::v311(&unique("guess"));
            c.username = Some("alice".into());
            c.password = Some(b"still-wrong".to_vec());
            let started = Instant::now();
            let mut cl = RawClient::connect(addr);
            cl.send(&c.to_bytes());
            let (_, body) = cl.read_packet();
            (body[1], started.elapsed())
        }
    });
    std::thread::sleep(Duration::from_millis(100));
    let (code, good) = timed("carol", "carol6");
    assert_eq!(code, 0);
    assert!(
        good < Duration::from_millis(300),
        "others not held up: {good:?}"
    );
    let (code, third) = slow.join().unwrap();
    assert_eq!(code, 5);
    assert!(third >= Duration::from_millis(800), "{third:?}");
    // carol's success from this address started it over.
    let (_, again) = timed("alice", "wrong");
    assert!(again < Duration::from_millis(300), "{again:?}");
}

/// Every denial is a WARN line with client id, user name, address, action, topic and reason
/// (receive: DEBUG, see session/denied.rs), and counted in
/// `courtier_auth_denied_total{action}`.
#[test]
fn every_denial_is_logged_with_client_user_address_and_counted_by_action() {
    let b = broker(Some(&mosquitto_file()), Some(ACL), true);
    assert_eq!(connack311(&b, Some("alice"), Some("wrong")), 5);
    let line = wait_log(&b, "connection refused");
    assert!(
        line.contains("WARN") && line.contains("addr=127.0.0.1:"),
        "{line}"
    );
    let mut anon = RawClient::connected(b.b.addr, &unique("anon"));
    assert_eq!(anon.subscribe(1, &[("home/#", 0), ("#", 0)]), vec![0x80, 0]);
    let line = wait_log(&b, "denied subscribe");
    assert!(
        line.contains("WARN") && line.contains("addr=127.0.0.1:") && line.contains("home/#"),
        "{line}"
    );
    let mut c = Connect::v311(&unique("lamp"));
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    let (mut alice, _) = RawClient::handshake_with(b.b.addr, &c);
    alice.send(&publish("home/secret", b"no", 1, false, false, 1));
    alice.expect(&puback(1));
    let line = wait_log(&b, "denied publish");
    for part in [
        "WARN",
        "username=\"alice\"",
        "addr=127.0.0.1:",
        "home/secret",
        "reason=",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    // Allowed for alice, not readable by the anonymous `#` subscriber.
    alice.send(&publish("home/a", b"x", 0, false, false, 0));
    anon.expect_silence(Duration::from_millis(200));
    let http = common::tls::logged_addr(&b.b, "HTTP");
    let deadline = Instant::now() + Duration::from_secs(5);
    for (action, n) in [
        ("connect", 1),
        ("publish", 1),
        ("subscribe", 1),
        ("receive", 1),
    ] {
        let series = format!("courtier_auth_denied_total{{action=\"{action}\"}} {n}");
        loop {
            let body = common::http::get(http, "/metrics").body;
            if body.contains(&series) {
                break;
            }
            assert!(Instant::now() < deadline, "{series} in\n{body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
