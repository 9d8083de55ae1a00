//! Bridges: store-and-forward links to other brokers (`[[bridges]]`).
//!
//! A bridge is a persistent subscriber on the local broker for its `out` topics: the
//! publishers' routers write each QoS 1/2 message into the bridge's store queue before the
//! publisher's PUBACK, exactly as for a persistent session, so the queue survives remote
//! outages, restarts and kill -9. The bridge sends the queue in order over one MQTT client
//! connection (the broker's own codec, [`link`]) and deletes each entry when the remote
//! acknowledges it. `in` topics are subscribed on the remote and published locally through the
//! router. Loop prevention: the bridge's local subscriptions are No Local, so what it
//! publishes locally never goes back out; on the remote, 5.0 No Local or (3.1.1) Mosquitto's
//! bridge bit (`try_private`).
//!
//! - [`topics`]: the entries and the prefix mapping (pure). [`queue`]: the outbound queue and
//!   in-flight window (pure). [`backoff`]: restart delays (pure).
//! - [`local`]: the local side (the subscriber, the store, local publishes, `$SYS` state).
//! - [`link`]: one connection to the remote; [`run`]: connect, serve, back off, again;
//!   [`status`]: what /metrics and the API show.

pub mod backoff;
pub mod link;
pub mod local;
pub mod queue;
pub mod run;
pub mod status;
pub mod topics;

pub use backoff::Backoff;
pub use status::BridgeStatus;
pub use topics::{BridgeTopic, Direction};

use crate::codec::ProtocolVersion;
use crate::config::OverflowPolicy;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// The client id under which a bridge's queue is stored: it starts with the control character
/// U+0001, which an MQTT string should not hold (§1.5.4: no U+0001..U+001F), and CONNECT refuses ids starting with [`QUEUE_PREFIX`] (`connection/protocol.rs`),
/// so no client's session can collide with it. (U+0000 would do, but the store uses it as
/// its key separator.)
pub fn queue_id(name: &str) -> String {
    format!("{QUEUE_PREFIX}{name}")
}

/// Prefix of [`queue_id`]; the start-up restore hands these store sessions to the bridges
/// instead of the session registry.
pub const QUEUE_PREFIX: &str = "\u{1}bridge/";

/// A byte stream to the remote (TCP or TLS), opened by the server shell.
pub trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

pub type DialFuture = Pin<Box<dyn Future<Output = std::io::Result<Box<dyn Transport>>> + Send>>;

/// Opens a connection to one address ("host:port"); TLS is the shell's business.
pub type Dial = Arc<dyn Fn(&str) -> DialFuture + Send + Sync>;

/// One bridge, as the broker core runs it (the shell builds it from `[[bridges]]`).
#[derive(Clone, Debug)]
pub struct BridgeSpec {
    pub name: String,
    /// "host:port", tried in order.
    pub addresses: Vec<String>,
    /// Each attempt starts at the address after the last one used, instead of the first.
    pub round_robin: bool,
    pub topics: Vec<BridgeTopic>,
    pub remote_clientid: String,
    pub remote_username: Option<String>,
    pub remote_password: Option<String>,
    pub cleansession: bool,
    /// Seconds; 0 = none.
    pub keepalive: u16,
    pub protocol: ProtocolVersion,
    /// 3.1.1: set the bridge bit (0x80) in the CONNECT protocol level, as Mosquitto does; a
    /// remote that refuses it is asked again without.
    pub try_private: bool,
    pub restart: Backoff,
    /// Publish the connection state, retained, on `$SYS/broker/connection/<name>/state`.
    pub notifications: bool,
    pub max_queued_messages: usize,
    pub max_queued_bytes: usize,
    pub queue_overflow: OverflowPolicy,
    /// QoS 1/2 messages in flight to the remote at once.
    pub max_inflight: u16,
}

impl BridgeSpec {
    /// The retained local topic of the connection state (Mosquitto's notification topic).
    pub fn state_topic(&self) -> String {
        format!("$SYS/broker/connection/{}/state", self.name)
    }
}
