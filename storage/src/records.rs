//! Persisted record types: plain serde data, encoded by `encoding.rs` behind a schema-version
//! header. Changing a record's shape means bumping `SCHEMA_VERSION` and teaching the decoder the
//! old one.

use serde::{Deserialize, Serialize};

/// A message as stored: in a retained slot or a session queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    /// For queued messages: the delivery QoS (min of published and granted).
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRecord {
    pub message: StoredMessage,
    pub state: DeliveryState,
}

/// A persistent session as loaded: its meta, its messages in order, and the inbound QoS 2
/// packet ids awaiting PUBREL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub meta: SessionMeta,
    /// (sequence, record), ascending by sequence.
    pub messages: Vec<(u64, QueuedRecord)>,
    pub inbound_qos2: Vec<u16>,
}

/// One change to the store. A batch of ops is applied atomically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace a session's meta.
    PutSession(SessionMeta),
    /// Remove a session with all its messages and inbound ids.
    DeleteSession(String),
    PutMessage {
        client_id: String,
        seq: u64,
        record: QueuedRecord,
    },
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

/// Everything a broker restores at start-up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub sessions: Vec<SessionRecord>,
    pub retained: Vec<RetainedRecord>,
}
