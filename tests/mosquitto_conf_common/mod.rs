//! Helpers for the mosquitto.conf tests (tests/mosquitto_conf*.rs): the fixtures with their
//! placeholders filled in, the real binary started on a file, real clients' answers, and
//! Debian's mosquitto on the same file.
#![allow(dead_code)]

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_courtier");
pub const FIXTURES: &str = "tests/fixtures/mosquitto";
pub const PASSWD: &str = "tests/fixtures/mosquitto_passwd/passwd";
pub const ACL: &str = "user alice\ntopic readwrite home/#\nuser bob\ntopic read home/#\n";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fixture copied into `dir` with its placeholders (MQTT_PORT, WS_PORT, DATA, PASSWD, ACL)
/// replaced; returns the copy's path.
pub fn fixture(name: &str, dir: &Path, ports: &[(&str, u16)]) -> PathBuf {
    let mut text = std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap();
    for (k, port) in ports {
        text = text.replace(k, &port.to_string());
    }
    let passwd = dir.join("passwd");
    let acl = dir.join("acl");
    std::fs::copy(PASSWD, &passwd).unwrap();
    std::fs::write(&acl, ACL).unwrap();
    text = text
        .replace("DATA", dir.join("data").to_str().unwrap())
        .replace("PASSWD", passwd.to_str().unwrap())
        .replace("ACL", acl.to_str().unwrap());
    let out = dir.join(Path::new(name).file_name().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

pub struct Courtier {
    pub child: Child,
    /// (address, transport) of each listener, from the log.
    pub listeners: Vec<(SocketAddr, String)>,
    /// The lines logged up to the last listener.
    pub startup: Vec<String>,
}

impl Drop for Courtier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with `args`, in `cwd`, until it logs `listeners` listening lines.
pub fn courtier(cwd: &Path, args: &[&str], listeners: usize) -> Courtier {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, log) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut found = Vec::new();
    let mut seen = Vec::new();
    while found.len() < listeners {
        let line = log
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("courtier did not listen ({e}): {seen:#?}"));
        if let Some(rest) = line.split("listening for MQTT").nth(1) {
            let rest = rest.trim_start_matches(" over WebSocket");
            let mut words = rest.trim_start_matches(" on ").split_whitespace();
            let addr = words.next().unwrap().parse().unwrap();
            found.push((addr, words.next().unwrap_or("").to_owned()));
        }
        seen.push(line);
    }
    // Keep draining the log so the broker never blocks on a full pipe.
    std::thread::spawn(move || for _ in log {});
    Courtier {
        child,
        listeners: found,
        startup: seen,
    }
}

pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CONNACK return code for a 3.1.1 CONNECT with these credentials.
pub fn connack(addr: SocketAddr, user: Option<&str>, password: Option<&str>) -> u8 {
    let mut c = Connect::v311(&unique("mc"));
    c.username = user.map(Into::into);
    c.password = password.map(|p| p.as_bytes().to_vec());
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    assert_eq!(first, 0x20);
    body[1]
}

/// What a subscriber with these credentials receives on `topic` after a retained publish by
/// `publisher`, as rumqttc sees it.
pub fn retained_seen(addr: SocketAddr, user: &str, password: &str, topic: &str) -> Option<Vec<u8>> {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(unique("rs"), addr.ip().to_string(), addr.port());
    opts.set_credentials(user, password);
    let (client, mut conn) = Client::new(opts, 10);
    client.subscribe(topic, QoS::AtLeastOnce).unwrap();
    for event in conn.recv_timeout(Duration::from_secs(5)).into_iter() {
        if let Ok(Event::Incoming(Packet::ConnAck(_))) = event {
            break;
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => return Some(p.payload.to_vec()),
            Ok(Err(e)) => panic!("connection: {e}"),
            _ => {}
        }
    }
    None
}

pub fn publish_retained(addr: SocketAddr, user: &str, password: &str, topic: &str, payload: &str) {
    use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(unique("rp"), addr.ip().to_string(), addr.port());
    opts.set_credentials(user, password);
    let (client, mut conn) = Client::new(opts, 10);
    client
        .publish(topic, QoS::AtLeastOnce, true, payload)
        .unwrap();
    for event in conn.iter() {
        if let Event::Incoming(Packet::PubAck(_)) = event.expect("connected") {
            break;
        }
    }
}

/// Runs Debian's mosquitto on `file` until `addr` answers, calls `f`, and stops it; `None`
/// when mosquitto is not installed (`scripts/install-prereqs.sh` does not install the broker).
pub fn with_mosquitto<T>(file: &Path, addr: SocketAddr, f: impl FnOnce() -> T) -> Option<T> {
    let Ok(mosquitto) = which("mosquitto") else {
        eprintln!("mosquitto not installed: comparison skipped");
        return None;
    };
    let mut m = Command::new(mosquitto)
        .args(["-c", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "mosquitto did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = f();
    let _ = m.kill();
    let _ = m.wait();
    Some(out)
}

pub fn which(name: &str) -> Result<PathBuf, ()> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// What Debian's mosquitto says when it refuses `file` (exits within 10 s, not zero):
/// `Some(Some(log))`; `Some(None)` when it starts instead; `None` when it is not installed.
pub fn mosquitto_refuses(file: &Path) -> Option<Option<String>> {
    let Ok(mosquitto) = which("mosquitto") else {
        eprintln!("mosquitto not installed: comparison skipped");
        return None;
    };
    let mut m = Command::new(mosquitto)
        .args(["-c", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Some(status) = m.try_wait().unwrap() {
            let out = m.wait_with_output().unwrap();
            let log = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(!status.success(), "mosquitto exited 0: {log}");
            return Some(Some(log));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = m.kill();
    let _ = m.wait();
    Some(None)
}

/// Writes `text` to `dir/name` with PORT_A, PORT_B, PASSWD and ACL replaced (the files
/// [`fixture`] also writes); returns the path.
pub fn conf_file(dir: &Path, name: &str, text: &str, ports: [u16; 2]) -> PathBuf {
    let passwd = dir.join("passwd");
    let acl = dir.join("acl");
    std::fs::copy(PASSWD, &passwd).unwrap();
    std::fs::write(&acl, ACL).unwrap();
    let text = text
        .replace("PORT_A", &ports[0].to_string())
        .replace("PORT_B", &ports[1].to_string())
        .replace("PASSWD", passwd.to_str().unwrap())
        .replace("ACL", acl.to_str().unwrap());
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
