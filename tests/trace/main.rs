//! Message-path traces (`[trace]`), end to end: the real binary with a trace config, real MQTT
//! clients over TCP, and the trace lines it logs on stderr.//!
//! One test binary: main.rs holds the helpers, hops.rs the hops of delivered messages,
//! drops.rs drops and denials, selection.rs what is traced and what not, resend.rs resends
//! after a reconnect and a restart.

#[path = "../common/mod.rs"]
mod common;

use common::process::BrokerProcess;
use common::*;
use std::time::{Duration, Instant};

/// Log lines of the trace target, collected until one contains `until` (or 10 s pass).
fn trace_lines_until(b: &BrokerProcess, seen: &mut Vec<String>, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|l| l.contains(until)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match b.log.recv_timeout(left) {
            Ok(line) if line.contains("courtier::trace]") => seen.push(line),
            Ok(_) => {}
            Err(_) => panic!("no trace line with {until:?}; trace lines: {seen:#?}"),
        }
    }
    seen.clone()
}

/// The text after the log prefix: `msg=<id> <hop> ...`.
fn hop(line: &str) -> &str {
    line.split("courtier::trace] ").nth(1).unwrap_or(line)
}

/// `msg=<id>` of the first line with `needle`.
fn msg_id(lines: &[String], needle: &str) -> String {
    let line = lines.iter().find(|l| l.contains(needle)).unwrap();
    hop(line).split_whitespace().next().unwrap().to_owned()
}

/// A broker started with `trace` as a config file (plus `env`).
fn broker(trace: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, BrokerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("10-trace.toml"), trace).unwrap();
    let data = dir.path().join("data");
    let args = ["-c", conf.to_str().unwrap()];
    let b = BrokerProcess::start(&data, &args, env);
    (dir, b)
}

/// "lamp" as a persistent session subscribed to `home/#` at `qos`, and "switch" publishing
/// `home/hall/light` "on" at `qos` (its own flow completed); returns lamp and the delivery.
fn light_to_persistent_lamp(b: &BrokerProcess, qos: u8) -> (RawClient, Publish) {
    let (mut lamp, _) = RawClient::handshake(b.addr, "lamp", false);
    lamp.subscribe(1, &[("home/#", qos)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/hall/light", b"on", qos, false, false, 1));
    if qos == 2 {
        switch.expect(&pubrec(1));
        switch.send(&pubrel(1));
        switch.expect(&pubcomp(1));
    } else {
        switch.expect(&puback(1));
    }
    let p = lamp.recv_publish();
    assert!(!p.dup, "a first delivery has no DUP");
    (lamp, p)
}

/// Disconnect "lamp" cleanly and connect it again to its persistent session.
fn reconnect_lamp(b: &BrokerProcess, mut lamp: RawClient) -> RawClient {
    lamp.send(&disconnect());
    lamp.expect_closed(Duration::from_secs(5));
    let (lamp, present) = RawClient::handshake(b.addr, "lamp", false);
    assert!(present, "the persistent session is still there");
    lamp
}

/// The hops of one traced `home/hall/light` message from "switch", collected until `until`.
fn light_path(b: &BrokerProcess, until: &str) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    let lines = trace_lines_until(b, &mut seen, until);
    let id = msg_id(&lines, "received");
    let hops = lines.iter().map(|l| hop(l).to_owned()).collect();
    (id, hops)
}

mod drops;
mod hops;
mod resend;
mod selection;
