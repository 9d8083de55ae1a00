//! `courtier ctl` (the real binary) against the real binary.

use super::*;

/// `courtier ctl` (the real binary) against the real binary with a token file: tables,
/// `--json`, kick with `--session`, reload, a refused call's exit status, and the broker's
/// log naming who made each mutating call.
#[test]
fn ctl_lists_reads_kicks_and_reloads_against_the_real_binary() {
    use common::process::{BrokerProcess, BIN};
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "tok-ctl\n").unwrap();
    let b = BrokerProcess::start(
        &dir.path().join("data"),
        &[],
        &[
            ("COURTIER__ADMIN__TOKEN_FILE", &format!("{tokens:?}")),
            ("COURTIER__BROKER__SYS_INTERVAL_SECS", "0"),
        ],
    );
    let http = b
        .startup_log
        .iter()
        .find_map(|l| l.split("listening for HTTP on ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .expect("the HTTP address in the log")
        .to_owned();
    let url = format!("http://{http}");
    let ctl = |args: &[&str], token: bool| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(["ctl", "--url", &url]);
        if token {
            cmd.args(["--token", "tok-ctl"]);
        }
        let out = cmd.args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let mut c = RawClient::connect(b.addr);
    c.send(&connect("hall-switch", false));
    assert_eq!(c.read_packet().0, 0x20);
    c.send(&subscribe(1, &[("home/hall/#", 1)]));
    assert_eq!(c.read_packet().0, 0x90);
    c.send(&publish(
        "homeassistant/light/hall/state",
        b"ON",
        1,
        true,
        false,
        2,
    ));
    assert_eq!(c.read_packet().0, 0x40);

    let (code, out, err) = ctl(&["clients"], true);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("ID "), "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("hall-switch"))
        .expect(&out);
    assert!(row.contains("3.1.1") && row.contains("connected"), "{row}");
    let (_, out, _) = ctl(&["client", "hall-switch"], true);
    assert!(out.contains("home/hall/#"), "{out}");
    let (_, out, _) = ctl(&["retained", "homeassistant/#"], true);
    let row = out
        .lines()
        .find(|l| l.contains("homeassistant/light/hall/state"))
        .expect(&out);
    assert!(row.ends_with("ON"), "{row}");
    let (_, out, _) = ctl(&["topics"], true);
    assert!(
        out.contains("homeassistant") && out.contains("hall"),
        "{out}"
    );
    let (_, out, _) = ctl(&["--json", "clients"], true);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], 1);

    let (code, out, _) = ctl(&["kick", "hall-switch", "--session"], true);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), "disconnected hall-switch; session deleted");
    let (_, out, _) = ctl(&["--json", "clients"], true);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], 0, "{out}");
    let (code, out, _) = ctl(&["reload"], true);
    assert_eq!(code, Some(0));
    assert!(out.contains("security"), "{out}");

    let (code, _, err) = ctl(&["kick", "hall-switch"], true);
    assert_eq!(code, Some(1));
    assert!(err.contains("404"), "{err}");
    let (code, _, err) = ctl(&["clients"], false);
    assert_eq!(code, Some(1));
    assert!(err.contains("401"), "{err}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = Vec::new();
    while Instant::now() < deadline
        && !log
            .iter()
            .any(|l: &String| l.contains("POST /api/v1/reload"))
    {
        log.extend(b.log.recv_timeout(Duration::from_millis(100)));
    }
    let kick = log
        .iter()
        .find(|l| l.contains("DELETE /api/v1/clients/hall-switch?session=true"))
        .expect("the kick is logged");
    assert!(
        kick.contains("INFO") && kick.contains("token #1 from 127.0.0.1"),
        "{kick}"
    );
}
