//! A full disk (issue #19, item 4): the real binary with its data folder on a 20 MB tmpfs that a
//! file fills, and real clients (rumqttc). Clean sessions go on; what needs the store is not
//! acknowledged (3.1.1: no PUBACK and the connection closed; 5.0: PUBACK 0x97); the failing
//! store is logged at ERROR once and counted; writes resume by themselves once space returns,
//! and nothing acknowledged is lost across a restart. A start on a full disk serves the store
//! read-only (`start.rs`). Needs root (mount); skipped otherwise.

mod clients;
#[path = "../common/mod.rs"]
mod common;
mod start;

use clients::{publish5, Client4, Outcome, Tmpfs};

use common::process::{terminate, BrokerProcess};
use rumqttc::QoS;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The retained value of a `$SYS` topic, as a new subscriber gets it.
pub(crate) fn sys_value(addr: SocketAddr, topic: &str) -> String {
    let mut c = Client4::connect(addr, "df-sys", true);
    c.subscribe(topic, QoS::AtMostOnce);
    let got = c.receive(Duration::from_millis(500));
    String::from_utf8(got.last().cloned().expect("a retained $SYS value")).unwrap()
}

const PAYLOAD: usize = 64 * 1024;

pub(crate) fn payload(tag: &str, i: usize) -> Vec<u8> {
    let mut p = format!("{tag}-{i}:").into_bytes();
    p.resize(PAYLOAD, b'.');
    p
}

/// The persistent session "df-keeper" gets every message in `acked` (by tag) after a restart:
/// nothing acknowledged was lost.
pub(crate) fn assert_none_lost(addr: SocketAddr, acked: &[String]) {
    let mut keeper = Client4::connect(addr, "df-keeper", false);
    let got: Vec<String> = keeper
        .receive(Duration::from_secs(2))
        .iter()
        .map(|p| tag_of(p))
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|t| !got.contains(t)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost: {lost:?} (got {got:?})"
    );
}

pub(crate) fn tag_of(p: &[u8]) -> String {
    String::from_utf8_lossy(p.split(|b| *b == b':').next().unwrap()).into_owned()
}

pub(crate) fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("COURTIER__BROKER__SYS_INTERVAL_SECS", "1"),
        ("COURTIER__LIMITS__MAX_PACKET_SIZE", "1048576"),
    ]
}

