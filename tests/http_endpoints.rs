//! /healthz, /readyz and /metrics (issue #4): JSON health bodies, and metrics that parse as
//! Prometheus text and move by exactly the traffic a test sends.

mod common;

use common::http::get;
use common::ws::WsClient;
use common::*;
use std::collections::HashMap;
use std::net::SocketAddr;

/// (metric name, sorted labels) -> value.
type Scrape = HashMap<(String, String), f64>;

/// Scrape /metrics: check every line's syntax strictly, then read the values with
/// `prometheus-parse`.
fn scrape(addr: SocketAddr) -> Scrape {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").unwrap().contains("text"),
        "{:?}",
        r.headers
    );
    let mut typed = std::collections::HashSet::new();
    for line in r.body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            typed.insert(it.next().unwrap().to_owned());
            assert!(
                matches!(it.next(), Some("counter" | "gauge" | "info")),
                "{line}"
            );
        } else if line.starts_with("# HELP ") || line == "# EOF" {
        } else {
            let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
            let base = name.split('{').next().unwrap();
            assert!(
                base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert!(value.parse::<f64>().is_ok(), "{line}");
            let family = base.strip_suffix("_total").unwrap_or(base);
            assert!(
                typed.contains(family) || typed.contains(base),
                "untyped {line}"
            );
        }
    }
    let lines = r.body.lines().map(|l| Ok(l.to_owned()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("Prometheus text");
    let mut out = Scrape::new();
    for s in parsed.samples {
        let v = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            other => panic!("unexpected {other:?}"),
        };
        let mut labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        out.insert((s.metric, labels.join(",")), v);
    }
    out
}

fn value(s: &Scrape, name: &str, labels: &str) -> f64 {
    *s.get(&(name.to_owned(), labels.to_owned()))
        .unwrap_or_else(|| panic!("no {name}{{{labels}}} in {:?}", s.keys()))
}

fn delta(before: &Scrape, after: &Scrape, name: &str, labels: &str) -> f64 {
    value(after, name, labels) - value(before, name, labels)
}

