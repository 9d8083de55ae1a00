//! `courtier passwd` as a user runs it, and interop with the real `mosquitto_passwd` both ways
//! (those parts are skipped when `mosquitto_passwd`, Debian package `mosquitto`, is absent).

use courtier::security::password_file::Passwords;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_courtier");

fn courtier_passwd(args: &[&str], file: &Path) -> std::process::Output {
    // Options (and the values of -I and -H) before the file, the rest after it.
    let (mut flags, mut rest) = (Vec::new(), Vec::new());
    let mut args = args.iter();
    while let Some(&a) = args.next() {
        if a.starts_with('-') {
            flags.push(a);
            if a == "-I" || a == "-H" {
                flags.extend(args.next());
            }
        } else {
            rest.push(a);
        }
    }
    Command::new(BIN)
        .arg("passwd")
        .args(flags)
        .arg(file)
        .args(rest)
        .output()
        .unwrap()
}

fn mosquitto_passwd() -> Option<&'static str> {
    let found = Command::new("mosquitto_passwd").arg("-h").output().is_ok();
    if !found {
        eprintln!("mosquitto_passwd not installed: interop part skipped");
    }
    found.then_some("mosquitto_passwd")
}

fn verify(file: &Path, user: &str, password: &str) -> bool {
    let text = std::fs::read_to_string(file).unwrap();
    let p = Passwords::parse(&text).unwrap();
    p.get(user).is_some_and(|h| h.verify(password.as_bytes()))
}

#[test]
fn create_add_change_and_delete_keep_other_lines_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("passwd");
    assert!(courtier_passwd(&["-c", "-b", "alice", "a1"], &f)
        .status
        .success());
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600,
        "a new file is readable by its owner only"
    );
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(
        text.starts_with("alice:$7$101$"),
        "mosquitto_passwd's default: {text}"
    );
    let with_comment = format!("# managed by hand\n{text}");
    std::fs::write(&f, with_comment).unwrap();
    assert!(courtier_passwd(&["-b", "bob", "b1"], &f).status.success());
    assert!(courtier_passwd(&["-b", "-I", "1000", "alice", "a2"], &f)
        .status
        .success());
    let text = std::fs::read_to_string(&f).unwrap();
    let users: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(users, ["# managed by hand", "alice", "bob"]);
    assert!(text.contains("alice:$7$1000$"));
    assert!(verify(&f, "alice", "a2") && !verify(&f, "alice", "a1") && verify(&f, "bob", "b1"));
    assert!(courtier_passwd(&["-D", "alice"], &f).status.success());
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(!text.contains("alice") && text.contains("# managed by hand\nbob:"));
    let missing = courtier_passwd(&["-D", "zed"], &f);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn upgrade_hashes_plaintext_lines_and_keeps_hashed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("passwd");
    assert!(courtier_passwd(&["-c", "-b", "alice", "a1"], &f)
        .status
        .success());
    let hashed = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, format!("{hashed}dave:plainpw\n")).unwrap();
    assert!(courtier_passwd(&["-U"], &f).status.success());
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(
        text.starts_with(&hashed),
        "hashed lines are not hashed twice"
    );
    assert!(verify(&f, "dave", "plainpw") && verify(&f, "alice", "a1"));
}

#[test]
fn usage_errors_exit_1_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("passwd");
    let out = courtier_passwd(&["-b", "u", "p"], &f);
    assert_eq!(out.status.code(), Some(1), "no file without -c");
    assert!(String::from_utf8_lossy(&out.stderr).contains("-c"));
    let out = courtier_passwd(&["-c", "-b", "a:b", "p"], &f);
    assert_eq!(out.status.code(), Some(1));
    let out = courtier_passwd(&["-c", "u", "p"], &f);
    assert_eq!(out.status.code(), Some(1), "a password argument needs -b");
}

#[test]
fn mosquitto_passwd_updates_our_files_and_we_read_and_update_its_files() {
    let Some(mp) = mosquitto_passwd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours");
    assert!(courtier_passwd(&["-c", "-b", "alice", "a1"], &ours)
        .status
        .success());
    assert!(
        courtier_passwd(&["-b", "-H", "sha512", "carol", "c1"], &ours)
            .status
            .success()
    );
    // mosquitto_passwd reads our file, adds a user and deletes one, keeping the others.
    let run = |args: &[&str], file: &Path, rest: &[&str]| {
        let status = Command::new(mp)
            .args(args)
            .arg(file)
            .args(rest)
            .status()
            .unwrap();
        assert!(status.success(), "{mp} {args:?} {rest:?}");
    };
    run(&["-b"], &ours, &["bob", "b1"]);
    run(&["-D"], &ours, &["alice"]);
    let text = std::fs::read_to_string(&ours).unwrap();
    assert!(!text.contains("alice"), "{text}");
    assert!(
        verify(&ours, "carol", "c1") && verify(&ours, "bob", "b1"),
        "{text}"
    );
    // Its files, read and updated by us.
    let theirs = dir.path().join("theirs");
    run(&["-c", "-b"], &theirs, &["erin", "e1"]);
    assert!(verify(&theirs, "erin", "e1"));
    assert!(courtier_passwd(&["-b", "frank", "f1"], &theirs)
        .status
        .success());
    assert!(verify(&theirs, "erin", "e1") && verify(&theirs, "frank", "f1"));
}
