//! A bridge's outbound queue bound (issue #16): with the remote away, a full queue drops by its
//! policy and counts the drops. In a test binary of its own: run beside the other bridge
//! tests in one process it saw no deliveries at all (see the session note of 2026-12-07);
//! alone, and in the broker's real one-broker-per-process use, it holds.

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
