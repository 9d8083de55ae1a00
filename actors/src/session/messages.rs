//! Messages handled by the Session actor.

use crate::close::CloseReason;
use crate::codec::{LastWill, Packet, ProtocolVersion, QoS};
use crate::connection::Credit;
use crate::connection::{Connection, Outbox};
use crate::message::Message;
use actix::prelude::*;
use actix::WeakAddr;
use std::sync::Arc;

/// A routed message for this session's client. Pushed into its inbox by publishers (inbox.rs):
/// never awaited, so one slow subscriber cannot stall a publisher (ARCHITECTURE.md §3 step 4).
#[derive(Clone)]
pub struct Deliver {
    pub msg: Arc<Message>,
    /// min(publish QoS, granted QoS).
    pub qos: QoS,
    /// RETAIN flag on the wire: false for live forwarding [MQTT-3.3.1-9].
    pub retain: bool,
    /// Set when the publisher stored this delivery for the (persistent) session: the sequence
    /// it is stored under.
    pub seq: Option<u64>,
}

/// A connection whose CONNECT was accepted takes this session over.
#[derive(Message, Clone)]
#[rtype(result = "Result<Attached, SessionEnded>")]
pub struct Attach {
    pub conn_id: u64,
    /// Weak: the connection lives as long as its socket, not as long as its session holds
    /// it, and a strong `Addr` clone is two allocations of its own (~70 bytes per client).
    pub conn: WeakAddr<Connection>,
    pub writer: Outbox,
    pub clean_start: bool,
    pub protocol: ProtocolVersion,
    pub will: Option<LastWill>,
    /// The authenticated user name, which authorization checks use (auth.rs).
    pub username: Option<bytestring::ByteString>,
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

/// Broker shutdown: close the connection without a Will and persist.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownSession;
