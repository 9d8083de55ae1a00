//! A broker process with `[security]` files in a temp dir, and the checks the security
//! tests share (CONNACK codes of both versions, SIGHUP, log lines).

use super::process::BrokerProcess;
use super::v5::{ConnAck5, Connect5};
use super::{unique, Connect, RawClient};
use std::path::Path;
use std::time::{Duration, Instant};

pub const FIXTURE: &str = "tests/fixtures/mosquitto_passwd/passwd";

pub struct Broker {
    pub b: BrokerProcess,
    pub dir: tempfile::TempDir,
}

/// A broker with `password_file` (copied into a temp dir, so reload tests may change it),
/// an ACL file if given, and `allow_anonymous`.
pub fn broker(passwords: Option<&str>, acl: Option<&str>, anonymous: bool) -> Broker {
    broker_with(passwords, acl, anonymous, &[])
}

/// [`broker`] with more environment settings (`COURTIER__...`), which override its own.
pub fn broker_with(
    passwords: Option<&str>,
    acl: Option<&str>,
    anonymous: bool,
    extra: &[(&str, &str)],
) -> Broker {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("passwd");
    let acl_path = dir.path().join("acl");
    let mut env = vec![(
        "COURTIER__SECURITY__ALLOW_ANONYMOUS",
        if anonymous { "true" } else { "false" }.to_owned(),
    )];
    if let Some(text) = passwords {
        std::fs::write(&pw, text).unwrap();
        env.push(("COURTIER__SECURITY__PASSWORD_FILE", quoted(&pw)));
    }
    if let Some(text) = acl {
        std::fs::write(&acl_path, text).unwrap();
        env.push(("COURTIER__SECURITY__ACL_FILE", quoted(&acl_path)));
    }
    env.push(("COURTIER__PERSISTENCE__ENABLED", "false".into()));
    // Wrong passwords are tried on purpose here: short delays keep the tests quick
    // (tests/security.rs checks the delay itself).
    env.push(("COURTIER__SECURITY__FAILED_AUTH_DELAY_MS", "20".into()));
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend_from_slice(extra);
    let b = BrokerProcess::start(&dir.path().join("data"), &[], &env);
    Broker { b, dir }
}

pub fn quoted(p: &Path) -> String {
    format!("{:?}", p.to_str().unwrap())
}

pub fn mosquitto_file() -> String {
    std::fs::read_to_string(FIXTURE).unwrap()
}

pub fn connack311(b: &Broker, user: Option<&str>, password: Option<&str>) -> u8 {
    let mut c = Connect::v311(&unique("c3"));
    c.username = user.map(Into::into);
    c.password = password.map(|p| p.as_bytes().to_vec());
    let mut cl = RawClient::connect(b.b.addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    assert_eq!(first, 0x20);
    body[1]
}

pub fn connack5(b: &Broker, user: Option<&str>, password: Option<&str>) -> u8 {
    let mut c = Connect5::new(&unique("c5"));
    c.username = user.map(Into::into);
    c.password = password.map(|p| p.as_bytes().to_vec());
    let mut cl = RawClient::connect(b.b.addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    ConnAck5::parse(first, &body).reason
}

pub fn hup(b: &Broker) {
    let ok = std::process::Command::new("kill")
        .args(["-HUP", &b.b.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Waits for a log line containing `needle`.
pub fn wait_log(b: &Broker, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(line) = b.b.log.recv_timeout(Duration::from_millis(100)) {
            if line.contains(needle) {
                return line;
            }
        }
    }
    panic!("no log line with {needle:?}");
}
