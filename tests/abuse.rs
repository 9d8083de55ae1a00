//! Bounded under abuse (issue #19 items 3 and 6), against the real broker binary: hostile sizes
//! are refused with the code of the client's version, and the broker's memory does not keep
//! what they made it hold. The rounds of thousands of connections are scripts/abuse-rounds.sh
//! (figures in docs/LIMITS.md).

mod common;

use common::process::BrokerProcess;
use common::v5::{parse_disconnect, publish5, subscribe5, Connect5};
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

const CLOSE: Duration = Duration::from_secs(5);

fn rss_kb(b: &BrokerProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", b.child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// RSS after the broker had `settle` to give memory back (mimalloc purges freed pages after a
/// delay).
fn settled_rss_kb(b: &BrokerProcess, settle: Duration) -> u64 {
    std::thread::sleep(settle);
    rss_kb(b)
}

/// The first bytes of a CONNECT announcing `remaining` bytes: its fixed header, the protocol
/// name and the protocol level, and nothing more.
fn connect_head(remaining: usize, level: u8) -> Vec<u8> {
    let mut b = vec![0x10];
    b.extend(encode_remaining_length(remaining));
    b.extend([0, 4, b'M', b'Q', b'T', b'T', level]);
    b
}

#[test]
fn mqtt_3_2_2_connect_announcing_256_mb_is_refused_from_its_fixed_header() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    // 5.0: CONNACK 0x95 Packet too large, then the close; the body is never waited for.
    let mut c = RawClient::connect(b.addr);
    c.send(&connect_head(268_435_455, 5));
    let started = Instant::now();
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, &got[0].1[..2]), (0x20, &[0x00, 0x95][..]), "5.0");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "refused at once"
    );
    // 3.1.1 has no code for it: the connection is closed without CONNACK.
    let mut c = RawClient::connect(b.addr);
    c.send(&connect_head(268_435_455, 4));
    assert!(c.expect_closed_after_packets(CLOSE).is_empty(), "3.1.1");

    // Eight connections announcing 16 MB each and sending 1 MB of it: nothing is buffered.
    let before = rss_kb(&b);
    let junk = vec![0x5a; 1 << 20];
    let clients: Vec<RawClient> = (0..8)
        .map(|_| {
            let mut c = RawClient::connect(b.addr);
            c.send(&connect_head(16 << 20, 4));
            let _ = c.stream().write_all(&junk);
            c
        })
        .collect();
    let during = rss_kb(&b);
    drop(clients);
    assert!(
        during < before + 16 * 1024,
        "RSS grew from {before} kB to {during} kB"
    );
}

#[test]
fn a_65535_byte_client_id_is_refused_by_max_connect_packet_size() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let id = "c".repeat(65_535);
    let mut c = RawClient::connect(b.addr);
    c.send_lossy(&Connect::v311(&id).to_bytes());
    assert!(
        c.expect_closed_after_packets(CLOSE).is_empty(),
        "3.1.1: closed"
    );
    let mut c = RawClient::connect(b.addr);
    c.send_lossy(&Connect5::new(&id).to_bytes());
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0, &got[0].1[..2]), (0x20, &[0x00, 0x95][..]), "5.0");
    // Within the limit, a long client id is accepted.
    let (_c, _) = RawClient::handshake(b.addr, &"d".repeat(60_000), true);
}

#[test]
fn large_packets_after_connect_are_given_back() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let payload = vec![0x42; 16 << 20];
    // Warm up: threads, pools and the first connections cost what they cost once.
    for i in 0..4 {
        let mut c = RawClient::connected(b.addr, &format!("warm-{i}"));
        c.send(&publish("big/warm", b"x", 0, false, false, 0));
        c.send(&pingreq());
        c.expect_hex("d0 00");
        c.send(&disconnect());
        c.expect_closed(CLOSE);
    }
    let before = settled_rss_kb(&b, Duration::from_secs(1));
    let mut peak = 0;
    for round in 0..2 {
        let mut clients: Vec<RawClient> = (0..8)
            .map(|i| RawClient::connected(b.addr, &format!("big-{round}-{i}")))
            .collect();
        for c in clients.iter_mut() {
            c.send(&publish("big/t", &payload, 0, false, false, 0));
        }
        for c in clients.iter_mut() {
            c.send(&pingreq());
            c.try_read_packet(Duration::from_secs(60))
                .expect("PINGRESP");
        }
        peak = peak.max(rss_kb(&b));
        for mut c in clients {
            c.send(&disconnect());
            c.expect_closed(CLOSE);
        }
    }
    let after = settled_rss_kb(&b, Duration::from_secs(2));
    assert!(
        after < before + 24 * 1024,
        "8 x 16 MB packets: RSS {before} kB before, {peak} kB at the peak, {after} kB after"
    );
}

