//! `GET /metrics`: the broker's counters in the Prometheus text format.
//!
//! The counters live in `courtier_actors::Metrics` (plain atomics the actors bump without a
//! message hop). At each scrape they are copied into a fresh `prometheus_client` registry and
//! encoded: a scrape costs one small allocation per series and nothing between scrapes, and
//! the encoder (not hand-written text) guarantees the exposition format.

use super::metrics_text::to_text_004;
use super::HttpState;
use actix_web::{web, HttpResponse};
use courtier_actors::metrics::{ByQos, Denied, DropReason, Metrics};
use courtier_actors::{process, Broker};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The supervised actor types, listed with 0 restarts until they restart, so that a dashboard
/// sees every series from the first scrape.
const SUPERVISED: [&str; 4] = [
    "RetainStore",
    "TopicRouter",
    "SessionRegistry",
    "TopicSubtree",
];

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) type Labels = Vec<(String, String)>;

fn label(key: &str, value: &str) -> Labels {
    vec![(key.to_owned(), value.to_owned())]
}

fn counter(reg: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    reg.register(name, help, c);
}

fn gauge(reg: &mut Registry, name: &str, help: &str, value: i64) {
    let g: Gauge = Gauge::default();
    g.set(value);
    reg.register(name, help, g);
}

pub(super) fn counter_family(reg: &mut Registry, name: &str, help: &str, series: &[(Labels, u64)]) {
    let f = Family::<Labels, Counter>::default();
    for (labels, v) in series {
        f.get_or_create(labels).inc_by(*v);
    }
    reg.register(name, help, f);
}

pub(super) fn gauge_family(reg: &mut Registry, name: &str, help: &str, series: &[(Labels, i64)]) {
    let f = Family::<Labels, Gauge>::default();
    for (labels, v) in series {
        f.get_or_create(labels).set(*v);
    }
    reg.register(name, help, f);
}

fn by_qos(values: &[AtomicU64; 3]) -> Vec<(Labels, u64)> {
    (0..3)
        .map(|q| (label("qos", &q.to_string()), values[q].load(Relaxed)))
        .collect()
}

fn publish_series(reg: &mut Registry, dir: &str, c: &ByQos) {
    counter_family(
        reg,
        &format!("courtier_publish_messages_{dir}"),
        &format!("PUBLISH packets {dir}, by QoS"),
        &by_qos(&c.messages),
    );
    counter_family(
        reg,
        &format!("courtier_publish_payload_bytes_{dir}"),
        &format!("Payload bytes of the PUBLISH packets {dir}, by QoS"),
        &by_qos(&c.bytes),
    );
}

