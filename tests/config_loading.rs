//! Loading the configuration from the defaults, a config directory, the environment and the
//! command line. The environment is passed explicitly, never read from the test process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use courtier::cli::Cli;
use courtier::config::{load, ConfigError, ConfigSources, Origin, Settings};
use courtier_actors::config::{BrokerConfig, OverflowPolicy};

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn sources(dir: Option<&Path>, env: &[(&str, &str)]) -> ConfigSources {
    ConfigSources {
        config_dir: dir.map(Path::to_path_buf),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn load_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Settings, ConfigError>) {
    let dir = dir_with(files);
    let result = load(&sources(Some(dir.path()), &[]));
    (dir, result)
}

#[test]
fn defaults_equal_the_broker_core_defaults() {
    let settings = load(&sources(None, &[])).unwrap();
    assert_eq!(settings.broker_config(), BrokerConfig::default());
    assert_eq!(settings.listener.bind, "127.0.0.1");
    assert_eq!(settings.listener.port, 1883);
    assert_eq!(settings.broker.shutdown_timeout_secs, 10);
    assert_eq!(settings.persistence.data_dir, PathBuf::from("data"));
    assert_eq!(settings.log.level, "info");
    assert_eq!(settings, Settings::defaults());
}

#[test]
fn an_empty_config_dir_gives_the_defaults() {
    let (_dir, settings) = load_dir(&[]);
    assert_eq!(settings.unwrap(), Settings::defaults());
}

#[test]
fn files_are_applied_in_name_order() {
    let (_dir, settings) = load_dir(&[
        // Written in reverse order, so directory order is unlikely to hide a missing sort.
        (
            "20-b.toml",
            "[listener]\nport = 2002\n[limits]\nqueue_overflow = \"drop_oldest\"\n",
        ),
        (
            "10-a.toml",
            "[listener]\nport = 1001\nbind = \"0.0.0.0\"\n[broker]\nsys_interval_secs = 0\n",
        ),
    ]);
    let settings = settings.unwrap();
    assert_eq!(settings.listener.port, 2002, "20-b overrides 10-a");
    assert_eq!(
        settings.listener.bind, "0.0.0.0",
        "10-a keys 20-b does not set stay"
    );
    assert_eq!(settings.limits.queue_overflow, OverflowPolicy::DropOldest);
    assert_eq!(settings.broker_config().sys_interval, None);
    assert_eq!(settings.limits.max_inflight_messages, 20, "defaults stay");
}

#[test]
fn other_extensions_and_hidden_files_are_ignored() {
    let (_dir, settings) = load_dir(&[
        ("10-a.toml.bak", "[listener]\nport = 1\n"),
        ("README", "not toml at all ["),
        (".#10-a.toml", "[listener]\nport = 2\n"),
        ("10-a.toml", "[listener]\nport = 1001\n"),
    ]);
    assert_eq!(settings.unwrap().listener.port, 1001);
}

#[test]
fn environment_overrides_files() {
    let dir = dir_with(&[(
        "10-a.toml",
        "[listener]\nport = 1001\n[limits]\nmax_connections = 7\n",
    )]);
    let settings = load(&sources(
        Some(dir.path()),
        &[
            ("COURTIER__LISTENER__PORT", "1884"),
            ("COURTIER__LIMITS__QUEUE_OVERFLOW", "drop_oldest"),
            ("courtier__security__allow_anonymous", "false"),
            ("COURTIER__Log__Level", "\"debug\""),
            ("COURTIER__LISTENER__BIND", "::"),
            ("COURTIER__PERSISTENCE__DATA_DIR", "2024"),
            ("PATH", "/usr/bin"),
            ("COURTIER_NOT_OURS", "x"),
        ],
    ))
    .unwrap();
    assert_eq!(settings.listener.port, 1884);
    assert_eq!(settings.listener.bind, "::");
    assert_eq!(settings.limits.queue_overflow, OverflowPolicy::DropOldest);
    assert!(!settings.security.allow_anonymous);
    assert_eq!(settings.log.level, "debug");
    assert_eq!(settings.persistence.data_dir, PathBuf::from("2024"));
    assert_eq!(settings.broker_config().max_connections, Some(7));
}

#[test]
fn command_line_overrides_environment_and_files() {
    let dir = dir_with(&[(
        "10-a.toml",
        "[listener]\nport = 1001\nbind = \"10.0.0.1\"\n[persistence]\ndata_dir = \"/f\"\n",
    )]);
    let cli = Cli::try_parse_from([
        "courtier",
        "-c",
        dir.path().to_str().unwrap(),
        "-p",
        "1886",
        "--bind",
        "0.0.0.0",
    ])
    .unwrap();
    let env = vec![
        ("COURTIER__LISTENER__PORT".to_string(), "1885".to_string()),
        (
            "COURTIER__PERSISTENCE__DATA_DIR".to_string(),
            "/e".to_string(),
        ),
    ];
    let settings = cli.load_settings(env.clone()).unwrap();
    assert_eq!(settings.listener.port, 1886);
    assert_eq!(settings.listener.bind, "0.0.0.0");
    assert_eq!(settings.persistence.data_dir, PathBuf::from("/e"));

    // apply() alone, on settings loaded by hand.
    let mut settings = load(&cli.sources(env)).unwrap();
    assert_eq!(settings.listener.port, 1885);
    let cli = Cli::try_parse_from(["courtier", "--data-dir", "/c"]).unwrap();
    cli.apply(&mut settings);
    assert_eq!(settings.persistence.data_dir, PathBuf::from("/c"));
    assert_eq!(settings.listener.port, 1885);
}

#[test]
fn unknown_key_in_a_file_names_file_and_key() {
    let (dir, err) = load_dir(&[
        ("10-local.toml", "[limits]\nmax_qeued_messages = 5\n"),
        ("20-ok.toml", "[listener]\nport = 1\n"),
    ]);
    let err = err.unwrap_err();
    let file = dir.path().join("10-local.toml");
    assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err:?}");
    assert_eq!(err.origin(), Some(&Origin::File(file.clone())));
    assert_eq!(err.key(), Some("limits.max_qeued_messages"));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: unknown key \"limits.max_qeued_messages\" \
             (did you mean \"limits.max_queued_messages\"?)",
            file.display()
        )
    );
}

