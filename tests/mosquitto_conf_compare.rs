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

/// On one listener: CONNACK codes for anonymous, a wrong password, alice, bob; then whether a
/// retained message bob (read-only in the ACL) publishes is kept, and one alice publishes.
fn security_answers(addr: SocketAddr, publish_on: SocketAddr) -> (Vec<u8>, [bool; 2]) {
    let codes = vec![
        connack(addr, None, None),
        connack(addr, Some("alice"), Some("wrong")),
        connack(addr, Some("alice"), Some("alice-secret")),
        connack(addr, Some("bob"), Some("b0b pass")),
    ];
    if codes[2] != 0 {
        return (codes, [false, false]);
    }
    publish_retained(publish_on, "bob", "b0b pass", "home/bob", "denied");
    publish_retained(publish_on, "alice", "alice-secret", "home/alice", "kept");
    let seen = |t| retained_seen(addr, "alice", "alice-secret", t).is_some();
    (codes, [seen("home/bob"), seen("home/alice")])
}

fn local(port: u16) -> SocketAddr {
    format!("127.0.0.1:{port}").parse().unwrap()
}

/// Courtier's answers on a running broker from `file` with `listeners` listeners.
fn courtier_on<T>(dir: &Path, file: &Path, listeners: usize, f: impl FnOnce() -> T) -> T {
    let b = courtier(
        dir,
        &["--mosquitto-conf", file.to_str().unwrap()],
        listeners,
    );
    let out = f();
    drop(b);
    out
}

#[test]
fn per_listener_settings_with_the_same_security_on_each_listener_answer_as_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let file = conf_file(
        dir.path(),
        "mosquitto.conf",
        "per_listener_settings true\n\
         listener PORT_A 127.0.0.1\nallow_anonymous false\npassword_file PASSWD\nacl_file ACL\n\
         listener PORT_B 127.0.0.1\nallow_anonymous false\npassword_file PASSWD\nacl_file ACL\n",
        ports,
    );
    let (a, b) = (local(ports[0]), local(ports[1]));
    // Each listener, with the retained messages published through the other one.
    let answers = || (security_answers(a, b), security_answers(b, a));
    let ours = courtier_on(dir.path(), &file, 2, answers);
    let want = (vec![5, 5, 0, 0], [false, true]);
    assert_eq!(ours, (want.clone(), want), "courtier");
    if let Some(theirs) = with_mosquitto(&file, a, answers) {
        assert_eq!(ours, theirs, "courtier vs mosquitto");
    }
}

#[test]
fn per_listener_lines_before_any_listener_apply_to_no_listener_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    // allow_anonymous before the first listener: the default listener's, and there is none.
    let file = conf_file(
        dir.path(),
        "mosquitto.conf",
        "per_listener_settings true\nallow_anonymous true\nlistener PORT_A 127.0.0.1\n",
        ports,
    );
    let addr = local(ports[0]);
    let answers = || connack(addr, None, None);
    let ours = courtier_on(dir.path(), &file, 1, answers);
    assert_eq!(ours, 5, "anonymous refused");
    let (code, _, notes) = run(&["--mosquitto-conf", file.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, 0, "{notes}");
    assert!(
        notes.contains("mosquitto.conf:2: allow_anonymous: ignored"),
        "{notes}"
    );
    if let Some(theirs) = with_mosquitto(&file, addr, answers) {
        assert_eq!(ours, theirs, "courtier vs mosquitto");
    }
}

/// Where Courtier differs (README.md, "Reading mosquitto.conf"): one `[security]` for every
/// listener, so different settings per listener are refused, where Mosquitto applies them.
#[test]
fn per_listener_settings_that_differ_are_refused_where_mosquitto_applies_them() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let file = conf_file(
        dir.path(),
        "mosquitto.conf",
        "per_listener_settings true\nlistener PORT_A 127.0.0.1\nallow_anonymous true\n\
         listener PORT_B 127.0.0.1\npassword_file PASSWD\n",
        ports,
    );
    let (code, _, err) = run(&["--mosquitto-conf", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "mosquitto.conf:4: per_listener_settings: this listener's allow_anonymous (false) \
             differs from that of the listener at"
        ) && err.contains("run a second Courtier for the other listener"),
        "{err}"
    );
    let (a, b) = (local(ports[0]), local(ports[1]));
    let theirs = with_mosquitto(&file, a, || {
        [
            connack(a, None, None),
            connack(b, None, None),
            connack(b, Some("alice"), Some("alice-secret")),
        ]
    });
    if let Some(theirs) = theirs {
        assert_eq!(theirs, [0, 5, 0], "mosquitto: anonymous on A only");
    }
}

/// `include_dir` files in Mosquitto's order (a.conf before B.conf: letters without case
/// first), the last of a key set twice winning; a file key (password_file) set twice refused.
#[test]
fn include_dir_order_and_keys_set_twice_answer_as_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    conf_file(&conf_d, "a.conf", "allow_anonymous true\n", ports);
    conf_file(
        &conf_d,
        "B.conf",
        "allow_anonymous false\npassword_file PASSWD\nacl_file ACL\n",
        ports,
    );
    let main = conf_file(
        dir.path(),
        "mosquitto.conf",
        &format!(
            "listener PORT_A 127.0.0.1\ninclude_dir {}\n",
            conf_d.display()
        ),
        ports,
    );
    let addr = local(ports[0]);
    let answers = || security_answers(addr, addr);
    let ours = courtier_on(dir.path(), &main, 1, answers);
    assert_eq!(ours, (vec![5, 5, 0, 0], [false, true]), "B.conf read last");
    if let Some(theirs) = with_mosquitto(&main, addr, answers) {
        assert_eq!(ours, theirs, "courtier vs mosquitto");
    }
    // A second password_file in a later file: both refuse to start.
    conf_file(&conf_d, "c.conf", "password_file PASSWD\n", ports);
    let (code, _, err) = run(&["--mosquitto-conf", main.to_str().unwrap(), "--check-config"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("c.conf:1: password_file: set twice for the same broker (first at")
            && err.contains("B.conf:2"),
        "{err}"
    );
    if let Some(refused) = mosquitto_refuses(&main) {
        let log = refused.expect("mosquitto refuses it too");
        assert!(log.contains("Duplicate password_file value"), "{log}");
    }
}

#[test]
fn per_listener_settings_after_a_security_setting_is_refused_by_both() {
    let dir = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let file = conf_file(
        dir.path(),
        "mosquitto.conf",
        "allow_anonymous true\nper_listener_settings true\nlistener PORT_A 127.0.0.1\n",
        ports,
    );
    let (code, _, err) = run(&["--mosquitto-conf", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("mosquitto.conf:2: per_listener_settings: must come before"),
        "{err}"
    );
    if let Some(refused) = mosquitto_refuses(&file) {
        let log = refused.expect("mosquitto refuses it too");
        assert!(
            log.contains("per_listener_settings must be set before"),
            "{log}"
        );
    }
}
