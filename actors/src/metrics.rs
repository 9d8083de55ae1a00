//! Broker-wide counters and gauges.
//!
//! Plain atomics shared by `Arc`: every actor updates them without a message hop, and $SYS (and
//! later /metrics) reads them. Relaxed ordering is enough: these are statistics, not
//! synchronisation.

use crate::codec::{ProtocolVersion, QoS};
use crate::supervision::ActorKind;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The protocol versions, in the order their counts are kept and shown.
const PROTOCOLS: [ProtocolVersion; 3] = [
    ProtocolVersion::V31,
    ProtocolVersion::V311,
    ProtocolVersion::V5,
];

fn protocol_index(p: ProtocolVersion) -> usize {
    match p {
        ProtocolVersion::V31 => 0,
        ProtocolVersion::V311 => 1,
        ProtocolVersion::V5 => 2,
    }
}

/// Why a message was dropped; each reason is counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The session queue was full (max_queued_messages / max_queued_bytes).
    QueueFull,
    /// A QoS 0 message for an offline session while queue_qos0_messages is false.
    Qos0Offline,
    /// A client tried to publish into $SYS.
    SysTopicDenied,
    /// The authorizer refused a publish or a delivery (auth.rs).
    NotAuthorized,
    /// An MQTT 5.0 message's expiry interval passed before it could be delivered.
    Expired,
    /// The delivery is larger than the subscriber's Maximum Packet Size (MQTT 5.0).
    PacketTooLarge,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::Qos0Offline,
        DropReason::SysTopicDenied,
        DropReason::NotAuthorized,
        DropReason::Expired,
        DropReason::PacketTooLarge,
    ];
    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Qos0Offline => "qos0_offline",
            DropReason::SysTopicDenied => "sys_topic_denied",
            DropReason::NotAuthorized => "not_authorized",
            DropReason::Expired => "expired",
            DropReason::PacketTooLarge => "packet_too_large",
        }
    }
}

/// What an authentication or authorization check refused, for
/// `courtier_auth_denied_total{action}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    Connect,
    Publish,
    Subscribe,
    Receive,
}

impl Denied {
    pub const ALL: [Denied; 4] = [
        Denied::Connect,
        Denied::Publish,
        Denied::Subscribe,
        Denied::Receive,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Denied::Connect => "connect",
            Denied::Publish => "publish",
            Denied::Subscribe => "subscribe",
            Denied::Receive => "receive",
        }
    }
}

