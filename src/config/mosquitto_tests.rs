//! The mosquitto.conf reader without the file system (the black-box tests with real clients
//! are in tests/mosquitto_conf.rs).

use super::*;

fn convert(text: &str) -> Result<Converted, ConfigError> {
    convert_text(text, Path::new("m.conf"))
}

fn error(text: &str) -> String {
    convert(text).unwrap_err().to_string()
}

#[test]
fn comments_blank_lines_and_trailing_space_are_skipped_as_mosquitto_does() {
    let c = convert("# c\n\n   \nlistener 1883   \n  allow_anonymous true\n").unwrap();
    assert!(
        c.toml.contains("# m.conf:4: listener 1883\nport = 1883\n"),
        "{}",
        c.toml
    );
    assert!(c.toml.contains("allow_anonymous = true"), "{}", c.toml);
    assert!(c.notes.is_empty());
}

#[test]
fn mosquitto_2_defaults_differ_from_courtier_s_and_are_written_out() {
    let c = convert("listener 1883\n").unwrap();
    for want in [
        "allow_anonymous = false",
        "[persistence]\n# persistence (Mosquitto's default: false)\nenabled = false",
        "session_expiry_secs = 0",
        "[http]",
    ] {
        assert!(c.toml.contains(want), "{want} in {}", c.toml);
    }
    // No listener at all: Mosquitto's local-only mode lets anonymous clients in.
    assert!(convert("").unwrap().toml.contains("allow_anonymous = true"));
}

#[test]
fn listener_keys_before_any_listener_make_the_default_listener() {
    let c =
        convert("port 1884\nbind_address 127.0.0.1\nlistener 9001\nprotocol websockets\n").unwrap();
    let first = c.toml.find("port = 1884").unwrap();
    let second = c.toml.find("port = 9001").unwrap();
    assert!(first < second, "{}", c.toml);
    assert!(c.toml.contains("bind = \"127.0.0.1\""), "{}", c.toml);
    assert!(c.toml.contains("protocol = \"websockets\""), "{}", c.toml);
}

#[test]
fn errors_name_file_line_key_and_what_to_do() {
    // A bridge without an address (mosquitto_bridge.rs maps complete ones).
    assert_eq!(
        error("listener 1883\nconnection br\n"),
        "m.conf:2: connection: as [[bridges]] bridges[0]: missing field `addresses`"
    );
    assert!(error("auth_plugin /x.so\n").starts_with("m.conf:1: auth_plugin: plugins are"));
    assert!(error("listener 0 /run/m.sock\n").contains("unix sockets are not supported"));
    assert!(error("listener 1883\nlistener 1883\n").starts_with("m.conf:2: listener:"));
    assert!(error("persistent_client_expiration 3x\n").contains("e.g. 14d"));
    assert!(error("tls_version tlsv1.1\n").contains("use tlsv1.2 or tlsv1.3"));
    assert!(error("log_type chatty\n").contains("invalid value \"chatty\""));
}

#[test]
fn per_listener_settings_are_honoured_when_every_listener_has_the_same() {
    let same = "per_listener_settings true\nlistener 1\npassword_file /p\nallow_anonymous true\n\
                listener 2\npassword_file /p\nallow_anonymous true\n";
    let c = convert(same).unwrap();
    assert!(c.toml.contains("password_file = \"/p\""), "{}", c.toml);
    let differ = same.replace(
        "listener 2\npassword_file /p",
        "listener 2\npassword_file /q",
    );
    let e = error(&differ);
    assert!(e.starts_with("m.conf:5: per_listener_settings: this listener's password_file"));
    // Without per_listener_settings one password_file serves every listener: a second line
    // is refused, as Mosquitto refuses it ("Duplicate password_file value").
    let global = differ.replace("per_listener_settings true\n", "");
    assert!(error(&global)
        .starts_with("m.conf:5: password_file: set twice for the same broker (first at m.conf:2)"));
    // A bool set twice: the last line wins, as in Mosquitto.
    let c = convert("listener 1\nallow_anonymous false\nallow_anonymous true\n").unwrap();
    assert!(c.toml.contains("allow_anonymous = true"), "{}", c.toml);
}