#[test]
fn subscriptions_beyond_max_subscriptions_per_client_get_quota_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let limit = ("COURTIER__LIMITS__MAX_SUBSCRIPTIONS_PER_CLIENT", "1000");
    let b = BrokerProcess::start(dir.path(), &[], &[limit]);
    let names: Vec<String> = (0..1500).map(|i| format!("subs/{i}")).collect();
    let filters = |r: std::ops::Range<usize>| -> Vec<(&str, u8)> {
        names[r].iter().map(|n| (n.as_str(), 1)).collect()
    };
    // 5.0: granted up to the limit, then 0x97 Quota exceeded [MQTT-3.9.3].
    let (mut c, _) = common::v5::connect5(b.addr, &Connect5::new("subs5"));
    let mut codes = Vec::new();
    for (pkid, r) in [(1, 0..600), (2, 600..1200), (3, 1200..1500)] {
        c.send(&subscribe5(pkid, &filters(r), &[]));
        let (first, body) = c.read_packet();
        assert_eq!(first, 0x90);
        codes.extend_from_slice(&body[3..]); // packet id, empty properties
    }
    assert!(codes[..1000].iter().all(|&c| c == 1), "first 1000 granted");
    assert!(codes[1000..].iter().all(|&c| c == 0x97), "the rest 0x97");
    // A filter the session holds is replaced, not refused; a new one still is.
    c.send(&subscribe5(4, &[("subs/5", 0), ("subs/new", 0)], &[]));
    let (_, body) = c.read_packet();
    assert_eq!(&body[3..], &[0x00, 0x97]);
    // Unsubscribing makes room.
    c.send(&common::v5::unsubscribe5(5, &["subs/6"]));
    c.read_packet();
    c.send(&subscribe5(6, &[("subs/new", 0)], &[]));
    let (_, body) = c.read_packet();
    assert_eq!(&body[3..], &[0x00]);

    // 3.1.1: 0x80 Failure.
    let mut c = RawClient::connected(b.addr, "subs3");
    let granted = c.subscribe(1, &filters(0..1000));
    assert!(granted.iter().all(|&c| c == 1));
    assert_eq!(c.subscribe(2, &filters(1000..1002)), vec![0x80, 0x80]);
}

#[test]
fn a_topic_of_10000_levels_is_refused_for_publish_and_subscribe() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let deep = vec!["l"; 10_000].join("/");
    let at_limit = vec!["l"; 128].join("/");

    // SUBSCRIBE: 5.0 0x8F Topic Filter invalid, 3.1.1 0x80; 128 levels are granted.
    let (mut c5, _) = common::v5::connect5(b.addr, &Connect5::new("deep5"));
    c5.send(&subscribe5(1, &[(&deep, 0), (&at_limit, 0)], &[]));
    let (first, body) = c5.read_packet();
    assert_eq!((first, &body[3..]), (0x90, &[0x8f, 0x00][..]));
    let mut c3 = RawClient::connected(b.addr, "deep3");
    assert_eq!(
        c3.subscribe(1, &[(&deep, 0), (&at_limit, 0)]),
        vec![0x80, 0x00]
    );

    // PUBLISH to 128 levels is delivered; to 10,000 levels: 5.0 DISCONNECT 0x90 Topic Name
    // invalid, 3.1.1 the connection closed.
    c3.send(&publish(&at_limit, b"ok", 0, false, false, 0));
    assert_eq!(c3.recv_publish().payload, b"ok");
    c5.read_packet(); // the same message, to the 5.0 subscriber
    c5.send(&publish5(&deep, b"no", 0, false, 0, &[]));
    let got = c5.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x90);
    c3.send(&publish(&deep, b"no", 0, false, false, 0));
    assert!(c3.expect_closed_after_packets(CLOSE).is_empty());
}

#[test]
fn rocksdb_write_buffers_have_a_global_cap() {
    let options = |dir: &std::path::Path| -> String {
        let store = dir.join("store");
        let f = std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("OPTIONS-")
            })
            .max()
            .expect("RocksDB wrote an OPTIONS file");
        std::fs::read_to_string(f).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    assert!(options(dir.path()).contains("db_write_buffer_size=33554432"));
    drop(b);
    let dir = tempfile::tempdir().unwrap();
    let cap = ("COURTIER__PERSISTENCE__WRITE_BUFFER_CAP_MB", "8");
    let _b = BrokerProcess::start(dir.path(), &[], &[cap]);
    assert!(options(dir.path()).contains("db_write_buffer_size=8388608"));
}
