//! Broker limits and behaviour switches, as plain data.
//!
//! The server shell (`courtier::config`) loads these from TOML files and the environment; this
//! crate only consumes them, so the core never reads files. Defaults here must equal the ones
//! documented in `conf.d/00-defaults.toml` (a test in the root crate checks that).

pub use courtier_storage::SyncPolicy;
use std::sync::Arc;
use std::time::Duration;

pub use crate::trace::TraceFilter;
use crate::trace_config::ConfigTrace;
pub use crate::trace_live::LiveTraces;

/// What a full session queue does with one more message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowPolicy {
    /// Refuse the new message (Mosquitto's behaviour); the queue keeps its oldest messages.
    #[default]
    DropNew,
    /// Evict the oldest queued message to make room for the new one.
    DropOldest,
}

impl OverflowPolicy {
    pub fn name(self) -> &'static str {
        match self {
            OverflowPolicy::DropNew => "drop_new",
            OverflowPolicy::DropOldest => "drop_oldest",
        }
    }
}

/// Which member of a shared subscription's group receives a message (`[broker]
/// shared_subscription_strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedStrategy {
    /// Each member in turn.
    #[default]
    RoundRobin,
    /// A member chosen at random.
    Random,
    /// The member with the fewest messages waiting (queued and in flight), so a slow consumer
    /// gets less; ties go round robin.
    ShortestQueue,
}

impl SharedStrategy {
    pub fn name(self) -> &'static str {
        match self {
            SharedStrategy::RoundRobin => "round_robin",
            SharedStrategy::Random => "random",
            SharedStrategy::ShortestQueue => "shortest_queue",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct BrokerConfig {
    /// Largest accepted packet (fixed header included), bytes. Checked from the fixed header.
    pub max_packet_size: u32,
    /// Largest packet accepted before CONNECT (the CONNECT itself), bytes: at most
    /// `max_packet_size`.
    pub max_connect_packet_size: u32,
    /// Subscriptions one session may hold; 0 = unlimited. More: SUBACK 0x97 (3.x: 0x80).
    pub max_subscriptions_per_client: usize,
    /// Levels of a topic name or filter; 0 = unlimited. More: the PUBLISH closes the
    /// connection (5.0: DISCONNECT 0x90), the filter gets SUBACK 0x8F (3.x: 0x80).
    pub max_topic_levels: usize,
    /// Concurrent client connections; `None` = unlimited.
    pub max_connections: Option<usize>,
    /// Outbound QoS 1/2 messages in flight per session (unacknowledged by the client).
    pub max_inflight_messages: u16,
    /// Topic aliases a 5.0 client may set for the broker (Mosquitto's max_topic_alias); 0:
    /// none.
    pub max_topic_alias: u16,
    /// Topic aliases the broker assigns, per 5.0 connection, for the topics it sends
    /// (connection/aliases_out.rs), at most the client's Topic Alias Maximum; 0: none.
    pub max_topic_alias_out: u16,
    /// The Receive Maximum announced to 5.0 clients: QoS 1/2 PUBLISHes a client may have
    /// unacknowledged before it gets DISCONNECT 0x93; 65,535 (the protocol maximum) is not
    /// announced.
    pub receive_maximum: u16,
    /// 5.0 Subscription Identifiers are accepted and sent with deliveries (false: SUBACK 0xA1).
    pub subscription_identifiers_available: bool,
    /// Filters with `+` or `#` are accepted (false: SUBACK 0xA2, 3.x 0x80).
    pub wildcard_subscriptions_available: bool,
    /// Retained messages are accepted (false: a PUBLISH or Will with RETAIN closes the
    /// connection, as in Mosquitto).
    pub retain_available: bool,
    /// Longest keep-alive a client may use, seconds (Mosquitto's max_keepalive): a 5.0
    /// client is told it as Server Keep Alive, a 3.x client asking for more is refused.
    pub max_keepalive: u16,
    /// Messages queued per session beyond the inflight window; 0 = unlimited.
    pub max_queued_messages: usize,
    /// Payload bytes queued per session; 0 = unlimited.
    pub max_queued_bytes: usize,
    pub queue_overflow: OverflowPolicy,
    /// Queue QoS 0 messages for offline persistent sessions (Mosquitto's queue_qos0_messages).
    pub queue_qos0_messages: bool,
    /// Accept clients without a username.
    pub allow_anonymous: bool,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// A peer that accepts no bytes for this long is disconnected.
    pub write_timeout: Duration,
    /// Period of the $SYS publication; `None` disables $SYS.
    pub sys_interval: Option<Duration>,
    /// Worker arbiters (threads) for connections and sessions; 0 = one per CPU core.
    pub worker_threads: usize,
    /// What "written" means before a QoS 1/2 message or a retained message is acknowledged.
    pub sync: SyncPolicy,
    /// Period of the WAL fsync with `SyncPolicy::Periodic`.
    pub sync_interval: Duration,
    /// Persistent sessions of clients that stay away this long are deleted; `None` = never.
    pub session_expiry: Option<Duration>,
    /// Which messages get message-path traces (`[trace]`), replaced by SIGHUP; with none set
    /// the hot path tests one flag (trace_config.rs).
    pub trace: Arc<ConfigTrace>,
    /// `$share/{group}/{filter}` subscriptions are granted (and CONNACK says so).
    pub shared_subscriptions_available: bool,
    /// How a shared subscription's group picks the member that receives a message.
    pub shared_subscription_strategy: SharedStrategy,
    /// The runtime traces (started over the HTTP API), shared by every actor; with none
    /// running, a hop costs one atomic load (see trace_live.rs).
    pub live: Arc<LiveTraces>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            max_packet_size: 268_435_455 + 5,
            max_connect_packet_size: 65_536,
            max_subscriptions_per_client: 20_000,
            max_topic_levels: 128,
            max_connections: None,
            max_inflight_messages: 20,
            max_keepalive: u16::MAX,
            max_topic_alias: 10,
            max_topic_alias_out: 10,
            receive_maximum: u16::MAX,
            subscription_identifiers_available: true,
            wildcard_subscriptions_available: true,
            retain_available: true,
            max_queued_messages: 8192,
            max_queued_bytes: 0,
            queue_overflow: OverflowPolicy::DropNew,
            queue_qos0_messages: false,
            allow_anonymous: true,
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            sys_interval: Some(Duration::from_secs(10)),
            worker_threads: 0,
            sync: SyncPolicy::Periodic,
            sync_interval: Duration::from_millis(1000),
            session_expiry: Some(Duration::from_secs(30 * 24 * 3600)),
            trace: Arc::default(),
            shared_subscriptions_available: true,
            shared_subscription_strategy: SharedStrategy::RoundRobin,
            live: Arc::default(),
        }
    }
}
