//! `courtier --mosquitto-conf FILE` on the real-world files in tests/fixtures/mosquitto/ (issue
//! #17 item 1): the real binary and real clients. Listeners, passwords, ACLs and persistence
//! must behave as the file says. Comparisons with Debian's mosquitto: mosquitto_conf_compare.rs.

mod common;
mod mosquitto_conf_common;

use mosquitto_conf_common::*;
use std::net::SocketAddr;
use std::path::Path;

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
