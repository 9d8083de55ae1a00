//! A bridge's durable queue across a 30 s outage of its remote (Debian's Mosquitto), with the
//! real binary and RocksDB: 10,000 QoS 1 messages published locally while the remote is down
//! all arrive, in order, once it is back; also when Courtier is killed with -9 and restarted
//! during the outage (issue #16). Skipped where the `mosquitto` package is not installed.

mod common;

use common::process::BrokerProcess;
use common::remote::*;
use std::path::Path;
use std::time::{Duration, Instant};

const MESSAGES: usize = 10_000;
const OUTAGE: Duration = Duration::from_secs(30);

fn start_courtier(dir: &Path, remote: std::net::SocketAddr) -> BrokerProcess {
    let conf = dir.join("conf");
    std::fs::create_dir_all(&conf).unwrap();
    let bridge = bridge_toml(
        "cloud",
        remote,
        &[r#"{ pattern = "meter/#", direction = "out", qos = 1, remote_prefix = "site/" }"#],
        "",
    );
    std::fs::write(conf.join("10-bridge.toml"), bridge).unwrap();
    let data = dir.join("data");
    BrokerProcess::start(&data, &["--config-dir", conf.to_str().unwrap()], &[])
}

/// Wait for a log line containing `part`, in what start-up already printed or after it.
fn wait_log(b: &BrokerProcess, seen: &mut Vec<String>, part: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    if b.startup_log.iter().any(|l| l.contains(part)) {
        return;
    }
    while !seen.iter().any(|l| l.contains(part)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match b.log.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("no log line with {part:?} in {seen:#?}"),
        }
    }
}

/// The remote, keeping its persistent subscriber's session across its own restart.
fn remote(dir: &Path) -> Mosquitto {
    let db = dir.join("mosquitto-db");
    std::fs::create_dir_all(&db).unwrap();
    let extra = format!(
        "allow_anonymous true\npersistence true\npersistence_location {}/\n",
        db.display()
    );
    Mosquitto::start(dir, &extra)
}

/// Everything arrived once at least, and in order: duplicates (QoS 1 resends after a
/// reconnect) removed, the payloads are 0..MESSAGES.
fn assert_all_in_order(got: &[(String, String, u8, bool)]) {
    let mut seen = Vec::with_capacity(MESSAGES);
    for (topic, payload, _, _) in got {
        assert_eq!(topic, "site/meter/1");
        let n: usize = payload.parse().unwrap();
        if seen.last().is_some_and(|&last| n <= last) {
            // A resend of what came before, never a message out of order.
            assert!(seen.contains(&n), "{n} arrived after {:?}", seen.last());
            continue;
        }
        seen.push(n);
    }
    assert_eq!(seen.len(), MESSAGES, "distinct messages that arrived");
    assert!(seen.iter().enumerate().all(|(i, &n)| i == n), "in order");
    eprintln!("{} deliveries for {MESSAGES} messages", got.len());
}

fn outage(kill9_during_outage: bool) {
    if !have_mosquitto() {
        eprintln!("skipped: /usr/sbin/mosquitto (Debian package mosquitto) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut mosquitto = remote(dir.path());
    let sub = Subscriber::start(mosquitto.addr(), "cloud-consumer", &["site/#"], true);
    let mut courtier = start_courtier(dir.path(), mosquitto.addr());
    let mut log = Vec::new();
    wait_log(&courtier, &mut log, "bridge cloud: connected to");

    mosquitto.stop();
    let down = Instant::now();
    let publisher = Publisher::start(courtier.addr, "meter");
    for i in 0..MESSAGES {
        publisher.publish("meter/1", &i.to_string(), 1, false);
    }
    publisher.wait_acks(MESSAGES);
    drop(publisher);
    if kill9_during_outage {
        courtier.kill9();
        courtier = start_courtier(dir.path(), mosquitto.addr());
        let restored = courtier
            .startup_log
            .iter()
            .chain(log.iter())
            .any(|l| l.contains("bridge cloud: 10000 queued messages restored"));
        let mut log = Vec::new();
        if !restored {
            wait_log(
                &courtier,
                &mut log,
                "bridge cloud: 10000 queued messages restored",
            );
        }
    }
    assert!(down.elapsed() < OUTAGE, "publishing took the whole outage");
    std::thread::sleep(OUTAGE - down.elapsed());
    mosquitto.restart();

    let got = sub.wait_for(MESSAGES, Duration::from_secs(90));
    assert_all_in_order(&got);
    drop(courtier);
}

#[test]
fn remote_down_30s_while_10000_qos1_are_published_all_arrive_in_order() {
    outage(false);
}

#[test]
fn courtier_killed_with_9_during_the_outage_still_delivers_all_in_order() {
    outage(true);
}