#[derive(Debug)]
pub struct Metrics {
    pub started: Instant,
    /// Open sockets (before and after CONNECT).
    pub connections_open: AtomicI64,
    pub connections_total: AtomicU64,
    /// Clients with an accepted CONNECT and an open connection.
    pub clients_connected: AtomicI64,
    pub clients_maximum: AtomicI64,
    /// Connected clients by protocol version (3.1, 3.1.1, 5.0).
    clients_by_protocol: [AtomicI64; 3],
    /// Accepted CONNECTs since start (Mosquitto's load/connections rate).
    pub clients_connected_total: AtomicU64,
    /// Sessions known to the broker, online or offline (Mosquitto's clients/total).
    pub sessions: AtomicI64,
    /// Every subscription, shared ones included.
    pub subscriptions: AtomicI64,
    /// Shared subscriptions (`$share/{group}/{filter}`, one per member).
    pub shared_subscriptions: AtomicI64,
    /// Messages delivered through shared subscription groups (one per chosen member).
    pub shared_deliveries: AtomicU64,
    pub retained_messages: AtomicI64,
    /// Every MQTT packet received / sent (Mosquitto's messages/received, messages/sent).
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub publish_received: AtomicU64,
    pub publish_sent: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    auth_denied: [AtomicU64; Denied::ALL.len()],
    /// Drops per client since the last periodic summary (drop_summary.rs).
    pub drop_ledger: crate::drop_summary::DropLedger,
    /// Restarts of supervised actors (all kinds together; the log names which).
    pub actor_restarts: AtomicU64,
    /// Messages waiting in session queues (not yet sent), all sessions.
    pub queued_messages: AtomicI64,
    /// WebSocket connections (a subset of `connections_open`/`_total`), counted by the HTTP
    /// layer, which owns their lifetime; TCP = all - WebSocket.
    pub ws_connections_open: AtomicI64,
    pub ws_connections_total: AtomicU64,
    /// MQTT over TLS connections (a subset of `connections_open`/`_total`, not WebSocket) and
    /// WebSocket over TLS ones (a subset of `ws_connections_*`), counted by the listeners.
    pub tls_connections_open: AtomicI64,
    pub tls_connections_total: AtomicU64,
    pub wss_connections_open: AtomicI64,
    pub wss_connections_total: AtomicU64,
    /// TLS handshakes that failed or timed out on MQTT listeners.
    pub tls_handshake_failures: AtomicU64,
    /// PUBLISH packets and payload bytes by QoS, received from clients and sent to them.
    pub publish_in: ByQos,
    pub publish_out: ByQos,
    /// Restarts per supervised actor type, in first-restart order (restarts are rare, so a
    /// lock is fine and keeps the set of actor names open).
    restarts_by_actor: Mutex<Vec<(&'static str, u64)>>,
    /// Panics caught, by actor kind (`ActorKind::index`).
    panics: [AtomicU64; ActorKind::ALL.len()],
    /// Persistent sessions discarded because they expired (Mosquitto's clients/expired).
    pub sessions_expired: AtomicU64,
    /// Corrupt stores moved aside at start-up.
    pub store_corruptions: AtomicU64,
    /// Store writes that failed (a full disk), counted by the store's writer thread.
    pub store_write_errors: Arc<AtomicU64>,
    /// Panics caught on the store's writer thread (counted there), shown with the actors'
    /// panics as `StoreWriter`.
    pub store_writer_panics: Arc<AtomicU64>,
    /// Write-ahead logs found damaged at start-up (what they still held was dropped).
    pub store_wal_corruptions: AtomicU64,
    /// Connections closed, by `CloseReason::label_index` (keep-alive timeouts among them).
    disconnects: [AtomicU64; crate::close::CloseReason::LABELS.len()],
    /// CONNECTs refused by authentication, by `AuthFailure` (see `AUTH_FAILURES`).
    auth_refusals: [AtomicU64; 3],
}

/// The labels of `courtier_auth_refusals_total`, in the order they are counted.
pub const AUTH_FAILURES: [&str; 3] = [
    "bad_username_or_password",
    "not_authorized",
    "bad_authentication_method",
];

/// Message and payload-byte counters per QoS level (index = QoS as u8).
#[derive(Debug, Default)]
pub struct ByQos {
    pub messages: [AtomicU64; 3],
    pub bytes: [AtomicU64; 3],
}

impl ByQos {
    pub fn count(&self, qos: QoS, payload_len: usize) {
        self.messages[qos as usize].fetch_add(1, Relaxed);
        self.bytes[qos as usize].fetch_add(payload_len as u64, Relaxed);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            clients_connected: AtomicI64::new(0),
            clients_maximum: AtomicI64::new(0),
            clients_by_protocol: Default::default(),
            clients_connected_total: AtomicU64::new(0),
            sessions: AtomicI64::new(0),
            subscriptions: AtomicI64::new(0),
            shared_subscriptions: AtomicI64::new(0),
            shared_deliveries: AtomicU64::new(0),
            retained_messages: AtomicI64::new(0),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            publish_received: AtomicU64::new(0),
            publish_sent: AtomicU64::new(0),
            dropped: Default::default(),
            auth_denied: Default::default(),
            drop_ledger: Default::default(),
            actor_restarts: AtomicU64::new(0),
            queued_messages: AtomicI64::new(0),
            ws_connections_open: AtomicI64::new(0),
            ws_connections_total: AtomicU64::new(0),
            tls_connections_open: AtomicI64::new(0),
            tls_connections_total: AtomicU64::new(0),
            wss_connections_open: AtomicI64::new(0),
            wss_connections_total: AtomicU64::new(0),
            tls_handshake_failures: AtomicU64::new(0),
            publish_in: ByQos::default(),
            publish_out: ByQos::default(),
            restarts_by_actor: Mutex::new(Vec::new()),
            panics: Default::default(),
            sessions_expired: AtomicU64::new(0),
            store_corruptions: AtomicU64::new(0),
            store_write_errors: Arc::default(),
            store_writer_panics: Arc::default(),
            store_wal_corruptions: AtomicU64::new(0),
            disconnects: Default::default(),
            auth_refusals: Default::default(),
        }
    }
}

