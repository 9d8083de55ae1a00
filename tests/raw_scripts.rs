//! Runs the raw-bytes scripts in tests/fixtures/scripts/*.txt (format: tests/common/script.rs),
//! each on a fresh connection to its own broker, in parallel.

mod common;

use common::script::{self, Script, Step};
use common::*;
use std::path::PathBuf;
use std::time::Duration;

fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scripts")
}

fn run_all(scripts: Vec<Script>) {
    assert!(!scripts.is_empty(), "no scripts selected");
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = scripts
            .iter()
            .map(|sc| {
                s.spawn(move || {
                    let b = start_broker();
                    script::run(sc, b.addr())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap().err())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} script(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn raw_scripts_pass() {
    let all = script::load_dir(&scripts_dir());
    run_all(all.into_iter().filter(|s| !s.courtier_specific).collect());
}

// courtier-specific: scripts marked `!courtier-specific` (Mosquitto behaves differently).
#[test]
fn raw_scripts_courtier_specific_pass() {
    let all = script::load_dir(&scripts_dir());
    run_all(all.into_iter().filter(|s| s.courtier_specific).collect());
}

#[test]
fn every_script_is_listed_in_the_regressions_index() {
    let index = std::fs::read_to_string(scripts_dir().join("REGRESSIONS.md")).unwrap();
    let missing: Vec<String> = script::load_dir(&scripts_dir())
        .into_iter()
        .map(|s| s.name)
        .filter(|n| !index.contains(n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add these scripts to REGRESSIONS.md: {missing:?}"
    );
}

#[test]
fn every_script_names_its_source_in_a_comment() {
    for entry in std::fs::read_dir(scripts_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "txt") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.lines().any(|l| l.trim_start().starts_with('#')),
                "{} has no comment saying where it comes from",
                path.display()
            );
        }
    }
}

#[test]
fn script_format_parses_every_command() {
    let s = script::parse(
        "inline",
        "# a comment\n!courtier-specific\nsend 10 02 # trailing comment\nrecv 20 02 00 00\nsleep 5\nsilence 10\nclosed\nclosed 250\n",
    )
    .unwrap();
    assert!(s.courtier_specific);
    let steps: Vec<Step> = s.steps.into_iter().map(|(_, st)| st).collect();
    assert_eq!(
        steps,
        vec![
            Step::Send(vec![0x10, 0x02]),
            Step::Recv(vec![0x20, 2, 0, 0]),
            Step::Sleep(Duration::from_millis(5)),
            Step::Silence(Duration::from_millis(10)),
            Step::Closed(Duration::from_millis(5000)),
            Step::Closed(Duration::from_millis(250)),
        ]
    );
    assert!(script::parse("bad", "frobnicate 1\n").is_err());
    assert!(script::parse("empty", "# nothing\n").is_err());
}

#[test]
fn a_failing_script_reports_its_line() {
    let b = start_broker();
    let s = script::parse(
        "wrong",
        "send 10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00\nrecv 20 02 00 05\n",
    )
    .unwrap();
    let err = script::run(&s, b.addr()).unwrap_err();
    assert!(err.starts_with("wrong:2:"), "{err}");
}
