use crate::config::{load, ConfigSources};

fn load_text(text: &str) -> Result<crate::config::Settings, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("10-bridge.toml"), text).unwrap();
    load(&ConfigSources {
        config_dir: Some(dir.path().to_owned()),
        env: Vec::new(),
    })
    .map_err(|e| e.to_string())
}

const MINIMAL: &str = r#"
[[bridges]]
name = "cloud"
addresses = ["broker.example.com:8883"]
topics = [{ pattern = "sensors/#" }]
"#;

#[test]
fn a_minimal_bridge_gets_mosquitto_s_defaults() {
    let s = load_text(MINIMAL).unwrap();
    let b = &s.bridges[0];
    assert!(!b.cleansession && b.try_private && b.notifications);
    assert_eq!(b.keepalive, 60);
    let spec = b.spec();
    assert_eq!(spec.remote_clientid, "courtier.cloud");
    assert_eq!(
        spec.topics[0].direction,
        courtier_actors::bridge::Direction::Out
    );
    assert_eq!(spec.topics[0].qos, courtier_actors::codec::QoS::AtMostOnce);
    assert_eq!(spec.restart.start, std::time::Duration::from_secs(5));
}

#[test]
fn errors_name_the_file_the_bridge_and_the_key() {
    let e = load_text(&MINIMAL.replace("addresses", "adresses")).unwrap_err();
    assert!(
        e.contains("10-bridge.toml") && e.contains("bridges[0]"),
        "{e}"
    );
    assert!(e.contains("adresses"), "{e}");
    let e = load_text(&MINIMAL.replace("broker.example.com:8883", "broker")).unwrap_err();
    assert!(e.contains("bridges[0].addresses[0]"), "{e}");
    let e = load_text(&MINIMAL.replace("sensors/#", "sensors/#/x")).unwrap_err();
    assert!(e.contains("bridges[0].topics[0].pattern"), "{e}");
    let e = load_text(&MINIMAL.replace("}]", ", qos = 3 }]")).unwrap_err();
    assert!(e.contains("bridges[0].topics[0].qos"), "{e}");
    let e = load_text(&format!("{MINIMAL}{MINIMAL}")).unwrap_err();
    assert!(e.contains("bridges[1].name"), "{e}");
    let e = load_text(&format!("{MINIMAL}certfile = \"/c.pem\"\n")).unwrap_err();
    assert!(e.contains("bridges[0].keyfile"), "{e}");
    let e = load_text(&format!(
        "{MINIMAL}restart_timeout = {{ start = 10, max = 5 }}\n"
    ))
    .unwrap_err();
    assert!(e.contains("bridges[0].restart_timeout.max"), "{e}");
}

#[test]
fn the_password_is_not_in_the_effective_settings() {
    let s = load_text(&format!("{MINIMAL}remote_password = \"hunter2\"\n")).unwrap();
    assert_eq!(s.bridges[0].remote_password.as_deref(), Some("hunter2"));
    assert!(!s.to_toml().contains("hunter2"));
    assert!(!serde_json::to_string(&s).unwrap().contains("hunter2"));
}
