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