/// Render every metric. Async because the retained totals are asked of the RetainStore.
pub async fn render(broker: &Broker) -> String {
    let m: &Metrics = broker.metrics();
    let retained = broker.retained_stats().await;
    let mut reg = Registry::default();

    // The transports' counters are subsets: wss of websocket, the rest is tcp.
    let open = m.connections_open.load(Relaxed).max(0);
    let ws_open = m.ws_connections_open.load(Relaxed).max(0);
    let tls_open = m.tls_connections_open.load(Relaxed).max(0);
    let wss_open = m.wss_connections_open.load(Relaxed).max(0);
    let total = m.connections_total.load(Relaxed);
    let ws_total = m.ws_connections_total.load(Relaxed);
    let tls_total = m.tls_connections_total.load(Relaxed);
    let wss_total = m.wss_connections_total.load(Relaxed);
    gauge_family(
        &mut reg,
        "courtier_connections_open",
        "Open client connections, by transport",
        &[
            (
                label("transport", "tcp"),
                (open - ws_open - tls_open).max(0),
            ),
            (label("transport", "tls"), tls_open),
            (label("transport", "websocket"), (ws_open - wss_open).max(0)),
            (label("transport", "wss"), wss_open),
        ],
    );
    counter_family(
        &mut reg,
        "courtier_connections",
        "Client connections accepted since start, by transport",
        &[
            (
                label("transport", "tcp"),
                total.saturating_sub(ws_total).saturating_sub(tls_total),
            ),
            (label("transport", "tls"), tls_total),
            (
                label("transport", "websocket"),
                ws_total.saturating_sub(wss_total),
            ),
            (label("transport", "wss"), wss_total),
        ],
    );
    counter(
        &mut reg,
        "courtier_tls_handshake_failures",
        "TLS handshakes on MQTT listeners that failed or timed out (bad or missing client certificate, wrong version, not TLS)",
        m.tls_handshake_failures.load(Relaxed),
    );
    counter(
        &mut reg,
        "courtier_store_corruptions",
        "Stores that could not be read at start-up and were set aside (persistence.on_corruption = \"move_aside\")",
        m.store_corruptions.load(Relaxed),
    );
    counter(
        &mut reg,
        "courtier_store_write_errors",
        "Store writes that failed (e.g. a full disk); what they carried was not acknowledged",
        m.store_write_errors.load(Relaxed),
    );
    counter(
        &mut reg,
        "courtier_store_wal_corruptions",
        "Write-ahead logs found damaged at start-up; a copy is kept beside the store (store.wal-corrupt-<unix time>)",
        m.store_wal_corruptions.load(Relaxed),
    );
    let online = m.clients_connected.load(Relaxed).max(0);
    let sessions = m.sessions.load(Relaxed).max(online);
    gauge_family(
        &mut reg,
        "courtier_sessions",
        "Sessions, online (client connected) or offline (persistent, client away)",
        &[
            (label("state", "online"), online),
            (label("state", "offline"), sessions - online),
        ],
    );
    let by_protocol: Vec<(Labels, i64)> = m
        .clients_by_protocol()
        .iter()
        .map(|(p, n)| (label("protocol", &p.to_string()), *n))
        .collect();
    gauge_family(
        &mut reg,
        "courtier_clients_connected",
        "Connected clients, by MQTT protocol version",
        &by_protocol,
    );
    gauge(
        &mut reg,
        "courtier_clients_maximum",
        "Most clients connected at once since start",
        m.clients_maximum.load(Relaxed),
    );
    gauge(
        &mut reg,
        "courtier_subscriptions",
        "Subscriptions, all sessions",
        m.subscriptions.load(Relaxed),
    );
    gauge(
        &mut reg,
        "courtier_shared_subscriptions",
        "Shared subscriptions ($share/{group}/{filter}), one per member",
        m.shared_subscriptions.load(Relaxed),
    );
    gauge(
        &mut reg,
        "courtier_retained_messages",
        "Retained messages, $SYS included",
        retained.count as i64,
    );
    gauge(
        &mut reg,
        "courtier_retained_payload_bytes",
        "Payload bytes of the retained messages",
        retained.payload_bytes as i64,
    );
    publish_series(&mut reg, "received", &m.publish_in);
    publish_series(&mut reg, "sent", &m.publish_out);
    let n = |a: &AtomicU64| a.load(Relaxed);
    counter(
        &mut reg,
        "courtier_shared_deliveries",
        "Messages delivered through shared subscription groups, one per chosen member",
        n(&m.shared_deliveries),
    );
    counter(
        &mut reg,
        "courtier_packets_received",
        "MQTT packets received",
        n(&m.packets_received),
    );
    counter(
        &mut reg,
        "courtier_packets_sent",
        "MQTT packets sent",
        n(&m.packets_sent),
    );
    counter(
        &mut reg,
        "courtier_bytes_received",
        "Bytes received, all transports",
        n(&m.bytes_received),
    );
    counter(
        &mut reg,
        "courtier_bytes_sent",
        "Bytes sent, all transports",
        n(&m.bytes_sent),
    );
    let drops: Vec<_> = DropReason::ALL
        .iter()
        .map(|r| (label("reason", r.name()), m.dropped(*r)))
        .collect();
    counter_family(
        &mut reg,
        "courtier_messages_dropped",
        "Messages dropped, by reason",
        &drops,
    );
    let denied: Vec<_> = Denied::ALL
        .iter()
        .map(|a| (label("action", a.name()), m.denied(*a)))
        .collect();
    counter_family(
        &mut reg,
        "courtier_auth_denied",
        "Refused by authentication (connect) or authorization (publish, subscribe, receive)",
        &denied,
    );
    gauge(
        &mut reg,
        "courtier_queued_messages",
        "Messages waiting in session queues, all sessions",
        m.queued_messages.load(Relaxed).max(0),
    );
    let mut restarts: Vec<(Labels, u64)> =
        SUPERVISED.iter().map(|a| (label("actor", a), 0)).collect();
    for (actor, count) in m.restarts_by_actor() {
        match restarts.iter_mut().find(|(l, _)| l[0].1 == actor) {
            Some((_, v)) => *v = count,
            None => restarts.push((label("actor", actor), count)),
        }
    }
    counter_family(
        &mut reg,
        "courtier_actor_restarts",
        "Restarts of supervised actors, by actor type",
        &restarts,
    );
    let panics: Vec<_> = m
        .panics()
        .into_iter()
        .map(|(a, n)| (label("actor", a), n))
        .collect();
    counter_family(
        &mut reg,
        "courtier_actor_panics",
        "Panics caught in actor handlers, by actor type, and on the store's writer thread (StoreWriter); each logged at ERROR with a backtrace",
        &panics,
    );
    if let Some(mem) = broker.store_memory() {
        let part = |p: &str, v: u64| (label("part", p), v.min(i64::MAX as u64) as i64);
        gauge_family(
            &mut reg,
            "courtier_store_memory_bytes",
            "Memory the store's engine (RocksDB) holds, by part: memtables (capped by persistence.write_buffer_cap_mb), table_readers (index and filter blocks of open table files), block_cache (shared, 8 MiB at most)",
            &[
                part("memtables", mem.memtables),
                part("table_readers", mem.table_readers),
                part("block_cache", mem.block_cache),
            ],
        );
    }
    gauge(
        &mut reg,
        "process_resident_memory_bytes",
        "Resident set size (/proc/self/status VmRSS)",
        process::rss_bytes().unwrap_or(0) as i64,
    );
    let disconnects: Vec<_> = m
        .disconnects()
        .into_iter()
        .map(|(r, n)| (label("reason", r), n))
        .collect();
    counter_family(
        &mut reg,
        "courtier_disconnects",
        "Connections closed, by reason (keepalive_timeout: silent for 1.5 x keep-alive)",
        &disconnects,
    );
    let refusals: Vec<_> = m
        .auth_refusals()
        .into_iter()
        .map(|(r, n)| (label("reason", r), n))
        .collect();
    counter_family(
        &mut reg,
        "courtier_auth_refusals",
        "CONNECTs refused by authentication, by reason",
        &refusals,
    );
    if let Some(start) = process::start_time_secs() {
        let g: Gauge<f64, std::sync::atomic::AtomicU64> = Gauge::default();
        g.set(start);
        reg.register(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            g,
        );
    }
    if let Some(cpu) = process::cpu_seconds() {
        let c: Counter<f64, std::sync::atomic::AtomicU64> = Counter::default();
        c.inc_by(cpu);
        reg.register(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            c,
        );
    }
    if let Some(fds) = process::open_fds() {
        gauge(
            &mut reg,
            "process_open_fds",
            "Number of open file descriptors",
            fds as i64,
        );
    }
    gauge(
        &mut reg,
        "process_uptime_seconds",
        "Seconds since the process started (/proc/self/stat)",
        process::uptime_secs().unwrap_or_else(|| m.uptime_secs()) as i64,
    );
    gauge_family(
        &mut reg,
        "courtier_build_info",
        "Always 1; the version is in the label",
        &[(label("version", env!("CARGO_PKG_VERSION")), 1)],
    );

    super::metrics_bridges::register(&mut reg, broker);

    let mut out = String::new();
    encode(&mut out, &reg).expect("writing to a String cannot fail");
    out
}

/// OpenMetrics when the scraper asks for it (Prometheus does, in `Accept`), otherwise the
/// Prometheus text format 0.0.4, which every other scraper reads.
pub async fn handler(state: web::Data<HttpState>, req: actix_web::HttpRequest) -> HttpResponse {
    let Some(broker) = state.broker() else {
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("the broker is starting\n");
    };
    let openmetrics = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let body = render(broker).await;
    match openmetrics {
        true => HttpResponse::Ok().content_type(OPENMETRICS).body(body),
        false => HttpResponse::Ok()
            .content_type(TEXT_004)
            .body(to_text_004(&body)),
    }
}
