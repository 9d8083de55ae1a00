//! The log lines of runtime trace records, written by the trace log writer thread: every one
//! written by a clean shutdown, in the `[<time> INFO  courtier::trace] trace=<id> ...` format,
//! and none when the log filter turns `courtier::trace` off.

use super::*;

/// Publish `n` QoS 1 messages to `home/hall/light` and have them delivered and acknowledged.
fn traffic(b: &BrokerProcess, n: u16) {
    let mut lamp = RawClient::connected(b.addr, "lamp");
    lamp.subscribe(1, &[("home/#", 1)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    for i in 1..=n {
        switch.send(&publish("home/hall/light", b"on", 1, false, false, i));
        switch.expect(&puback(i));
        let p = lamp.recv_publish();
        lamp.send(&puback(p.packet_id.unwrap()));
    }
}

/// Wait until trace `id` holds `n` records (the last `acked` is recorded after the PUBACK).
fn wait_records(http: SocketAddr, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while traces(http)[0]["records"] != n {
        assert!(Instant::now() < deadline, "{n} records: {:?}", traces(http));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM the broker and read its log to the end.
fn stop(mut b: BrokerProcess) -> Vec<String> {
    let (_tx, none) = mpsc::channel();
    let log = std::mem::replace(&mut b.log, none);
    common::process::terminate(b);
    log.iter().collect()
}

#[test]
fn every_record_is_logged_by_a_clean_shutdown() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"topic": "home/+/light"}));
    let n = 300;
    traffic(&b, n);
    wait_records(http, 5 * n as u64);
    let log = stop(b);
    let lines: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(&format!("courtier::trace] trace={id} msg=")))
        .collect();
    assert_eq!(lines.len(), 5 * n as usize, "{:#?}", &lines[..5]);
    for hop in ["received", "matched", "queued", "sent", "acked"] {
        let count = lines
            .iter()
            .filter(|l| l.contains(&format!(" {hop} client=")))
            .count();
        assert_eq!(count, n as usize, "{hop}");
    }
    // The line of the writer thread: the record's time, the level and target as every line.
    let first = lines[0];
    assert!(first.starts_with('['), "{first}");
    assert!(first.contains("Z INFO  courtier::trace] trace="), "{first}");
    assert!(
        first.ends_with(r#"received client="switch" actor=session topic="home/hall/light" qos=1 retain=false bytes=2 via=publish protocol=3.1.1"#),
        "{first}"
    );
    assert!(
        !log.iter().any(|l| l.contains("dropped")),
        "no line dropped"
    );
}

#[test]
fn the_log_filter_turns_trace_lines_off_and_the_records_stay() {
    let (_dir, b, http) = broker_with(&[("RUST_LOG", "info,courtier::trace=off")]);
    start_trace(http, json!({"topic": "home/+/light"}));
    traffic(&b, 3);
    wait_records(http, 15);
    let log = stop(b);
    assert!(log.iter().any(|l| l.contains("courtier stopped")));
    let traced: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("courtier::trace]"))
        .collect();
    assert!(traced.is_empty(), "{traced:#?}");
}

/// A trace logs at most its `log_lines_per_sec`: every record is kept, those not logged are
/// counted in `unlogged`, and the trace's end says how many.
#[test]
fn a_trace_logs_at_most_its_log_lines_per_sec() {
    let (_dir, b, http) = broker();
    let (status, body) = request(
        http,
        "POST",
        "/api/v1/traces",
        Some(&json!({"topic": "home/#", "log_lines_per_sec": -1})),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("log_lines_per_sec"), "{body}");
    let id = start_trace(
        http,
        json!({"topic": "home/+/light", "log_lines_per_sec": 4}),
    );
    let started = Instant::now();
    let n = 40;
    traffic(&b, n);
    wait_records(http, 5 * n as u64);
    let seconds = started.elapsed().as_secs() + 2;
    let t = traces(http)[0].clone();
    assert_eq!(t["log_lines_per_sec"], 4);
    assert_eq!(t["kept"], 5 * n as u64);
    let unlogged = t["unlogged"].as_u64().unwrap();
    let (status, _) = request(http, "DELETE", &format!("/api/v1/traces/{id}"), None);
    assert_eq!(status, 204);
    let log = stop(b);
    let lines = log
        .iter()
        .filter(|l| l.contains(&format!("courtier::trace] trace={id} msg=")))
        .count() as u64;
    // At most 4 a second of the run (threads racing at the limit may add a line).
    assert!(lines <= 4 * seconds + 2, "{lines} lines in {seconds} s");
    assert!(lines >= 4, "{lines}");
    assert_eq!(
        lines + unlogged,
        5 * n as u64,
        "each record logged or counted"
    );
    let ended = format!("({unlogged} not logged; log_lines_per_sec = 4)");
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("trace={id} topic")) && l.contains(&ended)),
        "{ended} in {:#?}",
        log.iter()
            .filter(|l| l.contains("ended"))
            .collect::<Vec<_>>()
    );
}