impl Metrics {
    pub fn count_drop(&self, reason: DropReason) {
        self.count_drops(reason, 1);
    }
    pub fn count_drops(&self, reason: DropReason, n: u64) {
        self.dropped[reason as usize].fetch_add(n, Relaxed);
    }
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize].load(Relaxed)
    }
    pub fn count_denied(&self, action: Denied) {
        self.auth_denied[action as usize].fetch_add(1, Relaxed);
    }
    pub fn denied(&self, action: Denied) -> u64 {
        self.auth_denied[action as usize].load(Relaxed)
    }
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Relaxed)).sum()
    }
    pub fn client_connected(&self, protocol: ProtocolVersion) {
        self.clients_connected_total.fetch_add(1, Relaxed);
        self.clients_by_protocol[protocol_index(protocol)].fetch_add(1, Relaxed);
        let now = self.clients_connected.fetch_add(1, Relaxed) + 1;
        self.clients_maximum.fetch_max(now, Relaxed);
    }
    pub fn client_disconnected(&self, protocol: ProtocolVersion) {
        self.clients_by_protocol[protocol_index(protocol)].fetch_sub(1, Relaxed);
        self.clients_connected.fetch_sub(1, Relaxed);
    }
    /// Connected clients of each protocol version, as (version, count).
    pub fn clients_by_protocol(&self) -> [(ProtocolVersion, i64); 3] {
        PROTOCOLS.map(|p| {
            let n = self.clients_by_protocol[protocol_index(p)].load(Relaxed);
            (p, n.max(0))
        })
    }
    /// Count one restart of a supervised actor (also in the `actor_restarts` total).
    pub fn count_restart(&self, actor: &'static str) {
        self.actor_restarts.fetch_add(1, Relaxed);
        let mut by = self
            .restarts_by_actor
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match by.iter_mut().find(|(a, _)| *a == actor) {
            Some((_, n)) => *n += 1,
            None => by.push((actor, 1)),
        }
    }
    /// (actor type, restarts) for every actor type that restarted at least once.
    pub fn restarts_by_actor(&self) -> Vec<(&'static str, u64)> {
        self.restarts_by_actor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// Count a panic caught in an actor of `kind` (supervision.rs).
    pub fn count_panic(&self, kind: ActorKind) {
        self.panics[kind.index()].fetch_add(1, Relaxed);
    }
    /// (actor kind, panics) for every kind, in [`ActorKind::ALL`] order, then the store's
    /// writer thread (`StoreWriter`) and the background tasks (`BackgroundTask`, counted
    /// process-wide: `supervision::spawn_task`).
    pub fn panics(&self) -> Vec<(&'static str, u64)> {
        ActorKind::ALL
            .iter()
            .map(|k| (k.name(), self.panics[k.index()].load(Relaxed)))
            .chain([
                ("StoreWriter", self.store_writer_panics.load(Relaxed)),
                ("BackgroundTask", crate::supervision::task_panics()),
            ])
            .collect()
    }
    /// Panics caught, all kinds, the store's writer and the background tasks together.
    pub fn panics_total(&self) -> u64 {
        let actors: u64 = self.panics.iter().map(|n| n.load(Relaxed)).sum();
        actors + self.store_writer_panics.load(Relaxed) + crate::supervision::task_panics()
    }
    /// Count a connection's end (once per connection, not on the message path).
    pub fn count_disconnect(&self, reason: &crate::close::CloseReason) {
        self.disconnects[reason.label_index()].fetch_add(1, Relaxed);
    }
    /// (label, count) for every close reason.
    pub fn disconnects(&self) -> Vec<(&'static str, u64)> {
        crate::close::CloseReason::LABELS
            .iter()
            .zip(&self.disconnects)
            .map(|(l, n)| (*l, n.load(Relaxed)))
            .collect()
    }
    pub fn count_auth_refusal(&self, failure: crate::auth::AuthFailure) {
        use crate::auth::AuthFailure::*;
        let i = match failure {
            BadUserNameOrPassword => 0,
            NotAuthorized => 1,
            BadAuthenticationMethod => 2,
        };
        self.auth_refusals[i].fetch_add(1, Relaxed);
    }
    /// (label, count) for every authentication failure ([`AUTH_FAILURES`]).
    pub fn auth_refusals(&self) -> Vec<(&'static str, u64)> {
        AUTH_FAILURES
            .iter()
            .zip(&self.auth_refusals)
            .map(|(l, n)| (*l, n.load(Relaxed)))
            .collect()
    }
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
