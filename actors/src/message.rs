//! The routing-level message: what travels between actors once a PUBLISH is accepted.
//!
//! A `Message` has no packet id (ids belong to one session's window) and is shared with `Arc`
//! by every subscriber it reaches, so fan-out copies a pointer, not the payload.

use crate::codec::{PublishProperties, QoS};
use bytes::Bytes;
use bytestring::ByteString;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Client identifiers are shared between actors; cloning is a refcount.
pub type ClientId = ByteString;

/// Carried by every message that crosses actors, so message-flow tracing can be added with one
/// branch per hop (`if trace.traced { record(..) }`) and costs nothing when off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TraceContext {
    /// Broker-unique message id (monotonic; 0 = none).
    pub id: u64,
    /// Whether hops should record (actor, event, time) for this message.
    pub traced: bool,
}

static NEXT_MESSAGE_ID: AtomicU64 = AtomicU64::new(1);

impl TraceContext {
    /// Make every later id greater than `n` and than the current time in ms shifted left by 20
    /// bits, so ids stay unique across restarts even if the store lost its highest sequence.
    pub fn ensure_ids_above(n: u64) {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_millis() as u64) << 20)
            .unwrap_or(0);
        NEXT_MESSAGE_ID.fetch_max(n.max(clock) + 1, Ordering::Relaxed);
    }

    /// A fresh context for a message entering the broker.
    pub fn new() -> TraceContext {
        TraceContext {
            id: NEXT_MESSAGE_ID.fetch_add(1, Ordering::Relaxed),
            traced: false,
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
    /// 5.0 properties to forward (`None` for none, always for 3.x).
    pub properties: Option<Box<PublishProperties>>,
    /// Client id of the publisher ("" for broker-generated messages such as $SYS).
    pub origin: ClientId,
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
            origin: ClientId::new(),
            trace: TraceContext::new(),
        }
    }
}

/// A PUBLISH on its way to one client: the shared message and this delivery's header. The
/// writer encodes it straight from the message, so sending one costs a reference count, not
/// copies of the topic and payload handles (nor a boxed `Packet`).
#[derive(Clone)]
pub struct Delivery {
    pub msg: Arc<Message>,
    pub pkid: Option<u16>,
    pub qos: QoS,
    pub dup: bool,
    pub retain: bool,
}

impl Delivery {
    pub fn as_publish(&self) -> crate::codec::PublishRef<'_> {
        crate::codec::PublishRef {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: &self.msg.topic,
            pkid: self.pkid,
            payload: &self.msg.payload,
            properties: self.msg.properties.as_deref(),
            message_expiry_interval: None,
            subscription_identifiers: &[],
            topic_alias: None,
        }
    }
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("msg", &self.msg.trace.id)
            .field("topic", &self.msg.topic)
            .field("pkid", &self.pkid)
            .field("qos", &self.qos)
            .field("dup", &self.dup)
            .finish()
    }
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
            .field("trace", &self.trace)
            .finish()
    }
}
