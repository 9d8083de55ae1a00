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
}
