//! The helpers of the disk-full tests: a tmpfs to fill, and rumqttc clients (3.1.1 and 5.0)
//! that say what became of one publish.

use rumqttc::{Event, Outgoing, Packet, QoS};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a temporary directory, unmounted when dropped.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn mount(size: &str) -> Option<Tmpfs> {
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

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file until the file system has no byte left; returns its path.
    pub fn fill(&self) -> PathBuf {
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
pub enum Outcome {
    /// PUBACK/PUBREC (QoS 1/2) with this reason (0 for 3.1.1), or sent without complaint (QoS 0).
    Acked(u8),
    /// The broker closed the connection without an acknowledgement.
    Closed,
}

/// A 3.1.1 rumqttc client.
pub struct Client4 {
    client: rumqttc::Client,
    conn: rumqttc::Connection,
}

impl Client4 {
    pub fn connect(addr: SocketAddr, id: &str, clean: bool) -> Client4 {
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
    pub fn publish(&mut self, topic: &str, payload: Vec<u8>, qos: QoS, retain: bool) -> Outcome {
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

    pub fn subscribe(&mut self, filter: &str, qos: QoS) {
        assert!(self.try_subscribe(filter, qos), "no SUBACK for {filter}");
    }

    /// Subscribe: true on a SUBACK, false if the broker closed the connection instead.
    pub fn try_subscribe(&mut self, filter: &str, qos: QoS) -> bool {
        self.client.subscribe(filter, qos).unwrap();
        loop {
            match self.conn.recv_timeout(Duration::from_secs(5)) {
                Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => return true,
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return false,
                Err(e) => panic!("no answer to SUBSCRIBE {filter}: {e:?}"),
            }
        }
    }

    /// Payloads received (acknowledged by rumqttc) until `quiet` passes without one.
    pub fn receive(&mut self, quiet: Duration) -> Vec<Vec<u8>> {
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
pub fn publish5(addr: SocketAddr, id: &str, topic: &str, qos: QoS) -> Outcome {
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
