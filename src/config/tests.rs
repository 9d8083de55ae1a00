use super::*;
use crate::config::load::{line_column, parse_and_check, toml_files};

fn defaults_table() -> toml::Table {
    toml::from_str(DEFAULTS_TOML).unwrap()
}

#[test]
fn schema_and_defaults_file_list_the_same_keys() {
    let mut from_file: Vec<String> = Vec::new();
    for (section, keys) in defaults_table() {
        for name in keys.as_table().unwrap().keys() {
            from_file.push(format!("{section}.{name}"));
        }
    }
    let mut from_schema: Vec<String> = SCHEMA
        .iter()
        .map(|s| format!("{}.{}", s.section, s.key))
        .collect();
    let mut from_leaves: Vec<String> = Settings::defaults()
        .leaves()
        .into_iter()
        .map(|(k, _)| k.to_owned())
        .collect();
    from_file.sort();
    from_schema.sort();
    from_leaves.sort();
    assert_eq!(from_file, from_schema);
    assert_eq!(from_leaves, from_schema);
}

#[test]
fn defaults_file_deserializes_directly_and_passes_checks() {
    let direct: Settings = toml::from_str(DEFAULTS_TOML).unwrap();
    assert_eq!(direct, Settings::defaults());
    parse_and_check(DEFAULTS_TOML, &Origin::Defaults).unwrap();
    direct.validate().unwrap();
}

#[test]
fn every_documented_key_has_a_comment_giving_its_default() {
    // Each key line must be preceded by a comment block mentioning "Default".
    let lines: Vec<&str> = DEFAULTS_TOML.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let is_key = !line.starts_with('#') && !line.starts_with('[') && line.contains('=');
        if !is_key {
            continue;
        }
        let comments: Vec<&str> = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .copied()
            .collect();
        assert!(
            comments.iter().any(|c| c.contains("Default")),
            "no comment with the default above {line:?}"
        );
    }
}

#[test]
fn broker_config_maps_special_values() {
    let mut s = Settings::defaults();
    assert_eq!(s.broker_config().max_connections, None);
    assert_eq!(
        s.broker_config().sys_interval,
        Some(Duration::from_secs(10))
    );
    s.limits.max_connections = 5;
    s.broker.sys_interval_secs = 0;
    s.limits.queue_overflow = OverflowPolicy::DropOldest;
    let b = s.broker_config();
    assert_eq!(b.max_connections, Some(5));
    assert_eq!(b.sys_interval, None);
    assert_eq!(b.queue_overflow, OverflowPolicy::DropOldest);
}

#[test]
fn to_toml_round_trips() {
    let mut s = Settings::defaults();
    s.listener.bind = "a \"quoted\" host".into();
    s.limits.queue_overflow = OverflowPolicy::DropOldest;
    let text = s.to_toml();
    let back: Settings = toml::from_str(&text).unwrap();
    assert_eq!(back, s);
    assert!(text.starts_with("[listener]\nbind = "), "{text}");
}

#[test]
fn validate_reports_key_and_value() {
    let mut s = Settings::defaults();
    s.limits.max_inflight_messages = 0;
    let err = s.validate().unwrap_err().to_string();
    assert_eq!(
        err,
        "effective settings: key \"limits.max_inflight_messages\": \
         invalid value 0: expected an integer 1..65535"
    );
    let mut s = Settings::defaults();
    s.log.level = "loud".into();
    assert!(s.validate().unwrap_err().to_string().contains("log.level"));
    s.log.level = "DEBUG".into();
    s.validate().unwrap();
    assert_eq!(s.log.level_filter(), log::LevelFilter::Debug);
}

#[test]
fn env_values_are_toml_scalars() {
    let port = spec("listener", "port").unwrap().kind;
    assert_eq!(port.parse_env("1884"), toml::Value::Integer(1884));
    assert_eq!(port.parse_env("1_884"), toml::Value::Integer(1884));
    assert_eq!(port.parse_env("abc"), toml::Value::String("abc".into()));
    assert_eq!(
        port.parse_env("1\nx = 2"),
        toml::Value::String("1\nx = 2".into())
    );
    let b = spec("security", "allow_anonymous").unwrap().kind;
    assert_eq!(b.parse_env("false"), toml::Value::Boolean(false));
    let bind = spec("listener", "bind").unwrap().kind;
    assert_eq!(bind.parse_env("::1"), toml::Value::String("::1".into()));
    assert_eq!(bind.parse_env("10"), toml::Value::String("10".into()));
    assert_eq!(
        bind.parse_env("\"0.0.0.0\""),
        toml::Value::String("0.0.0.0".into())
    );
}

#[test]
fn syntax_error_position() {
    let err = parse_and_check("[listener]\nport = = 3\n", &Origin::Defaults).unwrap_err();
    match err {
        ConfigError::Syntax { line, .. } => assert_eq!(line, Some(2)),
        other => panic!("{other}"),
    }
    assert_eq!(line_column("ab\ncdé\nx", 7), (2, 4));
    assert_eq!(line_column("ab\ncdé\nx", 6), (2, 3));
}

#[test]
fn suggestions() {
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    let err = unknown_key(&Origin::Defaults, "limits.max_qeued_messages".into());
    assert!(err
        .to_string()
        .ends_with("(did you mean \"limits.max_queued_messages\"?)"));
    let err = unknown_key(&Origin::Defaults, "zzzzzzzzzz".into());
    assert!(matches!(
        err,
        ConfigError::UnknownKey {
            suggestion: None,
            ..
        }
    ));
}

