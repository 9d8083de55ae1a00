//! `courtier --mosquitto-conf FILE` on the real-world files in tests/fixtures/mosquitto/ (issue
//! #17 item 1): the real binary, real clients, and where it can, Debian's mosquitto on the same
//! file for comparison. Listeners, passwords, ACLs and persistence must behave as the file says.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_courtier");
const FIXTURES: &str = "tests/fixtures/mosquitto";
const PASSWD: &str = "tests/fixtures/mosquitto_passwd/passwd";
const ACL: &str = "user alice\ntopic readwrite home/#\nuser bob\ntopic read home/#\n";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fixture copied into `dir` with its placeholders (MQTT_PORT, WS_PORT, DATA, PASSWD, ACL)
/// replaced; returns the copy's path.
fn fixture(name: &str, dir: &Path, ports: &[(&str, u16)]) -> PathBuf {
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

struct Courtier {
    child: Child,
    /// (address, transport) of each listener, from the log.
    listeners: Vec<(SocketAddr, String)>,
    /// The lines logged up to the last listener.
    startup: Vec<String>,
}

impl Drop for Courtier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary with `args`, in `cwd`, until it logs `listeners` listening lines.
fn courtier(cwd: &Path, args: &[&str], listeners: usize) -> Courtier {
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

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CONNACK return code for a 3.1.1 CONNECT with these credentials.
fn connack(addr: SocketAddr, user: Option<&str>, password: Option<&str>) -> u8 {
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
fn retained_seen(addr: SocketAddr, user: &str, password: &str, topic: &str) -> Option<Vec<u8>> {
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

fn publish_retained(addr: SocketAddr, user: &str, password: &str, topic: &str, payload: &str) {
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

#[test]
fn eclipse_mosquitto_no_auth_conf_listens_on_all_interfaces_and_lets_anyone_in() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = std::fs::read_to_string(Path::new(FIXTURES).join("eclipse-mosquitto-no-auth.conf"))
        .unwrap()
        .replace("1883", &port.to_string());
    let file = dir.path().join("mosquitto.conf");
    std::fs::write(&file, conf).unwrap();
    let b = courtier(dir.path(), &["--mosquitto-conf", file.to_str().unwrap()], 1);
    assert_eq!(b.listeners[0].0.to_string(), format!("0.0.0.0:{port}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    assert_eq!(connack(addr, None, None), 0);
    // persistence is off in the file (Mosquitto's default): nothing written to disk.
    publish_retained(addr, "any", "thing", "t/r", "x");
    assert!(!dir.path().join("data").exists());
    drop(b);
}

#[test]
fn eclipse_mosquitto_default_conf_listens_on_localhost_only_with_anonymous_clients() {
    // Every line of the image's default file is a comment: Mosquitto 2's local-only mode.
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new(FIXTURES).join("eclipse-mosquitto-default.conf");
    let file = std::fs::canonicalize(file).unwrap();
    let port = free_port().to_string();
    let b = courtier(
        dir.path(),
        &["--mosquitto-conf", file.to_str().unwrap(), "-p", &port],
        1,
    );
    assert_eq!(b.listeners[0].0.to_string(), format!("127.0.0.1:{port}"));
    assert_eq!(connack(b.listeners[0].0, None, None), 0);
}

#[test]
fn home_assistant_addon_conf_as_generated_is_refused_at_the_plugin_line() {
    let (code, _, err) = run(&[
        "--mosquitto-conf",
        &format!("{FIXTURES}/ha-addon.conf"),
        "--check-config",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ha-addon.conf:26: auth_plugin: plugins are not supported")
            && err.contains("password_file and acl_file"),
        "{err}"
    );
}

#[test]
fn bridge_conf_becomes_a_bridges_table() {
    let (code, out, err) = run(&["convert-mosquitto-conf", &format!("{FIXTURES}/bridge.conf")]);
    assert_eq!(code, 0, "{err}");
    let table: toml::Table = toml::from_str(&out).unwrap();
    let b = &table["bridges"].as_array().unwrap()[0];
    assert_eq!(b["name"].as_str(), Some("cloud-bridge"), "{out}");
    assert_eq!(b["addresses"][0].as_str(), Some("mqtt.example.org:8883"));
    assert_eq!(b["topics"][0]["remote_prefix"].as_str(), Some("site-a/"));
    assert_eq!(b["topics"][1]["direction"].as_str(), Some("in"));
    assert_eq!(b["cafile"].as_str(), Some("/mosquitto/config/ca.crt"));
}

/// The add-on's file after migration: two listeners (MQTT and WebSocket), password and ACL
/// files, persistence in a folder of its own.
#[test]
fn home_assistant_addon_conf_migrated_keeps_passwords_acls_and_retained_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (mqtt, ws) = (free_port(), free_port());
    let file = fixture(
        "ha-addon-migrated.conf",
        dir.path(),
        &[("MQTT_PORT", mqtt), ("WS_PORT", ws)],
    );
    let args = ["--mosquitto-conf", file.to_str().unwrap()];
    let b = courtier(dir.path(), &args, 2);
    let mut transports: Vec<&str> = b.listeners.iter().map(|(_, t)| t.as_str()).collect();
    transports.sort();
    assert_eq!(transports, ["(tcp)", "(websocket;"], "{:?}", b.listeners);
    let addr: SocketAddr = format!("127.0.0.1:{mqtt}").parse().unwrap();
    // Mosquitto 2: no allow_anonymous line and a listener -> anonymous clients refused.
    assert_eq!(connack(addr, None, None), 5);
    assert_eq!(connack(addr, Some("alice"), Some("wrong")), 5);
    assert_eq!(connack(addr, Some("alice"), Some("alice-secret")), 0);
    // ACL: alice may write home/#, bob may only read it.
    publish_retained(addr, "alice", "alice-secret", "home/door", "open");
    publish_retained(addr, "bob", "b0b pass", "home/window", "bob wrote this");
    assert_eq!(
        retained_seen(addr, "bob", "b0b pass", "home/#").as_deref(),
        Some(&b"open"[..])
    );
    drop(b);
    // persistence true, persistence_location DATA/: the store is DATA/courtier.
    assert!(dir.path().join("data/courtier").is_dir());
    let b = courtier(dir.path(), &args, 2);
    assert_eq!(
        retained_seen(addr, "bob", "b0b pass", "home/door").as_deref(),
        Some(&b"open"[..])
    );
    // The add-on's `user root` and `log_timestamp_format` are logged as ignored, with lines.
    let log = &b.startup;
    assert!(
        log.iter()
            .any(|l| l.contains("ha-addon-migrated.conf:5: user: ignored")),
        "{log:#?}"
    );
}

#[test]
fn include_dir_files_are_read_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    for name in ["10-listener.conf", "20-security.conf", "README.txt"] {
        let copy = fixture(
            &format!("include/conf.d/{name}"),
            dir.path(),
            &[("MQTT_PORT", port)],
        );
        std::fs::rename(copy, conf_d.join(name)).unwrap();
    }
    let main = fixture("include/mosquitto.conf", dir.path(), &[]);
    let text = std::fs::read_to_string(&main).unwrap().replace(
        "tests/fixtures/mosquitto/include/conf.d",
        conf_d.to_str().unwrap(),
    );
    std::fs::write(&main, text).unwrap();
    let b = courtier(dir.path(), &["--mosquitto-conf", main.to_str().unwrap()], 1);
    assert_eq!(b.listeners[0].0.to_string(), format!("127.0.0.1:{port}"));
    let addr = b.listeners[0].0;
    assert_eq!(connack(addr, None, None), 5);
    assert_eq!(connack(addr, Some("bob"), Some("b0b pass")), 0);
    drop(b);
    // The README.txt beside the .conf files is not read: a line of it would be an error.
    let (code, out, err) = run(&["--mosquitto-conf", main.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("allow_anonymous = false"), "{out}");
}

#[test]
fn check_config_and_convert_name_file_line_and_key_of_what_cannot_be_used() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mosquitto.conf");
    let cases = [
        (
            "listener 1883\nallow_anonymus true\n",
            ":2: allow_anonymus: unknown key",
        ),
        (
            "listener 1883\ncapath /etc/ssl/certs\n",
            ":2: capath: not supported: put the CA",
        ),
        (
            "retain_available no\n",
            ":1: retain_available: invalid value",
        ),
        (
            "listener 1883\nmax_inflight_messages lots\n",
            ":2: max_inflight_messages: invalid value",
        ),
        (
            "include_dir /nonexistent/conf.d\n",
            ":1: include_dir: cannot read directory",
        ),
        (
            "per_listener_settings true\nlistener 1883\nallow_anonymous true\nlistener 1884\n",
            ":4: per_listener_settings: this listener's allow_anonymous (false) differs",
        ),
        (
            "listener 8883\ncertfile /c.pem\nrequire_certificate true\n",
            ":1: listener:",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(&file, text).unwrap();
        for args in [
            vec!["--mosquitto-conf", file.to_str().unwrap(), "--check-config"],
            vec!["convert-mosquitto-conf", file.to_str().unwrap()],
        ] {
            let (code, _, err) = run(&args);
            assert_eq!(code, 2, "{text:?}: {err}");
            assert!(err.contains(want), "{text:?}: want {want:?} in {err}");
            assert_eq!(err.lines().count(), 1, "one line: {err}");
        }
    }
    // The same settings on every listener: per_listener_settings is honoured.
    std::fs::write(
        &file,
        "per_listener_settings true\nlistener 1883\nallow_anonymous true\n\
         listener 1884\nallow_anonymous true\nlog_dest file /var/log/m.log\n",
    )
    .unwrap();
    let (code, out, err) = run(&["--mosquitto-conf", file.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("allow_anonymous = true"), "{out}");
    assert!(err.contains(":6: log_dest: ignored"), "a note: {err}");
}

#[test]
fn convert_prints_toml_that_loads_as_a_conf_d_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mosquitto.conf");
    std::fs::write(
        &file,
        "listener 1883\nlistener 9001\nprotocol websockets\nallow_anonymous true\n\
         persistence true\npersistence_location /mosquitto/data/\nautosave_interval 60\n\
         max_queued_messages 1000\nmax_inflight_messages 0\npersistent_client_expiration 2d\n\
         sys_interval 30\nlog_type all\nmessage_size_limit 1000\nretain_available false\n",
    )
    .unwrap();
    let (code, toml, notes) = run(&["convert-mosquitto-conf", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{notes}");
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(conf_d.join("10-mosquitto.toml"), &toml).unwrap();
    let (code, effective, err) = run(&["-c", conf_d.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, 0, "{err}\n{toml}");
    for want in [
        "data_dir = \"/mosquitto/data/courtier\"",
        "sync_interval_ms = 60000",
        "max_queued_messages = 1000",
        "max_inflight_messages = 65535",
        "session_expiry_secs = 172800",
        "sys_interval_secs = 30",
        "level = \"debug\"",
        "max_packet_size = 66544",
        "protocol = \"websockets\"",
        "retain_available = false",
    ] {
        assert!(effective.contains(want), "{want} in {effective}");
    }
    assert!(
        notes.contains(":13: message_size_limit: mapped to max_packet_size"),
        "{notes}"
    );
}

/// Runs Debian's mosquitto on `file` until `addr` answers, calls `f`, and stops it; `None`
/// when mosquitto is not installed (`scripts/install-prereqs.sh` does not install the broker).
fn with_mosquitto<T>(file: &Path, addr: SocketAddr, f: impl FnOnce() -> T) -> Option<T> {
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

/// Debian's mosquitto on the same file gives the same answers.
#[test]
fn debian_mosquitto_answers_the_same_on_the_migrated_addon_conf() {
    let answers = |addr: SocketAddr| {
        [
            connack(addr, None, None),
            connack(addr, Some("alice"), Some("wrong")),
            connack(addr, Some("alice"), Some("alice-secret")),
            connack(addr, Some("carol"), Some("carol6")),
        ]
    };
    let dir = tempfile::tempdir().unwrap();
    let (mqtt, ws) = (free_port(), free_port());
    let file = fixture(
        "ha-addon-migrated.conf",
        dir.path(),
        &[("MQTT_PORT", mqtt), ("WS_PORT", ws)],
    );
    let addr: SocketAddr = format!("127.0.0.1:{mqtt}").parse().unwrap();
    let b = courtier(dir.path(), &["--mosquitto-conf", file.to_str().unwrap()], 2);
    let ours = answers(addr);
    drop(b);
    assert_eq!(ours, [5, 5, 0, 0]);
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    if let Some(theirs) = with_mosquitto(&file, addr, || answers(addr)) {
        assert_eq!(
            ours, theirs,
            "courtier vs mosquitto: anonymous, wrong, alice, carol"
        );
    }
}

#[test]
fn debian_mosquitto_answers_the_same_on_the_no_auth_conf() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("eclipse-mosquitto-no-auth.conf"))
        .unwrap()
        .replace("1883", &port.to_string());
    let file = dir.path().join("mosquitto.conf");
    std::fs::write(&file, text).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let answers = || {
        [
            connack(addr, None, None),
            connack(addr, Some("x"), Some("y")),
        ]
    };
    let b = courtier(dir.path(), &["--mosquitto-conf", file.to_str().unwrap()], 1);
    let ours = answers();
    drop(b);
    assert_eq!(ours, [0, 0]);
    if let Some(theirs) = with_mosquitto(&file, addr, answers) {
        assert_eq!(ours, theirs, "courtier vs mosquitto: anonymous, any user");
    }
}

fn which(name: &str) -> Result<PathBuf, ()> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
