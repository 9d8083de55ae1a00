//! /metrics conventions (issue #15 item 7): the format follows `Accept` (OpenMetrics for
//! Prometheus, text 0.0.4 otherwise), the standard process_* series, and counts of
//! disconnects by reason (keep-alive timeouts among them) and of authentication refusals,
//! moved by real clients.

mod common;

use common::http::get_with;
use common::*;
use courtier::config::Settings;
use courtier::ServerThread;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const OPENMETRICS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,\
    application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

fn server() -> ServerThread {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 0;
    s.persistence.enabled = false;
    s.security.allow_anonymous = false;
    s.security.password_file = "tests/fixtures/mosquitto_passwd/passwd".into();
    ServerThread::spawn_configured(s).unwrap()
}

/// The value of one sample line, e.g. `courtier_disconnects_total{reason="administrative"}`.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn text(addr: SocketAddr) -> String {
    let r = get_with(addr, "/metrics", &[]);
    assert_eq!(r.status, 200);
    r.body
}

fn alice(id: &str) -> Connect {
    let mut c = Connect::v311(id);
    c.username = Some("alice".into());
    c.password = Some(b"alice-secret".to_vec());
    c
}

#[test]
fn format_follows_accept_with_process_series() {
    let s = server();
    let http = s.http_addr.unwrap();
    let om = get_with(http, "/metrics", &[("Accept", OPENMETRICS_ACCEPT)]);
    assert_eq!(
        om.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(om.body.trim_end().ends_with("# EOF"));
    assert!(om.body.contains("# TYPE courtier_disconnects counter"));

    let plain = get_with(http, "/metrics", &[]);
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(!plain.body.contains("# EOF"));
    assert!(plain
        .body
        .contains("# TYPE courtier_disconnects_total counter"));
    let lines = plain.body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text 0.0.4");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = sample(&plain.body, "process_start_time_seconds").unwrap();
    assert!(start <= now + 1.0 && start > now - 24.0 * 3600.0, "{start}");
    assert!(sample(&plain.body, "process_cpu_seconds_total").unwrap() > 0.0);
    assert!(sample(&plain.body, "process_open_fds").unwrap() >= 3.0);
    s.stop();
}

#[test]
fn keepalive_timeouts_kicks_and_auth_refusals_are_counted() {
    let s = server();
    let (http, mqtt) = (s.http_addr.unwrap(), s.mqtt_addr);
    let count = |series: &str| sample(&text(http), series).unwrap_or(-1.0);
    assert_eq!(
        count("courtier_disconnects_total{reason=\"keepalive_timeout\"}"),
        0.0
    );

    // Keep-alive 1 s, then silence: closed after 1.5 s [MQTT-3.1.2-24].
    let (quiet, _) = RawClient::handshake_with(mqtt, &alice("quiet").keep_alive(1));
    // Kicked through the admin API.
    let (_kicked, _) = RawClient::handshake_with(mqtt, &alice("kicked"));
    let mut c = std::net::TcpStream::connect(http).unwrap();
    use std::io::{Read, Write};
    c.write_all(b"DELETE /api/v1/clients/kicked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // Anonymous while allow_anonymous = false, and a wrong password.
    let mut anon = RawClient::connect(mqtt);
    anon.send(&connect("anon", true));
    assert_eq!(anon.read_packet().1[1], 5);
    let mut wrong = alice("wrong");
    wrong.password = Some(b"nope".to_vec());
    let mut bad = RawClient::connect(mqtt);
    bad.send(&wrong.to_bytes());
    assert_eq!(bad.read_packet().1[1], 5);

    let deadline = Instant::now() + Duration::from_secs(10);
    while count("courtier_disconnects_total{reason=\"keepalive_timeout\"}") < 1.0 {
        assert!(Instant::now() < deadline, "no keep-alive timeout counted");
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = text(http);
    let n = |series: &str| sample(&body, series).unwrap_or(-1.0);
    assert_eq!(
        n("courtier_disconnects_total{reason=\"keepalive_timeout\"}"),
        1.0
    );
    assert_eq!(
        n("courtier_disconnects_total{reason=\"administrative\"}"),
        1.0
    );
    assert_eq!(n("courtier_disconnects_total{reason=\"refused\"}"), 2.0);
    assert_eq!(
        n("courtier_auth_refusals_total{reason=\"not_authorized\"}"),
        1.0
    );
    assert_eq!(
        n("courtier_auth_refusals_total{reason=\"bad_username_or_password\"}"),
        1.0
    );
    drop(quiet);
    s.stop();
}

/// The store's memory is on /metrics (RocksDB's own counts), so that an operator, and the soak
/// script (scripts/soak.py), can tell the capped store caches from the broker's own memory.
#[test]
fn store_memory_is_reported_by_part() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 0;
    s.persistence.enabled = true;
    s.persistence.data_dir = dir.path().join("data");
    let s = ServerThread::spawn_configured(s).unwrap();
    let (http, mqtt) = (s.http_addr.unwrap(), s.mqtt_addr);
    let memtables = |body: &str| sample(body, "courtier_store_memory_bytes{part=\"memtables\"}");
    let before = memtables(&text(http)).expect("the memtables series");
    let (mut c, _) = RawClient::handshake(mqtt, "writer", true);
    for i in 0..100u16 {
        c.send(&publish(
            format!("mem/{i}"),
            &[b'x'; 1000],
            1,
            true,
            false,
            i + 1,
        ));
        c.read_packet();
    }
    let body = text(http);
    assert!(memtables(&body).unwrap() >= before + 100_000.0, "{body}");
    for part in ["table_readers", "block_cache"] {
        let series = format!("courtier_store_memory_bytes{{part=\"{part}\"}}");
        assert!(sample(&body, &series).is_some(), "{series}");
    }
    s.stop();
}
