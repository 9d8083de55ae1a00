//! The same mosquitto.conf through Debian's mosquitto and through Courtier: the same answers to
//! the same real clients (who may connect on which listener, what is denied).

mod common;
mod mosquitto_conf_common;

use mosquitto_conf_common::*;
use std::net::SocketAddr;
use std::path::Path;

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
