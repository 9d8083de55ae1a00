//! Bringing a Mosquitto data folder along (issue #17): Debian's mosquitto writes a real
//! mosquitto.db (retained messages, a persistent session with subscriptions, QoS 1 messages
//! queued while it is offline), then Courtier starts on the same mosquitto.conf and folder,
//! and real clients find everything there, once.

mod common;
mod mosquitto_conf_common;

use mosquitto_conf_common::*;
use rumqttc::v5::mqttbytes::v5::{Packet as Packet5, PublishProperties};
use rumqttc::{Client, Connection, Event, MqttOptions, Packet, QoS};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CONF: &str = "user root\nlistener PORT 127.0.0.1\nallow_anonymous true\n\
                    persistence true\npersistence_location DATA/\n";

/// A 3.1.1 client with `clean_session = false` (or true); returns it after its CONNACK, with
/// the CONNACK's session present flag.
fn connect(addr: SocketAddr, id: &str, clean: bool) -> (Client, Connection, bool) {
    let mut o = MqttOptions::new(id, addr.ip().to_string(), addr.port());
    o.set_clean_session(clean);
    let (c, mut conn) = Client::new(o, 100);
    for event in conn.iter() {
        if let Event::Incoming(Packet::ConnAck(ack)) = event.expect("connected") {
            return (c, conn, ack.session_present);
        }
    }
    unreachable!("connection ended before CONNACK")
}

fn publish(addr: SocketAddr, topic: &str, payload: &str, retain: bool) {
    let (c, mut conn, _) = connect(addr, &common::unique("pub"), true);
    c.publish(topic, QoS::AtLeastOnce, retain, payload).unwrap();
    for event in conn.iter() {
        if let Event::Incoming(Packet::PubAck(_)) = event.expect("connected") {
            break;
        }
    }
    c.disconnect().unwrap();
    let _ = conn.recv_timeout(Duration::from_millis(200));
}

/// The publishes `conn` receives within `wait`, as (topic, payload).
fn received(conn: &mut Connection, wait: Duration) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match conn.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => out.push((
                p.topic.clone(),
                String::from_utf8_lossy(&p.payload).into_owned(),
            )),
            Ok(Err(e)) => panic!("connection: {e}"),
            _ => {}
        }
    }
    out
}

/// A retained MQTT 5.0 message with a content type and a user property.
fn publish_v5(addr: SocketAddr, topic: &str, payload: &str) {
    use rumqttc::v5::{
        mqttbytes::QoS as QoS5, Client as Client5, Event as Event5, MqttOptions as Opts5,
    };
    let o = Opts5::new(common::unique("pub5"), addr.ip().to_string(), addr.port());
    let (c, mut conn) = Client5::new(o, 10);
    let props = PublishProperties {
        content_type: Some("text/plain".into()),
        user_properties: vec![("room".into(), "hall".into())],
        ..Default::default()
    };
    c.publish_with_properties(topic, QoS5::AtLeastOnce, true, payload.to_owned(), props)
        .unwrap();
    for event in conn.iter() {
        if let Event5::Incoming(Packet5::PubAck(_)) = event.expect("connected") {
            break;
        }
    }
}

/// The properties of the retained message on `topic`, as a 5.0 subscriber receives it.
fn retained_v5(addr: SocketAddr, topic: &str) -> Option<(String, Option<PublishProperties>)> {
    use rumqttc::v5::{
        mqttbytes::QoS as QoS5, Client as Client5, Event as Event5, MqttOptions as Opts5,
    };
    let o = Opts5::new(common::unique("sub5"), addr.ip().to_string(), addr.port());
    let (c, mut conn) = Client5::new(o, 10);
    c.subscribe(topic, QoS5::AtLeastOnce).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if let Ok(Ok(Event5::Incoming(Packet5::Publish(p)))) =
            conn.recv_timeout(Duration::from_millis(100))
        {
            return Some((
                String::from_utf8_lossy(&p.payload).into_owned(),
                p.properties,
            ));
        }
    }
    None
}