#[test]
fn full_disk_refuses_what_it_cannot_store_serves_clean_sessions_and_recovers() {
    let Some(fs) = Tmpfs::mount("20m") else {
        return;
    };
    let data = fs.path().join("data");
    let b = BrokerProcess::start(&data, &[], &env());
    let addr = b.addr;
    // A persistent subscriber, offline: what it is sent must be stored.
    let mut keeper = Client4::connect(addr, "df-keeper", false);
    keeper.subscribe("df/p/#", QoS::AtLeastOnce);
    drop(keeper);
    // A clean subscriber, online throughout.
    let mut clean_sub = Client4::connect(addr, "df-clean-sub", true);
    clean_sub.subscribe("df/c/#", QoS::ExactlyOnce);

    let mut acked = Vec::new();
    let mut publisher = Client4::connect(addr, "df-pub", true);
    for i in 0..5 {
        let p = payload("before", i);
        assert_eq!(
            publisher.publish("df/p/x", p.clone(), QoS::AtLeastOnce, false),
            Outcome::Acked(0)
        );
        acked.push(tag_of(&p));
    }

    let filler = fs.fill();
    // The WAL may still have preallocated room: publish until the store refuses.
    let mut refused = false;
    for i in 0..400 {
        let p = payload("full", i);
        match publisher.publish("df/p/x", p.clone(), QoS::AtLeastOnce, false) {
            Outcome::Acked(_) => acked.push(tag_of(&p)),
            Outcome::Closed => {
                refused = true;
                break;
            }
        }
    }
    assert!(
        refused,
        "a 3.1.1 publish the store cannot keep is not acknowledged"
    );

    // 3.1.1, QoS 1 and 2, for a persistent subscriber: no acknowledgement, connection closed.
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut p = Client4::connect(addr, "df-pub-311", true);
        assert_eq!(
            p.publish("df/p/y", payload("refused", 0), qos, false),
            Outcome::Closed,
            "{qos:?}"
        );
    }
    // 5.0: PUBACK 0x97 "quota exceeded".
    assert_eq!(
        publish5(addr, "df-pub-5", "df/p/z", QoS::AtLeastOnce),
        Outcome::Acked(0x97)
    );
    // A retained QoS 1 message: not acknowledged either.
    let mut r = Client4::connect(addr, "df-retain", true);
    assert_eq!(
        r.publish("df/r/1", b"on".to_vec(), QoS::AtLeastOnce, true),
        Outcome::Closed
    );

    // Clean sessions go on, at every QoS.
    let mut cp = Client4::connect(addr, "df-clean-pub", true);
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            cp.publish("df/c/x", format!("clean-{i}").into_bytes(), qos, false),
            Outcome::Acked(0)
        );
    }
    let got = clean_sub.receive(Duration::from_millis(500));
    assert_eq!(
        got,
        [&b"clean-0"[..], b"clean-1", b"clean-2"],
        "clean delivery"
    );
    // A new clean session connects and works.
    let mut late = Client4::connect(addr, "df-late", true);
    late.subscribe("df/c/#", QoS::AtLeastOnce);
    assert_eq!(
        cp.publish("df/c/y", b"late".to_vec(), QoS::AtLeastOnce, false),
        Outcome::Acked(0)
    );
    assert_eq!(late.receive(Duration::from_millis(500)), [b"late".to_vec()]);

    // Counted, in /metrics and $SYS; logged at ERROR once for the whole episode.
    let errors = b.metric("courtier_store_write_errors_total");
    assert!(errors >= 5, "write errors counted: {errors}");
    std::thread::sleep(Duration::from_millis(1200));
    let sys: u64 = sys_value(addr, "$SYS/broker/store/write_errors")
        .parse()
        .unwrap();
    assert!(sys >= 5, "$SYS/broker/store/write_errors = {sys}");
    let log = b.drain_log();
    let store_errors: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("ERROR") && l.contains("store"))
        .collect();
    assert_eq!(
        store_errors.len(),
        1,
        "one ERROR per episode: {store_errors:#?}"
    );

    // Space returns: writes resume by themselves (no restart).
    std::fs::remove_file(filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    loop {
        let p = payload("after", n);
        let mut again = Client4::connect(addr, "df-pub-again", true);
        match again.publish("df/p/x", p.clone(), QoS::AtLeastOnce, false) {
            Outcome::Acked(_) => {
                acked.push(tag_of(&p));
                break;
            }
            Outcome::Closed => {
                assert!(Instant::now() < deadline, "no recovery within 15 s");
                std::thread::sleep(Duration::from_millis(200));
                n += 1;
            }
        }
    }
    for i in 1..4 {
        let p = payload("after-more", i);
        assert_eq!(
            publisher_after(addr).publish("df/p/x", p.clone(), QoS::AtLeastOnce, false),
            Outcome::Acked(0)
        );
        acked.push(tag_of(&p));
    }
    assert_eq!(
        publish5(addr, "df-pub-5", "df/p/z", QoS::AtLeastOnce),
        Outcome::Acked(0)
    );
    acked.push("v5".into());
    let log = b.drain_log().join("\n");
    assert!(
        log.contains("INFO") && log.contains("store writes again"),
        "{log}"
    );

    // Nothing acknowledged is lost across a restart.
    terminate(b);
    let b = BrokerProcess::start(&data, &[], &env());
    assert_none_lost(b.addr, &acked);
}

fn publisher_after(addr: SocketAddr) -> Client4 {
    Client4::connect(addr, "df-pub-after", true)
}