#[test]
fn healthz_and_readyz_answer_json() {
    let b = start_broker();
    let h = get(b.http_addr(), "/healthz");
    assert_eq!(
        (h.status, h.header("content-type")),
        (200, Some("application/json"))
    );
    assert!(h.body.contains(r#""status":"ok""#), "{}", h.body);
    let r = get(b.http_addr(), "/readyz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(r#""status":"ready""#), "{}", r.body);
    assert!(r.body.contains(r#""listeners":"accepting""#), "{}", r.body);
}

#[test]
fn metrics_move_by_exactly_the_traffic_sent() {
    // No $SYS: its retained messages would change the retained totals under the test.
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 0,
        ..TestConfig::default()
    });
    let before = scrape(b.http_addr());
    for t in ["tcp", "websocket"] {
        assert_eq!(
            value(
                &before,
                "courtier_connections_open",
                &format!("transport={t}")
            ),
            0.0
        );
    }

    let mut sub = RawClient::connected(b.addr(), "m-sub");
    sub.subscribe(1, &[("m/#", 1)]);
    let mut ws = WsClient::mqtt(b.http_addr());
    ws.send_frame(&connect("m-ws", true));
    ws.expect(&connack(false, 0));
    for i in 0..3u16 {
        ws.send_frame(&publish("m/q1", b"0123456789", 1, false, false, i + 1));
        ws.expect(&puback(i + 1));
    }
    for _ in 0..2 {
        ws.send_frame(&publish("m/q0", b"abcde", 0, false, false, 0));
    }
    ws.send_frame(&publish("m/retained", b"kept!!!", 0, true, false, 0));
    // 3 QoS 1 deliveries (acked) and 3 QoS 0 ones.
    for _ in 0..6 {
        let (first, body) = sub.read_packet();
        let p = Publish::parse(first, &body).unwrap();
        if let Some(id) = p.packet_id {
            sub.send(&puback(id));
        }
    }
    ws.send_frame(&pingreq());
    ws.expect(&[0xd0, 0]); // everything before the PINGREQ has been handled
    sub.send(&pingreq());
    sub.read_packet();

    let after = scrape(b.http_addr());
    let d = |name: &str, labels: &str| delta(&before, &after, name, labels);
    assert_eq!(d("courtier_connections_total", "transport=tcp"), 1.0);
    assert_eq!(d("courtier_connections_total", "transport=websocket"), 1.0);
    assert_eq!(
        value(&after, "courtier_connections_open", "transport=websocket"),
        1.0
    );
    assert_eq!(
        value(&after, "courtier_connections_open", "transport=tcp"),
        1.0
    );
    assert_eq!(value(&after, "courtier_sessions", "state=online"), 2.0);
    assert_eq!(value(&after, "courtier_subscriptions", ""), 1.0);
    assert_eq!(d("courtier_publish_messages_received_total", "qos=1"), 3.0);
    assert_eq!(d("courtier_publish_messages_received_total", "qos=0"), 3.0);
    assert_eq!(
        d("courtier_publish_payload_bytes_received_total", "qos=1"),
        30.0
    );
    assert_eq!(
        d("courtier_publish_payload_bytes_received_total", "qos=0"),
        17.0
    );
    assert_eq!(d("courtier_publish_messages_sent_total", "qos=1"), 3.0);
    assert_eq!(d("courtier_publish_messages_sent_total", "qos=0"), 3.0);
    assert_eq!(
        d("courtier_publish_payload_bytes_sent_total", "qos=1"),
        30.0
    );
    assert_eq!(value(&after, "courtier_retained_messages", ""), 1.0);
    assert_eq!(value(&after, "courtier_retained_payload_bytes", ""), 7.0);
    // Packets: sub CONNECT, SUBSCRIBE, 3 PUBACK, PINGREQ; ws CONNECT, 6 PUBLISH, PINGREQ.
    assert_eq!(d("courtier_packets_received_total", ""), 14.0);
    // CONNACK x2, SUBACK, 3 PUBACK, 6 deliveries, PINGRESP x2.
    assert_eq!(d("courtier_packets_sent_total", ""), 14.0);
    assert_eq!(
        d("courtier_messages_dropped_total", "reason=queue_full"),
        0.0
    );
    assert_eq!(
        value(&after, "courtier_actor_restarts_total", "actor=RetainStore"),
        0.0
    );
    assert!(value(&after, "process_resident_memory_bytes", "") > 1e6);
    assert!(value(&after, "process_uptime_seconds", "") >= 0.0);
}

#[test]
fn metrics_can_be_served_on_a_separate_listener_only() {
    let mut s = courtier::config::Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.http.metrics = false;
    s.metrics.enabled = true;
    s.metrics.port = 0;
    let store = std::sync::Arc::new(courtier_storage::MemoryStore::new());
    let server = courtier::ServerThread::spawn(s, store).unwrap();
    let (http, metrics) = (server.http_addr.unwrap(), server.metrics_addr.unwrap());
    assert_eq!(get(http, "/metrics").status, 404);
    assert_eq!(get(http, "/healthz").status, 200);
    assert!(get(metrics, "/metrics")
        .body
        .contains("courtier_connections_open"));
    assert_eq!(get(metrics, "/readyz").status, 200);
    // No WebSocket on the metrics listener.
    assert!(WsClient::open(metrics, "/mqtt", Some("mqtt")).is_err());
    server.stop();
}

/// /metrics and $SYS count connected clients by protocol version.
#[test]
fn connected_clients_are_counted_by_protocol_version() {
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 1,
        ..TestConfig::default()
    });
    let _old = RawClient::connected(b.addr(), "proto-311");
    let _older = RawClient::handshake_with(b.addr(), &Connect::v31("proto-31")).0;
    let mut five = RawClient::connect(b.addr());
    five.send(&common::v5::Connect5::new("proto-5").to_bytes());
    five.read_packet();
    let mut watcher = RawClient::connected(b.addr(), "proto-watch");
    let s = scrape(b.http_addr());
    assert_eq!(value(&s, "courtier_clients_connected", "protocol=3.1"), 1.0);
    assert_eq!(
        value(&s, "courtier_clients_connected", "protocol=3.1.1"),
        2.0
    );
    assert_eq!(value(&s, "courtier_clients_connected", "protocol=5.0"), 1.0);
    watcher.subscribe(1, &[("$SYS/broker/clients/protocol/+", 0)]);
    // The retained values come first; the next publication (every second) counts us.
    let want: std::collections::BTreeMap<String, String> =
        [("3.1", "1"), ("3.1.1", "2"), ("5.0", "1")]
            .map(|(v, n)| (format!("$SYS/broker/clients/protocol/{v}"), n.to_owned()))
            .into_iter()
            .collect();
    let mut got = std::collections::BTreeMap::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while got != want && std::time::Instant::now() < deadline {
        let p = watcher.recv_publish();
        got.insert(p.topic, String::from_utf8(p.payload).unwrap());
    }
    assert_eq!(got, want);
}
