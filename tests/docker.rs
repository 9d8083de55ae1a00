//! The container without a Docker engine (issue #17 item 2): scripts/check-docker.sh runs the
//! Dockerfile's build steps (debug profile), hadolint and shellcheck when installed, and the
//! entrypoint as root on folders owned by another uid, with the healthcheck and a clean stop.

#[test]
fn check_docker_script_passes() {
    let out = std::process::Command::new("bash")
        .arg("scripts/check-docker.sh")
        .output()
        .expect("run scripts/check-docker.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // What was skipped (no hadolint, not root) shows in the test's output.
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("check-docker: ok: docker/build.sh build"),
        "{stdout}"
    );
}

/// `courtier healthcheck` (the image's HEALTHCHECK, no curl): 0 while the broker configured by
/// the same options answers MQTT, even when it refuses anonymous clients; 1 once it is gone.
#[test]
fn healthcheck_exit_status_follows_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port}\n")).unwrap();
    let bin = env!("CARGO_BIN_EXE_courtier");
    let check = || {
        std::process::Command::new(bin)
            .args(["--mosquitto-conf", conf.to_str().unwrap(), "healthcheck"])
            .args(["--timeout", "2"])
            .output()
            .unwrap()
    };
    let mut broker = std::process::Command::new(bin)
        .args(["--mosquitto-conf", conf.to_str().unwrap()])
        .env("RUST_LOG", "off")
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let healthy = loop {
        let out = check();
        if out.status.success() || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = broker.kill();
    let _ = broker.wait();
    let stdout = String::from_utf8_lossy(&healthy.stdout);
    // No allow_anonymous line with a listener: refused (return code 5), and still healthy.
    assert_eq!(
        stdout.trim(),
        format!("healthy: 127.0.0.1:{port}: CONNACK return code 5")
    );
    let gone = check();
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).starts_with("unhealthy: "));
}