#[test]
fn toml_files_are_sorted_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let names = [
        "9.toml",
        "10.toml",
        "a.toml",
        "B.toml",
        "00-x.toml",
        "zz.toml",
        "m-1.toml",
        "m_1.toml",
    ];
    for name in names {
        std::fs::write(dir.path().join(name), "").unwrap();
    }
    std::fs::create_dir(dir.path().join("sub.toml")).unwrap();
    let found: Vec<String> = toml_files(dir.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(expected[0], "00-x.toml");
}

#[test]
fn listen_addr_brackets_ipv6() {
    let mut l = Settings::defaults().listener;
    assert_eq!(l.listen_addr(), "127.0.0.1:1883");
    l.bind = "::".into();
    assert_eq!(l.listen_addr(), "[::]:1883");
}

fn load_files(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Settings, ConfigError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let sources = ConfigSources {
        config_dir: Some(dir.path().to_owned()),
        env: Vec::new(),
    };
    let result = load(&sources);
    (dir, result)
}

#[test]
fn trace_is_off_by_default_and_on_with_either_list() {
    let s = Settings::defaults();
    assert!(!s.trace.enabled());
    assert_eq!(s.broker_config().trace.get(), None);
    let (_dir, s) = load_files(&[(
        "10-trace.toml",
        "[trace]\ntopics = [\"home/+/light\", \"alarm/#\"]\nclients = [\"lamp\"]\n",
    )]);
    let s = s.unwrap();
    assert_eq!(s.trace.topics, ["home/+/light", "alarm/#"]);
    assert_eq!(s.trace.clients, ["lamp"]);
    let filter = s.broker_config().trace.get().expect("tracing on");
    assert!(filter.traces("anyone", "home/hall/light"));
    assert!(filter.traces("lamp", "elsewhere"));
    assert!(!filter.traces("anyone", "home/hall/heat"));
    let back: Settings = toml::from_str(&s.to_toml()).unwrap();
    assert_eq!(back, s);
}

#[test]
fn a_bad_trace_filter_names_file_key_and_rule() {
    let (dir, err) = load_files(&[("10-trace.toml", "[trace]\ntopics = [\"home/#/x\"]\n")]);
    let err = err.unwrap_err();
    assert_eq!(err.key(), Some("trace.topics"));
    let file = dir.path().join("10-trace.toml");
    assert_eq!(err.origin(), Some(&Origin::File(file.clone())));
    let text = err.to_string();
    assert!(text.starts_with(&format!("{}: key \"trace.topics\"", file.display())));
    assert!(text.contains("\"home/#/x\" is not one"), "{text}");
    assert!(text.contains("MQTT-4.7.1-2"), "{text}");

    for bad in ["topics = \"home/#\"", "topics = [1]", "clients = [\"\"]"] {
        let (_dir, err) = load_files(&[("10-trace.toml", &format!("[trace]\n{bad}\n"))]);
        assert!(
            err.unwrap_err().key().unwrap().starts_with("trace."),
            "{bad}"
        );
    }
    let (_dir, err) = load_files(&[("10-trace.toml", "[trace]\ntopic = [\"a\"]\n")]);
    let text = err.unwrap_err().to_string();
    assert!(text.ends_with("(did you mean \"trace.topics\"?)"), "{text}");
}

#[test]
fn trace_lists_from_the_environment() {
    let env = |k: &str, v: &str| ConfigSources {
        config_dir: None,
        env: vec![(k.to_owned(), v.to_owned())],
    };
    let s = load(&env("COURTIER__TRACE__TOPICS", "[\"a/#\", \"b/+\"]")).unwrap();
    assert_eq!(s.trace.topics, ["a/#", "b/+"]);
    // Without brackets, the whole value is one entry (ids and topics may contain commas).
    let s = load(&env("COURTIER__TRACE__CLIENTS", "lamp,1")).unwrap();
    assert_eq!(s.trace.clients, ["lamp,1"]);
    let s = load(&env("COURTIER__TRACE__TOPICS", "[]")).unwrap();
    assert!(!s.trace.enabled());
    let err = load(&env("COURTIER__TRACE__TOPICS", "a/+b")).unwrap_err();
    assert_eq!(
        err.origin(),
        Some(&Origin::Env("COURTIER__TRACE__TOPICS".into()))
    );
    assert!(err.to_string().contains("MQTT-4.7.1-3"), "{err}");
}

#[test]
fn tracing_keeps_its_log_target_at_info() {
    // Runtime traces may start at any time: the target is at INFO with `[trace]` empty too.
    let mut t = TraceSettings::default();
    assert_eq!(t.log_filters("WARN", None), "warn,courtier::trace=info");
    assert_eq!(
        t.log_filters("warn", Some("debug")),
        "debug,courtier::trace=info"
    );
    t.topics.push("a/#".into());
    assert_eq!(t.log_filters("warn", None), "warn,courtier::trace=info");
    assert_eq!(
        t.log_filters("warn", Some("error")),
        "error,courtier::trace=info"
    );
    // An explicit choice in RUST_LOG wins.
    assert_eq!(
        t.log_filters("warn", Some("info,courtier::trace=off")),
        "info,courtier::trace=off"
    );
}

#[test]
fn auth_methods_are_off_by_default_and_only_known_names_are_accepted() {
    assert!(Settings::defaults().security.auth_methods.is_empty());
    let (_dir, s) = load_files(&[(
        "10-auth.toml",
        "[security]\nauth_methods = [\"SCRAM-SHA-512\"]\n",
    )]);
    assert_eq!(s.unwrap().security.auth_methods, ["SCRAM-SHA-512"]);
    let (_dir, s) = load_files(&[("10-auth.toml", "[security]\nauth_methods = [\"PLAIN\"]\n")]);
    let e = s.unwrap_err().to_string();
    assert!(
        e.contains("security.auth_methods") && e.contains("SCRAM-SHA-512"),
        "{e}"
    );
}