#[test]
fn unknown_section_in_a_file_is_an_error() {
    let (dir, err) = load_dir(&[("10-local.toml", "[listner]\nport = 1884\n")]);
    let err = err.unwrap_err().to_string();
    let file = dir.path().join("10-local.toml");
    assert_eq!(
        err,
        format!(
            "{}: unknown key \"listner\" (did you mean \"listener\"?)",
            file.display()
        )
    );
}

#[test]
fn top_level_key_is_an_error() {
    // A key outside any section, e.g. Mosquitto habit.
    let (_dir, err) = load_dir(&[("10-local.toml", "port = 1884\n")]);
    let err = err.unwrap_err();
    assert_eq!(err.key(), Some("port"));
}

#[test]
fn bad_type_in_a_file_names_file_key_and_reason() {
    let (dir, err) = load_dir(&[("10-local.toml", "[listener]\nport = \"abc\"\n")]);
    let file = dir.path().join("10-local.toml");
    assert_eq!(
        err.unwrap_err().to_string(),
        format!(
            "{}: key \"listener.port\": invalid value \"abc\": expected an integer 0..65535",
            file.display()
        )
    );

    let (_dir, err) = load_dir(&[("10-local.toml", "[security]\nallow_anonymous = 1\n")]);
    let err = err.unwrap_err();
    assert_eq!(err.key(), Some("security.allow_anonymous"));
    assert!(err.to_string().ends_with("expected true or false"), "{err}");

    let (_dir, err) = load_dir(&[("10-local.toml", "[limits]\nqueue_overflow = \"drop\"\n")]);
    assert!(err.unwrap_err().to_string().ends_with(
        "key \"limits.queue_overflow\": invalid value \"drop\": \
         expected one of \"drop_new\", \"drop_oldest\""
    ));

    let (_dir, err) = load_dir(&[("10-local.toml", "listener = 5\n")]);
    let err = err.unwrap_err();
    assert_eq!(err.key(), Some("listener"));
}