/// Runs Debian's mosquitto on `file` until `addr` answers, calls `f`, then stops it with
/// SIGTERM (which writes mosquitto.db). `None` when mosquitto is not installed.
fn mosquitto_then_sigterm(file: &Path, addr: SocketAddr, f: impl FnOnce()) -> Option<()> {
    let mosquitto = which("mosquitto").ok()?;
    let mut m = Command::new(mosquitto)
        .args(["-c", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    f();
    let term = Command::new("kill")
        .args(["-TERM", &m.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(m.wait().unwrap().success(), "mosquitto stopped cleanly");
    Some(())
}

#[test]
fn a_real_mosquitto_db_is_imported_once_with_retained_messages_sessions_and_queues() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let file = dir.path().join("mosquitto.conf");
    let text = CONF
        .replace("PORT", &port.to_string())
        .replace("DATA", data.to_str().unwrap());
    std::fs::write(&file, text).unwrap();

    // 1. Mosquitto: retained messages, a persistent session, messages queued while it is away.
    let written = mosquitto_then_sigterm(&file, addr, || {
        publish(addr, "home/door", "open", true);
        publish(addr, "home/light", "on", true);
        publish_v5(addr, "home/hall", "21.5");
        let (c, mut conn, _) = connect(addr, "logger", false);
        c.subscribe("sensors/#", QoS::AtLeastOnce).unwrap();
        c.subscribe("alarm", QoS::AtLeastOnce).unwrap();
        let mut acks = 0;
        for event in conn.iter() {
            if let Event::Incoming(Packet::SubAck(_)) = event.expect("connected") {
                acks += 1;
                if acks == 2 {
                    break;
                }
            }
        }
        c.disconnect().unwrap();
        let _ = conn.recv_timeout(Duration::from_millis(300));
        for n in 1..=3 {
            publish(addr, "sensors/t", &format!("queued {n}"), false);
        }
    });
    if written.is_none() {
        eprintln!("mosquitto not installed: import test skipped");
        return;
    }
    let db_file = data.join("mosquitto.db");
    let original = std::fs::read(&db_file).expect("mosquitto wrote mosquitto.db");

    // 2. --check-config says what would be imported.
    let (code, _, notes) = run(&["--mosquitto-conf", file.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, 0, "{notes}");
    assert!(
        notes.contains("would import 3 retained messages, 1 persistent sessions with 2 subscriptions, 3 queued QoS 1/2 messages"),
        "{notes}"
    );

    // 3. Courtier on the same file and folder.
    let b = courtier(dir.path(), &["--mosquitto-conf", file.to_str().unwrap()], 1);
    assert!(
        b.startup.iter().any(|l| l.contains("imported Mosquitto's")
            && l.contains(
                "3 retained messages, 1 persistent sessions with 2 subscriptions, 3 queued"
            )),
        "{:#?}",
        b.startup
    );
    let (_, mut conn, present) = connect(addr, "logger", false);
    assert!(present, "the session is present");
    let got = received(&mut conn, Duration::from_secs(2));
    let want: Vec<(String, String)> = (1..=3)
        .map(|n| ("sensors/t".to_owned(), format!("queued {n}")))
        .collect();
    assert_eq!(got, want, "the queued messages, in order");
    // Its subscriptions came along: a new message reaches it without a SUBSCRIBE.
    publish(addr, "alarm", "ring", false);
    assert_eq!(
        received(&mut conn, Duration::from_secs(1)),
        [("alarm".to_owned(), "ring".to_owned())]
    );
    assert_eq!(
        retained_seen(addr, "u", "p", "home/door").as_deref(),
        Some(&b"open"[..])
    );
    let (payload, props) = retained_v5(addr, "home/hall").expect("the 5.0 retained message");
    assert_eq!(payload, "21.5");
    let props = props.expect("its properties");
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        props.user_properties,
        [("room".to_owned(), "hall".to_owned())]
    );
    // Clear one retained message, then restart: the import does not happen again.
    publish(addr, "home/door", "", true);
    drop(b);
    let b = courtier(dir.path(), &["--mosquitto-conf", file.to_str().unwrap()], 1);
    assert!(
        !b.startup.iter().any(|l| l.contains("imported Mosquitto's")),
        "{:#?}",
        b.startup
    );
    assert_eq!(retained_seen(addr, "u", "p", "home/door"), None);
    assert_eq!(
        retained_seen(addr, "u", "p", "home/light").as_deref(),
        Some(&b"on"[..])
    );
    drop(b);
    assert_eq!(
        std::fs::read(&db_file).unwrap(),
        original,
        "mosquitto.db untouched"
    );
}

#[test]
fn a_damaged_mosquitto_db_stops_start_up_with_one_line_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut bytes = std::fs::read("tests/fixtures/mosquitto/db/v6-message-store.test-db").unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(data.join("mosquitto.db"), &bytes).unwrap();
    let file = dir.path().join("mosquitto.conf");
    let text = CONF
        .replace("PORT", &free_port().to_string())
        .replace("DATA", data.to_str().unwrap());
    std::fs::write(&file, text).unwrap();
    for check in [true, false] {
        let mut args = vec!["--mosquitto-conf", file.to_str().unwrap()];
        if check {
            args.push("--check-config");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_courtier"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        let line = err
            .lines()
            .find(|l| l.contains("cannot import Mosquitto's"))
            .unwrap_or_else(|| panic!("{err}"));
        assert!(
            line.contains("damaged at byte") && line.contains("move the file elsewhere"),
            "{line}"
        );
    }
    assert_eq!(std::fs::read(data.join("mosquitto.db")).unwrap(), bytes);
}