#[test]
fn per_listener_settings_after_a_security_setting_is_refused_as_mosquitto_does() {
    let e = error("allow_anonymous true\nper_listener_settings true\nlistener 1\n");
    assert!(
        e.starts_with("m.conf:2: per_listener_settings: must come before"),
        "{e}"
    );
    assert!(e.contains("move it above m.conf:1"), "{e}");
}

#[test]
fn per_listener_lines_before_any_listener_belong_to_the_default_listener_only() {
    // No default listener: the line applies to no listener (noted), anonymous clients refused.
    let c = convert("per_listener_settings true\nallow_anonymous true\nlistener 1\n").unwrap();
    assert!(c.toml.contains("allow_anonymous = false"), "{}", c.toml);
    assert!(
        c.notes[0].starts_with("m.conf:2: allow_anonymous: ignored"),
        "{:?}",
        c.notes
    );
    // With `port`, it is the default listener's.
    let c = convert("per_listener_settings true\nport 1\nallow_anonymous true\n").unwrap();
    assert!(c.toml.contains("allow_anonymous = true"), "{}", c.toml);
    // A password file before any listener makes the default listener (port 1883) in Mosquitto.
    let c = convert("per_listener_settings true\npassword_file /p\n").unwrap();
    assert!(c.toml.contains("port = 1883"), "{}", c.toml);
}

#[test]
fn string_keys_set_twice_are_refused_as_mosquitto_does() {
    let e = error("persistence_location /a/\npersistence_location /b/\n");
    assert!(
        e.starts_with("m.conf:2: persistence_location: set twice (first at m.conf:1)"),
        "{e}"
    );
    let e = error("per_listener_settings true\nlistener 1\nacl_file /a\nlistener 2\nacl_file /a\nacl_file /b\n");
    assert!(
        e.starts_with("m.conf:6: acl_file: set twice for the same listener (first at m.conf:5)"),
        "{e}"
    );
}

#[test]
fn include_dir_files_come_in_mosquitto_s_order() {
    let mut names = vec![
        "b.conf", "B.conf", "a.conf", "A.conf", "ab.conf", "_.conf", "a.conf2",
    ];
    names.sort_by(|a, b| mosquitto_order(a.as_bytes(), b.as_bytes()));
    // Without case first ('_' is after the letters once they are upper case), then with case.
    assert_eq!(
        names,
        ["A.conf", "a.conf", "a.conf2", "ab.conf", "B.conf", "b.conf", "_.conf"]
    );
}

/// fuzz/regressions/mosquitto_conf/control-characters-in-a-value: NULs in a value ended up in
/// a TOML comment, which cannot hold them.
#[test]
fn control_characters_in_a_value_make_valid_toml() {
    let c = convert("port 1883\nbind_address 127.0.0a\0\0\0ocket_domain ipv6\n").unwrap();
    let table: toml::Table = toml::from_str(&c.toml).unwrap();
    assert!(table.contains_key("listeners"));
    assert!(c.toml.contains("\\u{0}"), "{}", c.toml);
}

/// fuzz/regressions/mosquitto_conf/expiration-ending-in-a-multibyte-character: the unit was cut
/// off by bytes, inside the character.
#[test]
fn an_expiration_ending_in_a_multibyte_character_is_an_error() {
    let e = error("persistent_client_expiration 3\u{e9}\n");
    assert!(
        e.starts_with("m.conf:1: persistent_client_expiration: invalid value"),
        "{e}"
    );
    assert!(convert("persistent_client_expiration 2w\n")
        .unwrap()
        .toml
        .contains("session_expiry_secs = 1209600"));
}