#[test]
fn out_of_range_values_name_file_and_key() {
    let cases = [
        (
            "[limits]\nmax_inflight_messages = 0\n",
            "limits.max_inflight_messages",
        ),
        (
            "[limits]\nmax_inflight_messages = 65536\n",
            "limits.max_inflight_messages",
        ),
        ("[limits]\nmax_packet_size = 1\n", "limits.max_packet_size"),
        (
            "[limits]\nmax_packet_size = 268435461\n",
            "limits.max_packet_size",
        ),
        ("[limits]\nmax_connections = -2\n", "limits.max_connections"),
        (
            "[limits]\nmax_queued_messages = -1\n",
            "limits.max_queued_messages",
        ),
        ("[listener]\nport = 65536\n", "listener.port"),
        ("[listener]\nport = -1\n", "listener.port"),
        ("[log]\nlevel = \"verbose\"\n", "log.level"),
        (
            "[broker]\nconnect_timeout_secs = 0\n",
            "broker.connect_timeout_secs",
        ),
        ("[broker]\nworker_threads = 1.5\n", "broker.worker_threads"),
    ];
    for (text, key) in cases {
        let (dir, err) = load_dir(&[("10-local.toml", text)]);
        let err = err.expect_err(text);
        assert!(matches!(err, ConfigError::InvalidValue { .. }), "{err:?}");
        assert_eq!(err.key(), Some(key), "{text}");
        assert_eq!(
            err.origin(),
            Some(&Origin::File(dir.path().join("10-local.toml"))),
            "{text}"
        );
    }
    // The edges are accepted.
    let (_dir, settings) = load_dir(&[(
        "10-local.toml",
        "[limits]\nmax_inflight_messages = 65535\nmax_packet_size = 2\nmax_connections = 0\n\
         [log]\nlevel = \"TRACE\"\n[listener]\nport = 0\n",
    )]);
    let settings = settings.unwrap();
    assert_eq!(settings.broker_config().max_connections, Some(0));
    assert_eq!(settings.broker_config().max_inflight_messages, 65535);
}

#[test]
fn toml_syntax_error_names_the_file_and_line() {
    let (dir, err) = load_dir(&[(
        "10-local.toml",
        "[listener]\nport = 1884\nbind = 127.0.0.1\n",
    )]);
    let err = err.unwrap_err();
    let file = dir.path().join("10-local.toml");
    match &err {
        ConfigError::Syntax { origin, line, .. } => {
            assert_eq!(origin, &Origin::File(file.clone()));
            assert_eq!(*line, Some(3));
        }
        other => panic!("not a syntax error: {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "TOML syntax error in {} at line 3",
            file.display()
        )),
        "{text}"
    );
}

#[test]
fn missing_config_dir_is_a_clear_error() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("conf.d");
    let err = load(&sources(Some(&missing), &[])).unwrap_err();
    assert!(matches!(err, ConfigError::DirMissing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("config directory {}: does not exist", missing.display())
    );

    let file = parent.path().join("file.toml");
    std::fs::write(&file, "").unwrap();
    let err = load(&sources(Some(&file), &[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("config directory {}: not a directory", file.display())
    );
}

#[test]
fn environment_errors_name_the_variable() {
    let err = load(&sources(
        None,
        &[("COURTIER__LIMITS__MAX_QEUED_MESSAGES", "5")],
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable COURTIER__LIMITS__MAX_QEUED_MESSAGES: \
         unknown key \"limits.max_qeued_messages\" \
         (did you mean \"limits.max_queued_messages\"?)"
    );

    let err = load(&sources(None, &[("COURTIER__LISTENER__PORT", "abc")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable COURTIER__LISTENER__PORT: key \"listener.port\": \
         invalid value \"abc\": expected an integer 0..65535"
    );

    let err = load(&sources(None, &[("COURTIER__LISTENER", "1884")])).unwrap_err();
    assert!(matches!(err, ConfigError::BadEnvName { .. }), "{err:?}");
    assert!(err
        .to_string()
        .starts_with("environment variable COURTIER__LISTENER: expected the form"));

    let err = load(&sources(
        None,
        &[
            ("COURTIER__LISTENER__PORT", "1"),
            ("courtier__listener__port", "2"),
        ],
    ))
    .unwrap_err();
    assert!(err.to_string().contains("already set"), "{err}");
}

#[test]
fn an_invalid_earlier_file_is_reported_even_if_a_later_one_fixes_the_key() {
    let (dir, err) = load_dir(&[
        ("10-a.toml", "[limits]\nmax_inflight_messages = 0\n"),
        ("20-b.toml", "[limits]\nmax_inflight_messages = 10\n"),
    ]);
    assert_eq!(
        err.unwrap_err().origin(),
        Some(&Origin::File(dir.path().join("10-a.toml")))
    );
}

#[test]
fn check_config_output_is_loadable_toml() {
    let (dir, settings) = load_dir(&[("10-a.toml", "[broker]\nwrite_timeout_secs = 5\n")]);
    let settings = settings.unwrap();
    assert_eq!(
        settings.broker_config().write_timeout,
        Duration::from_secs(5)
    );
    let out = settings.to_toml();
    // The printed settings, used as the only config file, give the same settings.
    std::fs::remove_file(dir.path().join("10-a.toml")).unwrap();
    std::fs::write(dir.path().join("50-effective.toml"), &out).unwrap();
    assert_eq!(load(&sources(Some(dir.path()), &[])).unwrap(), settings);
}
