//! A damaged write-ahead log is reported, not silent (issue #19, item 5): the real binary is
//! killed with 2,000 queued and 50 retained messages in its WAL, the WAL is cut to half or gets
//! 64 garbage bytes, and the broker restarts: it recovers what precedes the damage, says so at
//! ERROR (with what was dropped and what remains), keeps a copy of the damaged log beside the
//! store (`store.wal-corrupt-<unix time>`), counts it in `$SYS` and /metrics, and serves.

mod common;

use common::process::BrokerProcess;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const QUEUED: usize = 2_000;
const RETAINED: usize = 50;

/// Publish QoS 1 messages, a window at a time, and expect every PUBACK.
fn publish_acked(c: &mut RawClient, topic: impl Fn(usize) -> String, n: usize, retain: bool) {
    let ids: Vec<usize> = (0..n).collect();
    for chunk in ids.chunks(100) {
        let mut bytes = Vec::new();
        for &i in chunk {
            let payload = format!("{i}");
            bytes.extend(publish(
                topic(i),
                payload.as_bytes(),
                1,
                retain,
                false,
                (i + 1) as u16,
            ));
        }
        c.send(&bytes);
        for _ in chunk {
            assert_eq!(c.read_packet().0, 0x40, "PUBACK");
        }
    }
}

/// A store with `QUEUED` messages queued for an offline persistent session and `RETAINED`
/// retained messages, all still in the WAL: the broker is killed (-9) right after.
fn killed_with_a_full_wal(dir: &Path) {
    let b = BrokerProcess::start(dir, &[], &[]);
    let (mut s, _) = RawClient::handshake(b.addr, "wal-keeper", false);
    s.send(&subscribe(1, &[("wal/q/#", 1)]));
    assert_eq!(s.read_packet().0, 0x90, "SUBACK");
    s.send(&[0xe0, 0]);
    let mut p = RawClient::connected(b.addr, "wal-pub");
    publish_acked(&mut p, |i| format!("wal/q/{}", i % 10), QUEUED, false);
    publish_acked(&mut p, |i| format!("wal/r/{i}"), RETAINED, true);
    b.kill9();
}

fn wal_files(store: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// The largest WAL file (the one holding the messages).
fn main_wal(store: &Path) -> PathBuf {
    wal_files(store)
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .expect("a WAL file")
}

/// Restart on the damaged store and check the report; returns (queued, retained) recovered.
fn restart_and_check(dir: &Path, damaged: &[u8], how: &str) -> (usize, usize) {
    let b = BrokerProcess::start(dir, &[], &[("COURTIER__BROKER__SYS_INTERVAL_SECS", "1")]);
    let log = b.startup_log.join("\n");
    let line = b
        .startup_log
        .iter()
        .find(|l| l.contains("ERROR") && l.contains("write-ahead log is damaged"))
        .unwrap_or_else(|| panic!("{how}: no ERROR about the WAL:\n{log}"));
    assert!(line.contains("dropped"), "{line}");
    let number_before = |what: &str| -> usize {
        let at = line.find(what).unwrap_or_else(|| panic!("{what}: {line}"));
        line[..at]
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (queued, retained) = (
        number_before(" queued messages"),
        number_before(" retained"),
    );
    eprintln!("{how}: {line}");
    // A copy of the damaged log beside the store, named like a store set aside.
    let copies: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("store.wal-corrupt-")
        })
        .collect();
    assert_eq!(copies.len(), 1, "{how}: one copy: {copies:?}");
    let copied: Vec<Vec<u8>> = wal_files(&copies[0])
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(
        copied.iter().any(|c| c == damaged),
        "{how}: the copy holds the damaged log"
    );
    assert!(log.contains(&copies[0].display().to_string()), "{line}");
    // Counted.
    assert_eq!(b.metric("courtier_store_wal_corruptions_total"), 1);
    assert_eq!(
        b.metric("courtier_store_corruptions_total"),
        0,
        "store kept"
    );
    std::thread::sleep(Duration::from_millis(1200));
    let (mut sys, _) = RawClient::handshake(b.addr, "wal-sys", true);
    sys.send(&subscribe(1, &[("$SYS/broker/store/wal_corruptions", 0)]));
    assert_eq!(sys.read_packet().0, 0x90);
    let (first, body) = sys.read_packet();
    let m = Publish::parse(first, &body).expect("the retained $SYS value");
    assert_eq!(m.payload, b"1", "$SYS/broker/store/wal_corruptions");
    // It serves: the recovered queue is delivered, and new messages flow.
    let (mut k, present) = RawClient::handshake(b.addr, "wal-keeper", false);
    assert!(present, "the persistent session was recovered");
    let mut got = 0;
    while got < queued {
        let (first, body) = k
            .try_read_packet(Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("{how}: after {got} of {queued}: {e:?}"));
        let p = Publish::parse(first, &body).unwrap();
        k.send(&puback(p.packet_id.unwrap()));
        got += 1;
    }
    let mut p = RawClient::connected(b.addr, "wal-pub-after");
    p.send(&publish("wal/q/new", b"new", 1, false, false, 1));
    assert_eq!(p.read_packet().0, 0x40);
    let (first, body) = k.read_packet();
    assert_eq!(Publish::parse(first, &body).unwrap().payload, b"new");
    (queued, retained)
}

#[test]
fn wal_cut_to_half_is_reported_copied_counted_and_the_broker_serves() {
    let dir = tempfile::tempdir().unwrap();
    killed_with_a_full_wal(dir.path());
    let wal = main_wal(&dir.path().join("store"));
    let len = std::fs::metadata(&wal).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let damaged = std::fs::read(&wal).unwrap();
    let (queued, retained) = restart_and_check(dir.path(), &damaged, "WAL cut to half");
    assert!(queued < QUEUED, "{queued} of {QUEUED} queued recovered");
    assert!(
        retained < RETAINED,
        "{retained} of {RETAINED} retained recovered"
    );
}

#[test]
fn garbage_in_the_wal_is_reported_copied_counted_and_the_broker_serves() {
    let dir = tempfile::tempdir().unwrap();
    killed_with_a_full_wal(dir.path());
    let wal = main_wal(&dir.path().join("store"));
    let mut bytes = std::fs::read(&wal).unwrap();
    let at = bytes.len() / 3;
    for (i, b) in bytes[at..at + 64].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5A;
    }
    std::fs::write(&wal, &bytes).unwrap();
    let (queued, retained) = restart_and_check(dir.path(), &bytes, "64 garbage bytes");
    assert!(queued < QUEUED, "{queued} of {QUEUED} queued recovered");
    assert!(
        retained < RETAINED,
        "{retained} of {RETAINED} retained recovered"
    );
}

#[test]
fn kill_9_alone_is_not_reported_as_damage() {
    let dir = tempfile::tempdir().unwrap();
    killed_with_a_full_wal(dir.path());
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let log = b.startup_log.join("\n");
    assert!(!log.contains("write-ahead log is damaged"), "{log}");
    assert!(
        log.contains(&format!("{RETAINED} retained messages")),
        "all retained messages restored: {log}"
    );
    assert_eq!(b.metric("courtier_store_wal_corruptions_total"), 0);
}
