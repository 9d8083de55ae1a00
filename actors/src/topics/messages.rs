//! Messages handled by the TopicRouter and TopicSubtree actors.

use crate::codec::{QoS, SubscriptionOptions};
use crate::delivery::{DrainInbox, Inbox};
use crate::message::ClientId;
use actix::prelude::*;
use bytestring::ByteString;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize};
use std::sync::Arc;

/// A subscribing session as the tries see it. Shared by `Arc` between every filter of the
/// session, so a match hands out a pointer.
pub struct Subscriber {
    pub client_id: ClientId,
    /// Incarnation of the session actor: a late removal from an ended session must not remove
    /// the subscription of the session that replaced it.
    pub session_id: u64,
    /// Deliveries from publishers wait here; `wake` is sent when it was empty (see `crate::delivery`).
    pub inbox: Inbox,
    pub wake: Recipient<DrainInbox>,
    /// Whether the session is persistent (clean session = false): publishers then store the
    /// message for it before acknowledging. Changes when a client reconnects.
    pub persistent: AtomicBool,
    /// A connection is attached: shared subscriptions prefer members that are online.
    pub online: AtomicBool,
    /// Messages queued and in flight, as of the session's last turn: `shortest_queue` shared
    /// subscriptions prefer members with fewer.
    pub backlog: AtomicUsize,
    /// Plain (not shared) subscriptions of this entry in the tries, kept by the subtrees under
    /// their write locks. A publish whose matches all have at most one cannot match anyone
    /// twice, so it skips the sort that removes duplicates (`index.rs`, `dedupe`).
    pub filters: AtomicU32,
}

#[derive(Clone)]
pub struct Subscription {
    pub subscriber: Arc<Subscriber>,
    pub options: SubscriptionOptions,
}

/// One matching subscriber of a topic, with the QoS granted to the matching filter.
#[derive(Clone)]
pub struct Matched {
    pub subscriber: Arc<Subscriber>,
    pub qos: QoS,
    /// A matching subscription asked for Retain As Published (5.0): the delivery keeps the
    /// message's RETAIN flag [MQTT-3.3.1-12] instead of clearing it.
    pub retain_as_published: bool,
    /// Chosen as the one member of a shared subscription's group to receive the message.
    pub shared: bool,
}

impl Matched {
    pub fn new(sub: &Subscription, shared: bool) -> Matched {
        Matched {
            subscriber: sub.subscriber.clone(),
            qos: sub.options.qos,
            retain_as_published: sub.options.retain_as_published,
            shared,
        }
    }
}

/// The subtree responsible for a filter (created on demand).
#[derive(Message)]
#[rtype(result = "super::SubtreeHandle")]
pub struct ResolveSubtree {
    pub key: ByteString,
}

/// Add or replace a subscription. Answers true if it is new (not a replacement).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct AddSubscription {
    pub filter: ByteString,
    pub subscription: Subscription,
}

/// Remove a subscription if it still belongs to `session_id`. Answers true if removed.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct RemoveSubscription {
    pub filter: ByteString,
    pub client_id: ClientId,
    pub session_id: u64,
}
