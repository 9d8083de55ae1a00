//! `courtier ctl trace` and `courtier ctl traces` against the real binary.

use super::*;

/// `courtier ctl trace topic 'home/#'` prints each hop until Ctrl-C, then deletes its trace;
/// `courtier ctl traces` lists them.
#[test]
fn ctl_trace_streams_to_the_terminal_and_cleans_up_on_ctrl_c() {
    let (_dir, b, http) = broker();
    let url = format!("http://{http}");
    let out = Command::new(BIN)
        .args(["ctl", "--url", &url, "traces"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no traces\n");

    let mut ctl = Command::new(BIN)
        .args(["ctl", "--url", &url, "trace", "topic", "home/#"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(ctl.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("trace ") && line.contains("home/#"),
        "{line}"
    );
    let listed = Command::new(BIN)
        .args(["ctl", "--url", &url, "traces"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("topic") && listed.contains("home/#"),
        "{listed}"
    );
    // Publish once ctl's stream is attached.
    let deadline = Instant::now() + Duration::from_secs(10);
    while traces(http)[0]["readers"] != 1 {
        assert!(Instant::now() < deadline, "ctl never read the stream");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/door", b"open", 0, false, false, 0));
    let (tx, lines) = mpsc::channel();
    let stdout = ctl.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        first.contains(" received client=\"switch\" topic=\"home/door\" qos=0"),
        "{first}"
    );
    // HH:MM:SS.micros at the start.
    assert_eq!(first.as_bytes()[8], b'.', "{first}");
    let second = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(second.contains(" matched client=\"switch\""), "{second}");

    let ok = Command::new("kill")
        .args(["-INT", &ctl.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = ctl.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped and deleted"), "{rest}");
    assert!(traces(http).is_empty());
}

#[test]
fn ctl_sends_credentials_and_reports_api_errors() {
    let (_dir, _b, http) = broker();
    let url = format!("http://{http}");
    let out = Command::new(BIN)
        .args(["ctl", "--url", &url, "trace", "topic", "a/#/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 400") && err.contains("invalid topic filter"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["ctl", "--url", "https://x", "traces"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --user needs --password; --token and --user exclude each other.
    for args in [
        &["--user", "u"][..],
        &["--token", "t", "--user", "u", "--password", "p"],
    ] {
        let out = Command::new(BIN)
            .arg("ctl")
            .args(args)
            .arg("traces")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
    }
    // Accepted by today's API, which asks for no credentials on loopback.
    let out = Command::new(BIN)
        .args(["ctl", "--url", &url, "--token", "t0k", "traces"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
