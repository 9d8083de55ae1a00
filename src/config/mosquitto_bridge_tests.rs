use super::super::mosquitto::convert_text;
use std::path::Path;

fn convert(text: &str) -> Result<super::super::mosquitto::Converted, String> {
    convert_text(text, Path::new("m.conf")).map_err(|e| e.to_string())
}

/// tests/fixtures/mosquitto/bridge-cloud.conf: a home hub's bridge to a cloud broker as Mosquitto's
/// documentation and the Home Assistant add-on users write it.
#[test]
fn a_real_bridge_config_maps_onto_bridges() {
    let text = std::fs::read_to_string("tests/fixtures/mosquitto/bridge-cloud.conf").unwrap();
    let c = convert(&text).unwrap();
    let table: toml::Table = toml::from_str(&c.toml).unwrap();
    let b = &table["bridges"].as_array().unwrap()[0];
    assert_eq!(b["name"].as_str(), Some("cloud"));
    assert_eq!(
        b["addresses"].as_array().unwrap(),
        &[
            toml::Value::from("broker.example.com:8883"),
            toml::Value::from("backup.example.com:1883")
        ]
    );
    let topics = b["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 3, "{}", c.toml);
    assert_eq!(topics[0]["pattern"].as_str(), Some("sensors/#"));
    assert_eq!(topics[0]["direction"].as_str(), Some("out"));
    assert_eq!(topics[0]["qos"].as_integer(), Some(1));
    assert_eq!(topics[0]["local_prefix"].as_str(), Some(""));
    assert_eq!(topics[0]["remote_prefix"].as_str(), Some("home1/"));
    assert_eq!(topics[1]["direction"].as_str(), Some("in"));
    assert_eq!(topics[2]["direction"].as_str(), Some("both"));
    assert_eq!(b["remote_clientid"].as_str(), Some("home1-bridge"));
    assert_eq!(b["remote_username"].as_str(), Some("home1"));
    assert_eq!(b["remote_password"].as_str(), Some("secret"));
    assert_eq!(b["cleansession"].as_bool(), Some(false));
    assert_eq!(b["keepalive"].as_integer(), Some(30));
    assert_eq!(b["protocol"].as_str(), Some("3.1.1"));
    assert_eq!(
        b["cafile"].as_str(),
        Some("/etc/ssl/certs/ca-certificates.crt")
    );
    assert_eq!(b["restart_timeout"]["start"].as_float(), Some(5.0));
    assert_eq!(b["restart_timeout"]["max"].as_float(), Some(60.0));
    assert_eq!(b["round_robin"].as_bool(), Some(false));
    assert_eq!(b["try_private"].as_bool(), Some(true));
    assert_eq!(b["notifications"].as_bool(), Some(true));
    // The rest of the file is mapped as before.
    assert!(table.contains_key("listeners"), "{}", c.toml);
    assert!(
        c.notes.iter().any(|n| n.contains("notification_topic")),
        "{:?}",
        c.notes
    );
    // And it loads as settings.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("m.conf");
    std::fs::write(&conf, &text).unwrap();
    let converted = super::super::mosquitto::read(&conf).unwrap();
    let sources = crate::config::ConfigSources::default();
    let (settings, _) = crate::config::load_tracked_with(&sources, Some(&converted)).unwrap();
    assert_eq!(settings.bridges.len(), 1);
    assert_eq!(settings.bridges[0].topics.len(), 3);
}

#[test]
fn bridge_errors_name_the_line() {
    let e = convert("listener 1883\naddress a:1\n").unwrap_err();
    assert!(
        e.starts_with("m.conf:2: address: a bridge key before any"),
        "{e}"
    );
    let e = convert("connection c\naddress a:1\ntopic x/# sideways\n").unwrap_err();
    assert!(e.starts_with("m.conf:3: topic: invalid direction"), "{e}");
    let e = convert("connection c\ntopic x/#\n").unwrap_err();
    assert!(e.starts_with("m.conf:1: connection:"), "{e}");
    assert!(e.contains("addresses"), "{e}");
    let e = convert("connection c\naddress a\ntopic x\nbridge_insecure true\n").unwrap_err();
    assert!(e.contains("always verify"), "{e}");
    let c = convert("connection c\naddress a\ntopic x\nrestart_timeout 10\n").unwrap();
    assert!(c.toml.contains("a:1883"), "{}", c.toml);
    assert!(c.toml.contains("jitter = false"), "{}", c.toml);
}
