//! A routed message on its way to one subscriber, below both the topic tries and the sessions
//! (and traces), so that each of them depends on this module and none on another.
//!
//! - [`Deliver`]: what a publisher hands a subscriber.
//! - [`Inbox`] and [`DrainInbox`]: where deliveries wait between two turns of the subscribing
//!   session (see the section below).
//! - [`Offer`]: what the session did with a delivery (queued, dropped, evicted others).
//!
//! ## The inbox: deliveries gathered between two turns of the session
//!
//! A publisher used to `do_send` one `Deliver` per matching subscriber: one envelope and one
//! mailbox node allocated, and the subscriber's task woken, per delivery. Now it pushes the
//! delivery into the subscriber's inbox and sends a [`DrainInbox`] only when the inbox was
//! empty, so a subscriber that receives 16 messages before it next runs gets one message, not
//! 16, and handles them in one turn, with one `drain` into its writer. Order is kept: one
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

/// A routed message for this session's client. Pushed into its inbox by publishers ([`Inbox`]):
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
    items: Vec<Deliver>,
    closed: bool,
}

impl Inbox {
    /// Add a delivery; true if the inbox was empty, so the caller must send a [`DrainInbox`].
    pub fn push(&self, d: Deliver) -> bool {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.closed {
            return false;
        }
        q.items.push(d);
        q.items.len() == 1
    }

    /// Swap everything waiting into `into` (empty; its capacity is reused by the next pushes).
    pub fn take(&self, into: &mut Vec<Deliver>) {
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

    fn deliver(n: u64) -> Deliver {
        Deliver {
            msg: Arc::new(Message::new(
                "t".into(),
                bytes::Bytes::new(),
                QoS::AtMostOnce,
                false,
            )),
            qos: QoS::AtMostOnce,
            retain: false,
            seq: Some(n),
        }
    }

    #[test]
    fn only_the_first_push_after_a_take_asks_for_a_wake_up() {
        let inbox = Inbox::default();
        assert!(inbox.push(deliver(1)));
        assert!(!inbox.push(deliver(2)));
        let mut got = Vec::new();
        inbox.take(&mut got);
        assert_eq!(
            got.iter().map(|d| d.seq).collect::<Vec<_>>(),
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
