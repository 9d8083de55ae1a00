//! What the README promises, the broker does (issue #17 item 5), one test per claim: the
//! Mosquitto name `sys_interval`, `$SYS/broker/store/corruptions` and its /metrics twin after a
//! store was set aside, and which dropped messages are logged.

mod common;

use common::process::BrokerProcess;
use common::*;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

/// README, Configuration: `sys_interval` keeps its name in mosquitto.conf; in the TOML files
/// it is `[broker] sys_interval_secs`, and the Mosquitto name there gets that suggestion.
#[test]
fn sys_interval_works_in_mosquitto_conf_and_is_suggested_in_toml() {
    let dir = tempfile::tempdir().unwrap();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(conf_d.join("10.toml"), "[broker]\nsys_interval = 1\n").unwrap();
    let out = Command::new(common::process::BIN)
        .args(["-c", conf_d.to_str().unwrap(), "--check-config"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "unknown key \"broker.sys_interval\" (did you mean \"broker.sys_interval_secs\"?)"
        ),
        "{err}"
    );

    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, "sys_interval 1\n").unwrap();
    let b = BrokerProcess::start(
        &dir.path().join("data"),
        &["--mosquitto-conf", conf.to_str().unwrap()],
        &[],
    );
    let (mut c, _) = RawClient::handshake(b.addr, "sys-watch", true);
    c.send(&subscribe(1, &[("$SYS/broker/uptime", 0)]));
    assert_eq!(c.read_packet().0, 0x90);
    let start = Instant::now();
    let mut seen = 0;
    while seen < 3 {
        let (first, _) = c.read_packet();
        if first & 0xF0 == 0x30 {
            seen += 1;
        }
    }
    // Three publications (the first at once, then every second) well within 10 s, the default.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// README, Persistence: a store that cannot be read is set aside and counted in
/// `$SYS/broker/store/corruptions` (and in /metrics as courtier_store_corruptions_total).
#[test]
fn a_store_set_aside_is_counted_in_sys_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("000001.sst"), b"not a table").unwrap();
    let b = BrokerProcess::start(
        dir.path(),
        &[],
        &[("COURTIER__BROKER__SYS_INTERVAL_SECS", "1")],
    );
    let (mut c, _) = RawClient::handshake(b.addr, "corruption-watch", true);
    c.send(&subscribe(1, &[("$SYS/broker/store/corruptions", 0)]));
    assert_eq!(c.read_packet().0, 0x90);
    let payload = loop {
        let (first, body) = c.read_packet();
        if let Some(p) = Publish::parse(first, &body) {
            break p.payload;
        }
    };
    assert_eq!(payload, b"1");
    let log = b.drain_log();
    let http: SocketAddr = log
        .iter()
        .find_map(|l| l.split("listening for HTTP on ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("the HTTP listener's address in the log")
        .parse()
        .unwrap();
    let metrics = common::http::get(http, "/metrics").body;
    assert!(
        metrics.contains("courtier_store_corruptions_total 1"),
        "{metrics}"
    );
}

/// README, Limits: a dropped message is counted, and the first drop per client and every
/// 1,000th after it are logged (with the client's count so far), not every one.
#[test]
fn the_first_and_every_thousandth_drop_per_client_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(
        dir.path(),
        &[],
        &[("COURTIER__LIMITS__MAX_QUEUED_MESSAGES", "1")],
    );
    let (mut s, _) = RawClient::handshake(b.addr, "slow-logger", false);
    s.send(&subscribe(1, &[("drops/#", 1)]));
    assert_eq!(s.read_packet().0, 0x90);
    s.send(&disconnect());
    drop(s);
    std::thread::sleep(Duration::from_millis(200));
    let mut p = RawClient::connected(b.addr, "drop-publisher");
    // One message fills the offline session's queue; the next 1,000 are dropped.
    for i in 1..=1_001u16 {
        p.send(&publish("drops/x", b"m", 1, false, false, i));
        assert_eq!(p.read_packet().0, 0x40, "PUBACK {i}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let lines: Vec<String> = b
        .drain_log()
        .into_iter()
        .filter(|l| l.contains("\"slow-logger\"") && l.contains("dropped for this client so far"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].ends_with("; 1 dropped for this client so far"),
        "{lines:#?}"
    );
    assert!(
        lines[1].ends_with("; 1000 dropped for this client so far"),
        "{lines:#?}"
    );
}
