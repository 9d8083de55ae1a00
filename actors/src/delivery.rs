//! A routed message on its way to one subscriber, below both the topic tries and the sessions
//! (and traces), so that each of them depends on this module and none on another.
//!
//! - [`Delivery`]: a message on its way to one subscriber, from the router to the writer.
//! - [`Inbox`] and [`DrainInbox`]: where deliveries wait between two turns of the subscribing
//!   session (see the section below).
//! - [`Offer`]: what the session did with a delivery (queued, dropped, evicted others).
//!
//! ## The inbox: deliveries gathered between two turns of the session
//!
//! A publisher pushes each delivery into the subscriber's inbox and sends a [`DrainInbox`]
//! only when the inbox was empty, rather than one actix message per delivery (an envelope, a
//! mailbox node and a wake-up each): a subscriber that receives 16 messages before it next
//! runs gets one message, not 16, and handles them in one turn, with one `drain` into its
//! writer. Order is kept: one
//! publisher's deliveries enter the inbox in the order it routed them [MQTT-4.6.0-6].
//!
//! Invariant: whenever the inbox holds deliveries, a `DrainInbox` sent after the first of
//! them is still to be handled (the push that found it empty sent one; handling takes
//! everything). So nothing waits in an inbox for a wake-up that never comes. A session that
//! has stopped closes its inbox (its subscriptions may outlive it in the tries for a moment):
//! pushes then drop the delivery, as a message to a stopped actor is dropped, instead of
//! piling up where nobody takes them.

use crate::codec::QoS;
use crate::message::{Message, MessageId, TraceContext};
use crate::metrics::DropReason;
use actix::prelude::*;
use std::sync::{Arc, Mutex};

/// A message on its way to one subscriber: the shared message (topic, payload, QoS, retain and
/// the publish properties that travel with it) plus what is particular to this delivery. It is
/// the one shape a delivery has from the router to the writer: pushed into the subscriber's
/// inbox by publishers ([`Inbox`], never awaited, so one slow subscriber cannot stall a
/// publisher: ARCHITECTURE.md §3 step 4), queued, in flight with its packet id, resent with
/// DUP, and encoded by the writer straight from the shared message (a reference count, not
/// copies of the topic and payload). What MQTT 5.0 adds per delivery goes here too.
#[derive(Clone)]
pub struct Delivery {
    pub msg: Arc<Message>,
    /// min(publish QoS, granted QoS).
    pub qos: QoS,
    /// RETAIN flag on the wire: false for live forwarding [MQTT-3.3.1-9], true for the
    /// retained messages a new subscription receives.
    pub retain: bool,
    /// The publisher stored this delivery for the subscriber's persistent session, under the
    /// message's id (see [`Delivery::seq`]).
    pub stored: bool,
    /// DUP: a resend after a reconnect [MQTT-3.3.1-1].
    pub dup: bool,
    /// The packet id, once in flight (QoS 1/2).
    pub pkid: Option<u16>,
}

impl Delivery {
    /// A delivery not sent yet.
    pub fn new(msg: Arc<Message>, qos: QoS, retain: bool, stored: bool) -> Delivery {
        Delivery {
            msg,
            qos,
            retain,
            stored,
            dup: false,
            pkid: None,
        }
    }

    /// Where the store keeps this delivery for the subscriber's persistent session: its queue
    /// entry's sequence, the message id; `None` if it is not stored.
    pub fn seq(&self) -> Option<u64> {
        self.stored.then(|| self.msg.id.get())
    }

    /// The PUBLISH to encode, straight from the shared message.
    pub fn as_publish(&self) -> crate::codec::PublishRef<'_> {
        self.msg
            .as_publish(self.pkid, self.qos, self.dup, self.retain)
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("msg", &self.msg.id)
            .field("topic", &self.msg.topic)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("stored", &self.stored)
            .field("dup", &self.dup)
            .field("pkid", &self.pkid)
            .finish()
    }
}

/// What a reconnect resends, in the original order [MQTT-4.4.0-1].
#[derive(Clone, Debug)]
pub enum Resend {
    /// The delivery again, with DUP and its packet id.
    Publish(Delivery),
    /// PUBREL for a QoS 2 delivery the client had acknowledged with PUBREC, with the id and
    /// trace context of its message (a `Copy` taken in `resume`, so the `released` hop needs
    /// no lookup of the in-flight entry, and untraced resends cost nothing more).
    PubRel(u16, (MessageId, TraceContext)),
}

impl Resend {
    /// The id and trace context of the message this resend belongs to.
    pub fn hop(&self) -> (MessageId, TraceContext) {
        match self {
            Resend::Publish(d) => (d.msg.id, d.msg.trace),
            Resend::PubRel(_, hop) => *hop,
        }
    }
}

/// What happened to a message offered to the session. Dropped deliveries name their store
/// sequence (if persisted) so the caller can delete them from the store.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    Accepted,
    /// Not kept; the reason is counted and logged by the caller.
    Dropped(DropReason, Option<u64>),
    /// Kept, but the oldest queued messages were evicted for it: their store sequences and
    /// trace contexts (so a traced one's drop shows in its trace).
    Evicted(Vec<(Option<u64>, MessageId, TraceContext)>),
}

/// Take the inbox's deliveries and send them on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DrainInbox;

#[derive(Default)]
pub struct Inbox {
    /// A mutex, not a lock-free queue: publishers and the session run on the same thread in
    /// most setups, and an uncontended lock is two atomic operations.
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    items: Vec<Delivery>,
    closed: bool,
}

impl Inbox {
    /// Add a delivery; true if the inbox was empty, so the caller must send a [`DrainInbox`].
    pub fn push(&self, d: Delivery) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return false;
        }
        q.items.push(d);
        q.items.len() == 1
    }

    /// Deliveries waiting.
    pub fn len(&self) -> usize {
        let q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Swap everything waiting into `into` (empty; its capacity is reused by the next pushes).
    pub fn take(&self, into: &mut Vec<Delivery>) {
        debug_assert!(into.is_empty());
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::swap(&mut q.items, into);
    }

    /// The session stopped: drop what waits and every later push.
    pub fn close(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.closed = true;
        q.items = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;
    use crate::message::Message;
    use std::sync::Arc;

    fn deliver(n: u64) -> Delivery {
        let mut m = Message::new("t".into(), bytes::Bytes::new(), QoS::AtMostOnce, false);
        m.id = crate::message::MessageId(n);
        Delivery::new(Arc::new(m), QoS::AtMostOnce, false, true)
    }

    #[test]
    fn only_the_first_push_after_a_take_asks_for_a_wake_up() {
        let inbox = Inbox::default();
        assert!(inbox.push(deliver(1)));
        assert!(!inbox.push(deliver(2)));
        let mut got = Vec::new();
        inbox.take(&mut got);
        assert_eq!(
            got.iter().map(|d| d.seq()).collect::<Vec<_>>(),
            [Some(1), Some(2)]
        );
        got.clear();
        assert!(
            inbox.push(deliver(3)),
            "empty again: the next push needs a wake-up"
        );
        inbox.take(&mut got);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn a_closed_inbox_keeps_nothing() {
        let inbox = Inbox::default();
        assert!(inbox.push(deliver(1)));
        inbox.close();
        assert!(!inbox.push(deliver(2)), "no wake-up for a stopped session");
        let mut got = Vec::new();
        inbox.take(&mut got);
        assert!(
            got.is_empty(),
            "deliveries to a stopped session are dropped, not kept"
        );
    }
}
