//! Persisted record types: plain serde data, encoded by `encoding.rs` behind a schema-version
//! header. Changing a record's shape means bumping `SCHEMA_VERSION` and teaching the decoder the
//! old one.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A retained message as stored (queued messages are a [`MessageBody`] plus [`QueuedRef`]s).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The QoS it was published with.
    pub qos: u8,
    pub retain: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedRecord {
    pub message: StoredMessage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub filter: String,
    pub qos: u8,
}

/// What a persistent session is, apart from its messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub client_id: String,
    /// 3, 4 or 5.
    pub protocol_level: u8,
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Unix time (ms) the client was last connected; drives expiry.
    pub last_seen_ms: u64,
}

/// Where an outbound message of a persistent session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryState {
    /// Not sent yet (or QoS 1 sent: resent from scratch after a restart).
    Queued,
    /// QoS 2 sent with this packet id, waiting for PUBREC.
    Sent { pkid: u16 },
    /// QoS 2 PUBREC received, PUBREL sent, waiting for PUBCOMP.
    Released { pkid: u16 },
}

/// The body of a queued message, stored once however many sessions queue it (column family
/// `bodies`, keyed by its id), or inside the entry of the one session that queues it
/// ([`QueuedRef::inline`]). Its id is the broker-wide message id (`TraceContext::id`), which
/// is also each referencing entry's sequence: see [`QueuedRef`].
///
/// There are no publish properties to keep: the broker speaks MQTT 3.1/3.1.1 only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The RETAIN flag the queued deliveries carry.
    pub retain: bool,
}

/// One session's queue entry: a reference to a body plus what is particular to this delivery.
/// Stored under (client id, sequence) in `messages`, where the sequence *is* the body's id:
/// message ids are broker-unique and increasing, so one number orders the queue and names the
/// body, and deleting an entry needs no read to find which body it released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRef {
    /// The delivery QoS (min of published and granted).
    pub qos: u8,
    pub state: DeliveryState,
    /// The body itself, when the message was queued for this session alone: then there is no
    /// shared body to write and to delete, and a message for a single persistent session costs
    /// one record, as before bodies were shared (splitting it doubles the store's writes and
    /// deletes for the most common case). `None`: the body is the shared one in `bodies`.
    pub inline: Option<MessageBody>,
}

/// A queue entry as loaded: its reference joined with the body (shared by every session that
/// queues it, so loading N references to one body holds one copy of the payload).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedMessage {
    pub body: Arc<MessageBody>,
    pub qos: u8,
    pub state: DeliveryState,
}

/// A persistent session as loaded: its meta, its messages in order, and the inbound QoS 2
/// packet ids awaiting PUBREL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub meta: SessionMeta,
    /// (sequence = body id, message), ascending by sequence.
    pub messages: Vec<(u64, QueuedMessage)>,
    pub inbound_qos2: Vec<u16>,
}

/// One change to the store. A batch of ops is applied atomically, in order.
///
/// Bodies are reference-counted by the store: a body goes in the same batch as the first
/// references to it (the router writes one `PutBody` and one `PutMessage` per persistent
/// subscriber), and the store deletes it in the batch that removes its last reference
/// (`DeleteMessage`, `DeleteSession`). A body no entry references at the end of a batch is not
/// kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace a session's meta.
    PutSession(SessionMeta),
    /// Remove a session with all its entries (releasing their bodies) and inbound ids.
    DeleteSession(String),
    /// Store a message body under `id` (a message id, never reused).
    PutBody {
        id: u64,
        body: MessageBody,
    },
    /// Add an entry to `client_id`'s queue: with its body inline, or referencing the shared
    /// body `seq`, which must then be stored (in this batch or an earlier one). Adding an entry
    /// that exists changes nothing.
    PutMessage {
        client_id: String,
        seq: u64,
        entry: QueuedRef,
    },
    /// Change an existing entry's QoS 2 progress. `inline` carries the message's body (the
    /// session has it at hand): it is written back for an entry that holds its body inline
    /// (the store rewrites the whole value, it does not read it first) and dropped for one
    /// that references a shared body. Ignored if the entry is gone (it was delivered or its
    /// session deleted meanwhile), so a late update never revives it.
    UpdateMessage {
        client_id: String,
        seq: u64,
        entry: QueuedRef,
    },
    /// Remove an entry, and its body if no other entry references it. Idempotent.
    DeleteMessage {
        client_id: String,
        seq: u64,
    },
    PutInbound {
        client_id: String,
        pkid: u16,
    },
    DeleteInbound {
        client_id: String,
        pkid: u16,
    },
    PutRetained(RetainedRecord),
    DeleteRetained(String),
}

/// Counts of what a store holds, for tests and diagnostics (computed by a scan).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub sessions: usize,
    /// Stored message bodies.
    pub bodies: usize,
    /// Queue entries over all sessions (references to shared bodies and inline ones).
    pub references: usize,
    pub retained: usize,
}

/// Everything a broker restores at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub sessions: Vec<SessionRecord>,
    pub retained: Vec<RetainedRecord>,
    /// Every body id the store has ever been given is at most this: the broker starts its
    /// message ids above it, so a body id is never reused, not even one whose body is gone.
    pub body_high_water: u64,
}
