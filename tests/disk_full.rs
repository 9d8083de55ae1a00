//! A full disk (issue #19, item 4): the real binary with its data folder on a 20 MB tmpfs that a
//! file fills, and real clients (rumqttc). Clean sessions go on; what needs the store is not
//! acknowledged (3.1.1: no PUBACK and the connection closed; 5.0: PUBACK 0x97); the failing
//! store is logged at ERROR once and counted; writes resume by themselves once space returns,
//! and nothing acknowledged is lost across a restart. Needs root (mount); skipped otherwise.

mod common;

use common::process::{terminate, BrokerProcess, BIN};
use rumqttc::{Event, Outgoing, Packet, QoS};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file until the file system has no byte left; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0xA5u8; chunk];
            while f.write_all(&block).is_ok() {}
        }
        let _ = f.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// What became of one publish.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// PUBACK/PUBREC (QoS 1/2) with this reason (0 for 3.1.1), or sent without complaint (QoS 0).
    Acked(u8),
    /// The broker closed the connection without an acknowledgement.
    Closed,
}

/// A 3.1.1 rumqttc client.
struct Client4 {
    client: rumqttc::Client,
    conn: rumqttc::Connection,
}

impl Client4 {
    fn connect(addr: SocketAddr, id: &str, clean: bool) -> Client4 {
        let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", addr.port());
        o.set_clean_session(clean);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut conn) = rumqttc::Client::new(o, 100);
        loop {
            match conn.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => break,
                Ok(Ok(_)) => {}
                other => panic!("{id}: no CONNACK: {other:?}"),
            }
        }
        Client4 { client, conn }
    }

    /// Publish and wait for the acknowledgement (or, for QoS 0, half a second of nothing bad).
    fn publish(&mut self, topic: &str, payload: Vec<u8>, qos: QoS, retain: bool) -> Outcome {
        self.client.publish(topic, qos, retain, payload).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.conn.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubRec(_)))) => {
                    return Outcome::Acked(0)
                }
                Ok(Ok(Event::Outgoing(Outgoing::Publish(_)))) if qos == QoS::AtMostOnce => {
                    return match self.conn.recv_timeout(Duration::from_millis(500)) {
                        Ok(Err(_)) => Outcome::Closed,
                        _ => Outcome::Acked(0),
                    };
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Outcome::Closed,
                Err(e) => panic!("no answer to a publish on {topic} within 10 s: {e:?}"),
            }
        }
    }

    fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.client.subscribe(filter, qos).unwrap();
        loop {
            match self.conn.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => return,
                Ok(Ok(_)) => {}
                other => panic!("no SUBACK for {filter}: {other:?}"),
            }
        }
    }

    /// Payloads received (acknowledged by rumqttc) until `quiet` passes without one.
    fn receive(&mut self, quiet: Duration) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while let Ok(Ok(e)) = self.conn.recv_timeout(quiet) {
            if let Event::Incoming(Packet::Publish(p)) = e {
                got.push(p.payload.to_vec());
            }
        }
        got
    }
}

/// A 5.0 publish: the PUBACK's reason code, or `Closed`.
fn publish5(addr: SocketAddr, id: &str, topic: &str, qos: QoS) -> Outcome {
    use rumqttc::v5::mqttbytes::v5::Packet as P5;
    use rumqttc::v5::mqttbytes::QoS as Q5;
    let mut o = rumqttc::v5::MqttOptions::new(id, "127.0.0.1", addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = rumqttc::v5::Client::new(o, 10);
    let q = match qos {
        QoS::AtMostOnce => Q5::AtMostOnce,
        QoS::AtLeastOnce => Q5::AtLeastOnce,
        QoS::ExactlyOnce => Q5::ExactlyOnce,
    };
    client.publish(topic, q, false, b"v5".to_vec()).unwrap();
    loop {
        match conn.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(rumqttc::v5::Event::Incoming(P5::PubAck(a)))) => {
                return Outcome::Acked(puback_code(&a.reason))
            }
            Ok(Ok(rumqttc::v5::Event::Incoming(P5::PubRec(a)))) => {
                return Outcome::Acked(if format!("{:?}", a.reason) == "QuotaExceeded" {
                    0x97
                } else {
                    0
                })
            }
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return Outcome::Closed,
            Err(e) => panic!("5.0: no answer within 10 s: {e:?}"),
        }
    }
}

fn puback_code(r: &rumqttc::v5::mqttbytes::v5::PubAckReason) -> u8 {
    use rumqttc::v5::mqttbytes::v5::PubAckReason as R;
    match r {
        R::Success => 0,
        R::NoMatchingSubscribers => 0x10,
        R::QuotaExceeded => 0x97,
        _ => 0x80,
    }
}

fn http_addr(b: &BrokerProcess) -> SocketAddr {
    b.startup_log
        .iter()
        .find_map(|l| l.split("listening for HTTP on ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .expect("the HTTP listener's address in the log")
}

fn metric(b: &BrokerProcess, name: &str) -> u64 {
    let body = common::http::get(http_addr(b), "/metrics").body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// The retained value of a `$SYS` topic, as a new subscriber gets it.
fn sys_value(addr: SocketAddr, topic: &str) -> String {
    let mut c = Client4::connect(addr, "df-sys", true);
    c.subscribe(topic, QoS::AtMostOnce);
    let got = c.receive(Duration::from_millis(500));
    String::from_utf8(got.last().cloned().expect("a retained $SYS value")).unwrap()
}

const PAYLOAD: usize = 64 * 1024;

fn payload(tag: &str, i: usize) -> Vec<u8> {
    let mut p = format!("{tag}-{i}:").into_bytes();
    p.resize(PAYLOAD, b'.');
    p
}

fn tag_of(p: &[u8]) -> String {
    String::from_utf8_lossy(p.split(|b| *b == b':').next().unwrap()).into_owned()
}

fn env() -> Vec<(&'static str, &'static str)> {
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
    let errors = metric(&b, "courtier_store_write_errors_total");
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
    let mut keeper = Client4::connect(b.addr, "df-keeper", false);
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

fn publisher_after(addr: SocketAddr) -> Client4 {
    Client4::connect(addr, "df-pub-after", true)
}

#[test]
fn start_on_a_full_disk_is_a_clear_error_not_an_abort() {
    let Some(fs) = Tmpfs::mount("20m") else {
        return;
    };
    let data = fs.path().join("data");
    {
        let b = BrokerProcess::start(&data, &[], &[]);
        terminate(b);
    }
    let filler = fs.fill();
    let out = Command::new(BIN)
        .args(["-p", "0", "--data-dir"])
        .arg(&data)
        .env("COURTIER__HTTP__PORT", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "exit 1, no signal: {err}");
    assert!(
        err.contains("bytes free") && err.contains("free some space"),
        "{err}"
    );
    // With space again it starts.
    std::fs::remove_file(filler).unwrap();
    let b = BrokerProcess::start(&data, &[], &[]);
    let mut c = Client4::connect(b.addr, "df-after-start", false);
    c.subscribe("x/#", QoS::AtLeastOnce);
}
