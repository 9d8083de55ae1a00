//! Persisted record types. Plain data with serde, so any backend can encode them.

use serde::{Deserialize, Serialize};

/// A message as stored: in a retained slot or a session queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub topic: String,
    pub payload: Vec<u8>,
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

/// An outbound QoS 1/2 message that was sent and not yet completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOutbound {
    pub pkid: u16,
    /// QoS of this delivery (min of publish and granted).
    pub qos: u8,
    /// For QoS 2: PUBREC received, PUBREL sent, waiting for PUBCOMP.
    pub released: bool,
    pub message: StoredMessage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub client_id: String,
    /// 3, 4 or 5.
    pub protocol_level: u8,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub inflight: Vec<StoredOutbound>,
    /// Messages waiting for the client, with their delivery QoS.
    pub queued: Vec<StoredMessage>,
    /// Inbound QoS 2 packet ids received and not yet released by PUBREL.
    pub inbound_qos2: Vec<u16>,
    /// Unix time (ms) the client was last connected; drives expiry.
    pub last_seen_ms: u64,
}
