//! The real `courtier` binary: start-up on the embedded defaults, configuration errors, and
//! shutdown on SIGTERM/SIGINT (issue #2 items 10 and 12).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_courtier");

/// Start the binary on port 0 and read the bound address from its log.
fn spawn(args: &[&str]) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(BIN)
        .args(["-p", "0"])
        .args(args)
        .env("RUST_LOG", "info")
        .env("COURTIER__HTTP__PORT", "0")
        // These tests are about the process, not the store (see crash.rs for that).
        .env("COURTIER__PERSISTENCE__ENABLED", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run courtier");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("courtier exited before listening")
            .unwrap();
        if let Some(rest) = line.split("listening for MQTT on ").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep draining the log so the broker never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn wait_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

fn mqtt_connect(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // CONNECT 3.1.1, clean session, keep-alive 60, client id "bin".
    use std::io::Write;
    s.write_all(&[
        0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 3, b'b', b'i', b'n',
    ])
    .unwrap();
    let mut connack = [0u8; 4];
    s.read_exact(&mut connack).unwrap();
    assert_eq!(connack, [0x20, 2, 0, 0]);
    s
}

#[test]
fn sigterm_closes_clients_and_exits_zero_within_the_deadline() {
    let (mut child, addr) = spawn(&[]);
    let mut client = mqtt_connect(addr);
    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits within 10 s");
    assert!(status.success(), "exit status {status:?}");
    let mut buf = [0u8; 1];
    assert_eq!(
        client.read(&mut buf).unwrap_or(0),
        0,
        "client connection closed"
    );
}

#[test]
fn sigint_stops_the_broker_too() {
    let (mut child, _addr) = spawn(&[]);
    signal(&child, "-INT");
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits within 10 s");
    assert!(status.success());
}

#[test]
fn unknown_key_in_a_config_file_stops_start_up_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("10-local.toml");
    std::fs::write(&file, "[limits]\nmax_qeued_messages = 10\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config-dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("10-local.toml"), "{err}");
    assert!(err.contains("limits.max_qeued_messages"), "{err}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN).args(["-p", &port]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on 127.0.0.1:") && err.contains("in use"),
        "{err}"
    );
}

#[test]
fn environment_overrides_apply() {
    let out = Command::new(BIN)
        .arg("--check-config")
        .env("COURTIER__LIMITS__MAX_QUEUED_MESSAGES", "77")
        .output()
        .unwrap();
    assert!(out.status.success());
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(toml.contains("max_queued_messages = 77"), "{toml}");
}

/// SIGHUP, which Mosquitto users send to reload (`docker kill -s HUP`), does not stop the
/// broker: its clients stay connected and new ones are accepted; SIGTERM still stops it.
#[test]
fn sighup_does_not_stop_the_broker() {
    let (mut child, addr) = spawn(&[]);
    let mut client = mqtt_connect(addr);
    signal(&child, "-HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the broker exited on SIGHUP"
    );
    use std::io::Write;
    client.write_all(&[0xC0, 0]).unwrap(); // PINGREQ
    let mut pong = [0u8; 2];
    client.read_exact(&mut pong).unwrap();
    assert_eq!(pong, [0xD0, 0]);
    let _again = mqtt_connect(addr);
    signal(&child, "-TERM");
    let status = wait_exit(&mut child, Duration::from_secs(10)).expect("exits within 10 s");
    assert!(status.success(), "exit status {status:?}");
}
