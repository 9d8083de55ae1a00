//! Start-up failures a NAS user can act on (issue #17 item 4): each is one line on standard
//! error that says what failed, where, and what to do, and the exit status is not zero.

mod common;

use std::process::Command;

/// The binary's exit status and the lines it wrote to standard error, without the log lines.
fn fails(args: &[&str], env: &[(&str, &str)]) -> (i32, Vec<String>) {
    let out = Command::new(common::process::BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "off")
        .env("COURTIER__HTTP__ENABLED", "false")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let lines = err.lines().map(str::to_owned).collect();
    (out.status.code().unwrap_or(-1), lines)
}

#[test]
fn port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, lines) = fails(
        &["-p", &port],
        &[("COURTIER__PERSISTENCE__ENABLED", "false")],
    );
    assert_ne!(code, 0);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!("courtier: cannot listen on 127.0.0.1:{port}: "))
            && lines[0].contains("another program (another broker?) uses this port"),
        "{lines:#?}"
    );
}

#[test]
fn missing_password_file() {
    let (code, lines) = fails(
        &["-p", "0"],
        &[
            ("COURTIER__PERSISTENCE__ENABLED", "false"),
            ("COURTIER__SECURITY__PASSWORD_FILE", "\"no/such/passwd\""),
        ],
    );
    assert_ne!(code, 0);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("password_file \"no/such/passwd\": cannot read it")
            && lines[0].contains("a relative path starts from the working directory"),
        "{lines:#?}"
    );
}

#[test]
fn data_dir_that_is_not_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let data = file.join("data");
    let (code, lines) = fails(&["-p", "0", "--data-dir", data.to_str().unwrap()], &[]);
    assert_ne!(code, 0);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "courtier: cannot create data_dir {}",
            data.display()
        )),
        "{lines:#?}"
    );
}

#[test]
fn bad_key_in_mosquitto_conf() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, "listener 1883\nmax_queued_messages many\n").unwrap();
    let (code, lines) = fails(&["--mosquitto-conf", conf.to_str().unwrap()], &[]);
    assert_eq!(code, 2);
    assert_eq!(
        lines,
        [format!(
            "courtier: configuration error: {}:2: max_queued_messages: invalid value \"many\": \
             expected an integer 0..9223372036854775807",
            conf.display()
        )]
    );
}

#[test]
fn corrupt_store_with_on_corruption_fail() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("000001.sst"), b"not a table").unwrap();
    let (code, lines) = fails(
        &["-p", "0", "--data-dir", dir.path().to_str().unwrap()],
        &[("COURTIER__PERSISTENCE__ON_CORRUPTION", "fail")],
    );
    assert_ne!(code, 0);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("store is corrupt")
            && lines[0].contains("restore a backup of")
            && lines[0].contains("on_corruption = \"move_aside\""),
        "{lines:#?}"
    );
}
