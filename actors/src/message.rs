//! The routing-level message: what travels between actors once a PUBLISH is accepted.
//!
//! A `Message` has no packet id (ids belong to one session's window) and is shared with `Arc`
//! by every subscriber it reaches, so fan-out copies a pointer, not the payload.

use crate::codec::{ProtocolVersion, PublishProperties, QoS};
use bytes::Bytes;
use bytestring::ByteString;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Client identifiers are shared between actors; cloning is a refcount.
pub type ClientId = ByteString;

/// A message's broker-wide name: unique and increasing, it orders a persistent session's queue
/// in the store (the entry's sequence), names the stored body, and is the `msg=` of every trace
/// line about the message. A message restored from the store gets its id back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MessageId(pub u64);

static NEXT_MESSAGE_ID: AtomicU64 = AtomicU64::new(1);

impl MessageId {
    /// A fresh id for a message entering the broker.
    pub fn next() -> MessageId {
        MessageId(NEXT_MESSAGE_ID.fetch_add(1, Ordering::Relaxed))
    }

    /// Make every later id greater than `n` and than the current time in ms shifted left by 20
    /// bits, so ids stay unique across restarts even if the store lost its highest sequence.
    pub fn ensure_above(n: u64) {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_millis() as u64) << 20)
            .unwrap_or(0);
        NEXT_MESSAGE_ID.fetch_max(n.max(clock) + 1, Ordering::Relaxed);
    }

    /// The id as the store's sequence and body key.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether (and, as tracing grows, how) a message's hops are recorded. Carried by every
/// message that crosses actors, so each hop costs one branch (`if trace.traced { .. }`) when
/// tracing is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TraceContext {
    /// Whether hops record (actor, event, time) for this message.
    pub traced: bool,
    /// How it entered the broker, and the publisher's protocol (none for the broker's own
    /// messages): its runtime traces' `received` record says so (see
    /// [`TraceContext::entered`]).
    pub via: Via,
    pub protocol: Option<ProtocolVersion>,
    /// Bits of the runtime traces this message belongs to (see trace_live.rs); 0: none.
    pub live: u32,
}

impl TraceContext {
    /// This context, for a message that entered `via` from a client speaking `protocol`.
    pub fn entered(self, via: Via, protocol: ProtocolVersion) -> TraceContext {
        TraceContext {
            via,
            protocol: Some(protocol),
            ..self
        }
    }
}

/// How a message entered the broker (`via=` in its `received` record).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Via {
    /// A client's PUBLISH (and a message the store kept, which entered so).
    #[default]
    Publish,
    /// A client's Will.
    Will,
}

impl Via {
    pub fn name(self) -> &'static str {
        match self {
            Via::Publish => "publish",
            Via::Will => "will",
        }
    }
}

pub struct Message {
    pub topic: ByteString,
    pub payload: Bytes,
    /// QoS the publisher used; a subscriber receives `min(qos, granted)`.
    pub qos: QoS,
    /// The RETAIN flag as published.
    pub retain: bool,
    /// 5.0 properties to forward (`None` for none, always for 3.x). Their Message Expiry
    /// Interval is the one received; what is sent is the time left (`expires_at_ms`).
    pub properties: Option<Box<PublishProperties>>,
    /// MQTT 5.0 Message Expiry: the wall-clock time (unix ms) after which the message is no
    /// longer delivered [MQTT-3.3.2-5]; `None`: never. Wall-clock, so that a message stored
    /// across a restart expires when it would have.
    pub expires_at_ms: Option<u64>,
    /// Client id of the publisher ("" for broker-generated messages such as $SYS).
    pub origin: ClientId,
    pub id: MessageId,
    pub trace: TraceContext,
}

impl Message {
    pub fn new(topic: ByteString, payload: Bytes, qos: QoS, retain: bool) -> Message {
        Message {
            topic,
            payload,
            qos,
            retain,
            properties: None,
            expires_at_ms: None,
            origin: ClientId::new(),
            id: MessageId::next(),
            trace: TraceContext::default(),
        }
    }
}

impl Message {
    /// The message's properties as the store keeps them: the codec's encoding, empty for none.
    pub fn stored_properties(&self) -> Vec<u8> {
        self.properties
            .as_ref()
            .map_or_else(Vec::new, |p| p.to_bytes().to_vec())
    }

    /// Properties read back from the store; unreadable ones (a store written by a buggy
    /// broker) are logged and dropped rather than failing the whole restore.
    pub fn restored_properties(bytes: &[u8]) -> Option<Box<PublishProperties>> {
        if bytes.is_empty() {
            return None;
        }
        match PublishProperties::from_bytes(bytes) {
            Ok(p) => Some(Box::new(p)),
            Err(e) => {
                log::warn!("stored message properties unreadable, dropped: {e}");
                None
            }
        }
    }

    /// The expiry of a message received now with `props`: `None` without a Message Expiry
    /// Interval.
    pub fn expiry_from(props: Option<&PublishProperties>, now_ms: u64) -> Option<u64> {
        let secs = props?.message_expiry_interval?;
        Some(now_ms.saturating_add(u64::from(secs) * 1000))
    }

    /// Whether the message's expiry interval has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// The Message Expiry Interval to send with the message now: the seconds it has left
    /// [MQTT-3.3.2-6], at least 1 (it is still being delivered). Reads the clock only for a
    /// message that expires.
    pub fn remaining_expiry(&self) -> Option<u32> {
        let at = self.expires_at_ms?;
        let left_ms = at.saturating_sub(unix_ms());
        Some(left_ms.div_ceil(1000).clamp(1, u64::from(u32::MAX)) as u32)
    }

    /// This message as a PUBLISH to one subscriber, with that delivery's header.
    pub fn as_publish(
        &self,
        pkid: Option<u16>,
        qos: QoS,
        dup: bool,
        retain: bool,
    ) -> crate::codec::PublishRef<'_> {
        crate::codec::PublishRef {
            dup,
            qos,
            retain,
            topic: &self.topic,
            pkid,
            payload: &self.payload,
            properties: self.properties.as_deref(),
            message_expiry_interval: self.remaining_expiry(),
            subscription_identifiers: &[],
            topic_alias: None,
        }
    }
}

/// The wall-clock time in unix milliseconds (message and session expiry).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print payloads (see the codec's Publish Debug).
        f.debug_struct("Message")
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.len())
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("origin", &self.origin)
            .field("id", &self.id)
            .field("trace", &self.trace)
            .finish()
    }
}
