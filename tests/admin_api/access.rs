//! The broker's settings without secrets, reload, and access control.

use super::*;

/// Password file, ACL file and token file in a temp dir; `[admin] users = ["alice"]`.
fn secured(dir: &Path, bind: &str) -> Settings {
    let mut s = settings();
    let pw = dir.join("passwd");
    std::fs::copy(FIXTURE, &pw).unwrap();
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, "# admin tokens\ntok-SECRET-123\n").unwrap();
    s.security.password_file = pw;
    s.admin.users = vec!["alice".into()];
    s.admin.token_file = tokens;
    s.http.bind = bind.into();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_settings_carry_no_secret_and_reload_reports_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(secured(dir.path(), "127.0.0.1"));
    let http = server.http_addr.unwrap();
    let auth = [("Authorization", "Bearer tok-SECRET-123")];
    let (status, body) = request(http, "GET", "/api/v1/broker", &auth);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert!(body["uptime_seconds"].is_u64());
    assert_eq!(body["settings"]["admin"]["users"][0], "alice");
    let listeners = body["listeners"].as_array().unwrap();
    assert!(listeners.iter().any(|l| l["transport"] == "tcp"));
    assert!(listeners.iter().any(|l| l["transport"] == "http"));
    let text = body.to_string();
    let passwd = std::fs::read_to_string(FIXTURE).unwrap();
    for secret in ["tok-SECRET-123", "alice-secret", "$7$", "$6$"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    for line in passwd.lines() {
        let hash = line.split_once(':').unwrap().1;
        assert!(!text.contains(hash));
    }

    let (status, body) = request(http, "POST", "/api/v1/reload", &auth);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reloaded"][0], "security");
    std::fs::write(dir.path().join("passwd"), "alice:not-a-hash\n").unwrap();
    let (status, body) = request(http, "POST", "/api/v1/reload", &auth);
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["line"], 1);
    assert!(body["file"].as_str().unwrap().ends_with("passwd"));
    // The old users stay: alice still logs in.
    let (status, _) = request(
        http,
        "GET",
        "/api/v1/broker",
        &[("Authorization", "Basic YWxpY2U6YWxpY2Utc2VjcmV0")],
    );
    assert_eq!(status, 200);
    server.stop();
}

/// A non-loopback address of this machine, if it has one.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_needs_credentials_off_loopback_and_everywhere_once_configured() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address: only loopback and the decision tests run");
        return;
    };
    // No credentials configured: loopback answered, the network refused.
    let mut open = settings();
    open.http.bind = "0.0.0.0".into();
    let server = start(open);
    let port = server.http_addr.unwrap().port();
    let local: SocketAddr = ([127, 0, 0, 1], port).into();
    let remote = SocketAddr::new(ip, port);
    assert_eq!(request(local, "GET", "/api/v1/clients", &[]).0, 200);
    let (status, body) = request(remote, "GET", "/api/v1/clients", &[]);
    assert_eq!(status, 403, "{body}");
    server.stop();

    // Credentials configured: needed from loopback too; bad ones are slowed down.
    let dir = tempfile::tempdir().unwrap();
    let server = start(secured(dir.path(), "0.0.0.0"));
    let port = server.http_addr.unwrap().port();
    let (local, remote) = (
        SocketAddr::from(([127, 0, 0, 1], port)),
        SocketAddr::new(ip, port),
    );
    assert_eq!(request(local, "GET", "/api/v1/clients", &[]).0, 401);
    assert_eq!(request(remote, "GET", "/api/v1/clients", &[]).0, 401);
    let token = [("Authorization", "Bearer tok-SECRET-123")];
    assert_eq!(request(remote, "GET", "/api/v1/clients", &token).0, 200);
    let alice = [("Authorization", "Basic YWxpY2U6YWxpY2Utc2VjcmV0")]; // alice:alice-secret
    assert_eq!(request(remote, "GET", "/api/v1/clients", &alice).0, 200);
    // A user of the password file who is not an admin is refused.
    let bob = [("Authorization", "Basic Ym9iOmJvYi1zZWNyZXQ=")];
    let started = Instant::now();
    assert_eq!(request(remote, "GET", "/api/v1/clients", &bob).0, 401);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "failure delayed"
    );
    // Within a second of that refusal: refused before any check.
    assert_eq!(request(remote, "GET", "/api/v1/clients", &alice).0, 429);
    std::thread::sleep(Duration::from_millis(1100));
    let wrong = [("Authorization", "Basic YWxpY2U6d3Jvbmc=")]; // alice:wrong
    let started = Instant::now();
    assert_eq!(request(remote, "GET", "/api/v1/clients", &wrong).0, 401);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(request(remote, "GET", "/api/v1/clients", &wrong).0, 429);
    // Loopback is another address: not slowed by the remote's failures.
    assert_eq!(request(local, "GET", "/api/v1/clients", &token).0, 200);
    server.stop();
}
