//! Messages handled by the Session actor.

use crate::close::CloseReason;
use crate::codec::{ConnAckProperties, LastWill, Packet, ProtocolVersion, Publish};
use crate::connection::Credit;
use crate::connection::{Connection, Outbox};
use actix::prelude::*;
use actix::WeakAddr;
use std::num::NonZeroU32;

/// A connection whose CONNECT was accepted takes this session over.
#[derive(Message, Clone)]
#[rtype(result = "Result<Attached, SessionEnded>")]
pub struct Attach {
    pub conn_id: u64,
    /// Weak: the connection lives as long as its socket, not as long as its session holds
    /// it, and a strong `Addr` clone is two allocations of its own (~70 bytes per client).
    pub conn: WeakAddr<Connection>,
    pub writer: Outbox,
    /// Discard any previous session [MQTT-3.1.2-4].
    pub clean_start: bool,
    /// The session outlives this connection (3.x clean session 0, 5.0 a non-zero Session
    /// Expiry Interval).
    pub persistent: bool,
    pub protocol: ProtocolVersion,
    /// 5.0: the Session Expiry Interval in seconds (`u32::MAX`: never); `None` for 3.x, whose
    /// persistent sessions expire after the broker's `session_expiry_secs`.
    pub session_expiry: Option<u32>,
    /// 5.0: the properties of the CONNACK the session sends.
    pub connack: Option<Box<ConnAckProperties>>,
    pub will: Option<LastWill>,
    /// The authenticated user name, which authorization checks use (auth.rs).
    pub username: Option<bytestring::ByteString>,
    /// The client's address for denial log lines; given only when an ACL is in force, so
    /// that other clients cost nothing more (session/denied.rs).
    pub peer: Option<std::sync::Arc<str>>,
    /// 5.0: the largest packet the client accepts.
    pub max_packet_size: Option<NonZeroU32>,
    /// 5.0: how many QoS 1/2 deliveries the client takes unacknowledged.
    pub receive_maximum: Option<std::num::NonZeroU16>,
}

#[derive(Debug, Clone, Copy)]
pub struct Attached {
    pub session_present: bool,
}

/// The session ended before the Attach was handled; ask the registry for a new one.
#[derive(Debug, Clone, Copy)]
pub struct SessionEnded;

/// The connection `conn_id` closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Detach {
    pub conn_id: u64,
    pub reason: CloseReason,
    /// 5.0: the Session Expiry Interval the client's DISCONNECT set.
    pub expiry: Option<u32>,
}

/// A packet from the client, after CONNECT. Sent with `do_send`, in order of receipt; the
/// credit goes back to the connection once the packet is handled and its reply is handed to the
/// writer, which bounds what a connection has in flight (connection/credit.rs).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Inbound {
    pub conn_id: u64,
    pub packet: Packet,
    pub credit: Credit,
}

/// PUBLISH packets the client sent one after another, in order, each with its credit: what a
/// turn of the connection read, handed over in one actix message rather than one per packet
/// (connection/publishes.rs). Handled as that many [`Inbound`] would be, with one drain.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InboundPublishes {
    pub conn_id: u64,
    pub publishes: Vec<(Publish, Credit)>,
}

/// An acknowledgement of a delivery, as the client sent it (without reason code or
/// properties: those go as a whole `Inbound` packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAck {
    PubAck(u16),
    PubRec(u16),
    PubComp(u16),
}

/// PUBACKs, PUBRECs and PUBCOMPs the client sent one after another, in order, with one credit
/// for all (connection/acks.rs).
#[derive(Message)]
#[rtype(result = "()")]
pub struct InboundAcks {
    pub conn_id: u64,
    pub acks: Vec<ClientAck>,
    pub credit: Credit,
}

/// Handled once the session is ready for clients: a restored session's subscriptions are in
/// the tries by then (it holds its mailbox until they are), so the registry can tell the
/// broker to open the listeners.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Restored;

/// Broker shutdown: close the connection without a Will and persist.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownSession;

/// Which clients lost the right to be connected after a reload of the security settings:
/// given a connected client's user name (`None`: anonymous), why it must go, if it must.
pub type RevokedBy = std::sync::Arc<dyn Fn(Option<&str>) -> Option<String> + Send + Sync>;

/// Close the attached connection if [`RevokedBy`] says its user was withdrawn (5.0:
/// DISCONNECT 0x98). Sessions without a connection are left alone: their client is checked
/// again when it reconnects.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Revoke(pub RevokedBy);
