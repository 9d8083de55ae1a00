//! Persisted record types: plain serde data, encoded by `encoding.rs` behind a schema-version
//! header. Changing a record's shape means bumping `SCHEMA_VERSION` and teaching the migration
//! the old one (`migrate.rs`, with the old layouts in `migrate_layouts.rs`): bincode is not
//! self-describing, so a field added with `#[serde(default)]` does not make an older record
//! decode. The fields MQTT 5.0 added are therefore plain fields, set to their "absent" value
//! (noted on each) for 3.1/3.1.1 state and by the migration.

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
    /// See [`MessageBody::properties`].
    pub properties: Vec<u8>,
    /// See [`MessageBody::expires_at_ms`]: an expired retained message is no longer sent.
    pub expires_at_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetainedRecord {
    pub message: StoredMessage,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRecord {
    pub filter: String,
    pub qos: u8,
    /// The MQTT 5.0 subscription options byte without its QoS bits (0-1): no-local is bit 2,
    /// retain-as-published bit 3, retain-handling bits 4-5. 0 for MQTT 3.1/3.1.1 (none of
    /// them set, retain handling 0: send retained messages at subscribe).
    pub options: u8,
    /// The MQTT 5.0 subscription identifier the subscription was made with, sent back with
    /// every message it matches. `None`: none (always for 3.1/3.1.1).
    pub subscription_id: Option<u32>,
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
    /// The MQTT 5.0 Session Expiry Interval (seconds) the client asked for, in CONNECT or last
    /// changed in DISCONNECT; `u32::MAX` means the session never expires. `None` for
    /// MQTT 3.1/3.1.1 sessions, which expire after the broker's
    /// `persistence.session_expiry_secs`. The session expires at `last_seen_ms` plus this
    /// interval in wall-clock time (see [`SessionMeta::expires_at_ms`]), so a broker restart
    /// does not give it a new interval.
    pub expiry_interval_secs: Option<u32>,
}

impl SessionMeta {
    /// When (unix ms) this session expires if its client does not come back: `last_seen_ms`
    /// plus its own interval, or plus `default_secs` (the broker's setting for sessions without
    /// one; `None` = never) when it has none. `None`: it never expires. Saturates instead of
    /// overflowing.
    pub fn expires_at_ms(&self, default_secs: Option<u64>) -> Option<u64> {
        let secs = match self.expiry_interval_secs {
            Some(u32::MAX) => return None,
            Some(secs) => u64::from(secs),
            None => default_secs?,
        };
        Some(self.last_seen_ms.saturating_add(secs.saturating_mul(1000)))
    }
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
/// The MQTT 5.0 parts of a message (its properties and its expiry) belong to the message, so
/// they are kept here, once, not in each session's entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageBody {
    pub topic: String,
    pub payload: Vec<u8>,
    /// The RETAIN flag the queued deliveries carry.
    pub retain: bool,
    /// The message's MQTT 5.0 PUBLISH properties as the codec encodes them; the store does not
    /// look inside. Empty: none (always for a message published with MQTT 3.1/3.1.1).
    pub properties: Vec<u8>,
    /// When (unix ms, wall clock) the message expires, from its MQTT 5.0 Message Expiry
    /// Interval: an absolute time, so the interval keeps running while the broker is down,
    /// and a delivery can send what remains of it. `None`: it never expires.
    pub expires_at_ms: Option<u64>,
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

/// What the store's engine holds in memory, in bytes (RocksDB's own counts), for /metrics:
/// the part of the broker's resident memory that is the store's, bounded by its caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreMemory {
    /// Memtables of every column family (capped by `persistence.write_buffer_cap_mb`).
    pub memtables: u64,
    /// Index and filter blocks of the open table files.
    pub table_readers: u64,
    /// Blocks cached for reads.
    pub block_cache: u64,
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

#[cfg(test)]
mod tests {
    use super::SessionMeta;

    fn meta(last_seen_ms: u64, expiry_interval_secs: Option<u32>) -> SessionMeta {
        SessionMeta {
            client_id: "c".into(),
            protocol_level: 5,
            subscriptions: Vec::new(),
            last_seen_ms,
            expiry_interval_secs,
        }
    }

    #[test]
    fn a_session_expires_its_interval_after_it_was_last_seen() {
        assert_eq!(meta(1_000, Some(60)).expires_at_ms(Some(5)), Some(61_000));
        assert_eq!(meta(1_000, Some(0)).expires_at_ms(None), Some(1_000));
    }

    #[test]
    fn without_its_own_interval_the_broker_default_applies() {
        assert_eq!(meta(1_000, None).expires_at_ms(Some(5)), Some(6_000));
        assert_eq!(meta(1_000, None).expires_at_ms(None), None);
    }

    #[test]
    fn the_largest_interval_never_expires() {
        assert_eq!(meta(1_000, Some(u32::MAX)).expires_at_ms(Some(5)), None);
        let almost = meta(1_000, Some(u32::MAX - 1)).expires_at_ms(None);
        assert_eq!(almost, Some(1_000 + (u64::from(u32::MAX) - 1) * 1000));
    }

    #[test]
    fn expiry_saturates_instead_of_overflowing() {
        assert_eq!(
            meta(u64::MAX - 10, Some(60)).expires_at_ms(None),
            Some(u64::MAX)
        );
        assert_eq!(meta(1, None).expires_at_ms(Some(u64::MAX)), Some(u64::MAX));
        assert_eq!(
            meta(u64::MAX, Some(u32::MAX - 1)).expires_at_ms(None),
            Some(u64::MAX)
        );
    }
}
