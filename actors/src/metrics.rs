//! Broker-wide counters and gauges.
//!
//! Plain atomics shared by `Arc`: every actor updates them without a message hop, and $SYS (and
//! later /metrics) reads them. Relaxed ordering is enough: these are statistics, not
//! synchronisation.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Why a message was dropped; each reason is counted separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The session queue was full (max_queued_messages / max_queued_bytes).
    QueueFull,
    /// A QoS 0 message for an offline session while queue_qos0_messages is false.
    Qos0Offline,
    /// A client tried to publish into $SYS.
    SysTopicDenied,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [
        DropReason::QueueFull,
        DropReason::Qos0Offline,
        DropReason::SysTopicDenied,
    ];
    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::Qos0Offline => "qos0_offline",
            DropReason::SysTopicDenied => "sys_topic_denied",
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
    /// Sessions known to the broker, online or offline (Mosquitto's clients/total).
    pub sessions: AtomicI64,
    pub subscriptions: AtomicI64,
    pub retained_messages: AtomicI64,
    /// Every MQTT packet received / sent (Mosquitto's messages/received, messages/sent).
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub publish_received: AtomicU64,
    pub publish_sent: AtomicU64,
    dropped: [AtomicU64; 3],
    /// Restarts of supervised actors (all kinds together; the log names which).
    pub actor_restarts: AtomicU64,
    /// Messages waiting in session queues (not yet sent), all sessions.
    pub queued_messages: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            connections_open: AtomicI64::new(0),
            connections_total: AtomicU64::new(0),
            clients_connected: AtomicI64::new(0),
            clients_maximum: AtomicI64::new(0),
            sessions: AtomicI64::new(0),
            subscriptions: AtomicI64::new(0),
            retained_messages: AtomicI64::new(0),
            packets_received: AtomicU64::new(0),
            packets_sent: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            publish_received: AtomicU64::new(0),
            publish_sent: AtomicU64::new(0),
            dropped: Default::default(),
            actor_restarts: AtomicU64::new(0),
            queued_messages: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    pub fn count_drop(&self, reason: DropReason) {
        self.dropped[reason as usize].fetch_add(1, Relaxed);
    }
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize].load(Relaxed)
    }
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Relaxed)).sum()
    }
    pub fn client_connected(&self) {
        let now = self.clients_connected.fetch_add(1, Relaxed) + 1;
        self.clients_maximum.fetch_max(now, Relaxed);
    }
    pub fn client_disconnected(&self) {
        self.clients_connected.fetch_sub(1, Relaxed);
    }
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}
