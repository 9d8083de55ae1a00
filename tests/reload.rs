//! SIGHUP reloads `[log] level` and the `[trace]` filters from the configuration files (RUST_LOG,
//! when set, still wins).

mod common;

use common::process::{terminate, BrokerProcess};
use common::*;
use std::time::{Duration, Instant};

fn hup(b: &BrokerProcess) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &b.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits for a log line containing `needle`; the lines read on the way go to `seen`.
fn wait_log(b: &BrokerProcess, seen: &mut Vec<String>, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(line) = b.log.recv_timeout(Duration::from_millis(100)) {
            seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
    }
    panic!("no log line with {needle:?} in {seen:#?}");
}

/// Whether a new client's subscription to `filter` logs the DEBUG line for it: the client
/// subscribes and leaves; the INFO line of its leaving comes after any line its SUBSCRIBE logged.
fn subscribe_logs_debug(b: &BrokerProcess, filter: &str) -> bool {
    let id = unique("sub");
    let (mut c, _) = RawClient::handshake(b.addr, &id, true);
    assert_eq!(c.subscribe(1, &[(filter, 0)]), vec![0]);
    c.drop_connection();
    let mut seen = Vec::new();
    wait_log(
        b,
        &mut seen,
        &format!("client disconnected: client_id={id:?}"),
    );
    let debug = format!("client {id:?}: subscribed to {filter:?}");
    seen.iter().any(|l| l.contains(&debug))
}

/// A broker with the configuration directory `conf.d` holding `log.toml` at `level`.
fn start(rust_log: &str) -> (BrokerProcess, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    let log_toml = conf.join("log.toml");
    set_level(&log_toml, "info");
    let b = BrokerProcess::start(
        &dir.path().join("data"),
        &["--config-dir", conf.to_str().unwrap()],
        &[
            ("RUST_LOG", rust_log),
            ("COURTIER__PERSISTENCE__ENABLED", "false"),
        ],
    );
    (b, dir, log_toml)
}

fn set_level(log_toml: &std::path::Path, level: &str) {
    std::fs::write(log_toml, format!("[log]\nlevel = \"{level}\"\n")).unwrap();
}

#[test]
fn sighup_reloads_the_log_level_from_the_configuration_files() {
    // RUST_LOG empty: [log] level decides, as when it is not set.
    let (b, _dir, log_toml) = start("");
    assert!(
        !subscribe_logs_debug(&b, "reload/one"),
        "INFO: no DEBUG lines"
    );

    set_level(&log_toml, "debug");
    hup(&b);
    wait_log(&b, &mut Vec::new(), "log filter: debug");
    assert!(subscribe_logs_debug(&b, "reload/one"), "DEBUG after SIGHUP");

    // A level that does not parse: logged with the key, and the old level (debug) stays.
    set_level(&log_toml, "loud");
    hup(&b);
    let line = wait_log(&b, &mut Vec::new(), "reload failed");
    assert!(line.contains("log.toml: key \"log.level\""), "{line}");
    assert!(subscribe_logs_debug(&b, "reload/one"), "still DEBUG");

    set_level(&log_toml, "info");
    hup(&b);
    wait_log(&b, &mut Vec::new(), "log filter: info");
    assert!(!subscribe_logs_debug(&b, "reload/one"), "back to INFO");
    terminate(b);
}

#[test]
fn rust_log_still_wins_over_the_reloaded_level() {
    let (b, _dir, log_toml) = start("info");
    set_level(&log_toml, "debug");
    hup(&b);
    wait_log(&b, &mut Vec::new(), "log filter: info");
    assert!(!subscribe_logs_debug(&b, "reload/two"));
    terminate(b);
}

/// Whether a message published now on `topic` writes its `[trace]` line: the publisher sends
/// it at QoS 1, has its PUBACK (so the message was handled) and leaves; its leaving is logged
/// after any line the PUBLISH wrote.
fn publish_is_traced(b: &BrokerProcess, topic: &str) -> bool {
    let id = unique("pub");
    let mut c = RawClient::connected(b.addr, &id);
    c.send(&publish(topic, b"1", 1, false, false, 1));
    c.expect(&puback(1));
    c.drop_connection();
    let mut seen = Vec::new();
    wait_log(
        b,
        &mut seen,
        &format!("client disconnected: client_id={id:?}"),
    );
    let line = format!("received client={id:?} topic={topic:?}");
    seen.iter().any(|l| l.contains(&line))
}

#[test]
fn sighup_reloads_the_trace_filters() {
    let (b, dir, _) = start("");
    let trace_toml = dir.path().join("conf.d").join("trace.toml");
    assert!(!publish_is_traced(&b, "reload/t/a"), "no [trace] yet");

    std::fs::write(&trace_toml, "[trace]\ntopics = [\"reload/t/#\"]\n").unwrap();
    hup(&b);
    wait_log(&b, &mut Vec::new(), "log filter:");
    assert!(publish_is_traced(&b, "reload/t/a"), "traced after SIGHUP");
    assert!(
        !publish_is_traced(&b, "reload/other"),
        "only what the filter names"
    );

    std::fs::remove_file(&trace_toml).unwrap();
    hup(&b);
    wait_log(&b, &mut Vec::new(), "log filter:");
    assert!(!publish_is_traced(&b, "reload/t/a"), "[trace] off again");
    terminate(b);
}
