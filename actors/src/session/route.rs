//! Routing a message to its subscribers, as seen from one session (or the $SYS publisher).
//!
//! A PUBLISH is routed synchronously while the publishing session handles it: match in the
//! shared tries (topics/index.rs), submit the store writes for persistent subscribers, then one
//! non-awaited `Delivery` per subscriber. Delivery order is therefore the order in which a
//! session handles its publishes, with no completion chain. What remains asynchronous is only
//! what the acknowledgement must wait for (the retained store, the store writes): [`Routed`].
//! Not `Send`: each actor owns its own.

use crate::codec::{QoS, SubscriptionOptions};
use crate::delivery::{Delivery, DrainInbox};
use crate::message::{ClientId, Message};
use crate::retain::{RetainStore, StoreRetained};
use crate::session::persist::message_body;
use crate::topics::messages::{
    AddSubscription, Matched, RemoveSubscription, ResolveSubtree, Subscriber, Subscription,
};
use crate::topics::{filter_key, SubtreeHandle, TopicIndex, TopicRouter};
use actix::prelude::*;
use bytestring::ByteString;
use courtier_storage::writer::Commit;
use courtier_storage::{CommitWriter, DeliveryState, Op, QueuedRef, StoreError};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

#[derive(Clone)]
pub struct Router {
    router: Addr<TopicRouter>,
    index: Arc<TopicIndex>,
    retain: Addr<RetainStore>,
    /// Where QoS 1/2 messages for persistent sessions are stored before the ack.
    persist: Option<Arc<CommitWriter>>,
    /// The runtime traces, for the `matched` hop of a message in one.
    live: Option<Arc<crate::trace_live::LiveTraces>>,
}

thread_local! {
    /// Matches of the publish being routed, reused: matching allocates nothing once it has
    /// grown. Per thread rather than per session, so the Router is shared by every session
    /// (`SessionDeps`) instead of being ~70 bytes of each.
    static SCRATCH: std::cell::Cell<Vec<Matched>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Topic plus payload from which a message queued for several persistent sessions is stored
/// once and referenced, rather than copied into each session's entry. Sharing saves a copy per
/// extra subscriber but costs a record of its own and its reference count: with 4 KB payloads
/// into 10 offline sessions it took enqueueing from 5.3k to 22.9k msg/s and the store from
/// 208 MB to 21 MB, but with 64-byte payloads draining long queues went from 993k to 719k
/// deliveries/s (docs/PERFORMANCE.md, "Persistence").
const SHARE_BODIES_FROM: usize = 512;

/// Why a message could not be routed (it is then not acknowledged).
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("actor unavailable: {0}")]
    Mailbox(#[from] MailboxError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the retained store stopped before taking the message")]
    RetainStoreGone,
}

/// A routed message: delivered (handed to every subscriber but the publisher itself), and what
/// must still complete before it may be acknowledged.
pub struct Routed {
    /// The delivery to the publishing session itself, if it subscribes to the topic: the
    /// caller offers it in place, so it keeps its order against the caller's own replies.
    pub local: Option<Delivery>,
    /// How many subscribers the message matched (0: a 5.0 publisher hears "no matching
    /// subscribers").
    pub subscribers: usize,
    retained: Option<tokio::sync::oneshot::Receiver<Commit>>,
    commit: Commit,
}

impl Routed {
    /// Nothing to wait for: the message may be acknowledged now.
    pub fn is_ready(&self) -> bool {
        self.retained.is_none() && self.commit.is_ready()
    }

    /// Resolves once the retained store and the persistent copies are written.
    pub fn completion(self) -> impl std::future::Future<Output = Result<(), RouteError>> {
        let (retained, commit) = (self.retained, self.commit);
        async move {
            if let Some(stored) = retained {
                let commit = stored.await.map_err(|_| RouteError::RetainStoreGone)?;
                commit.wait().await?;
            }
            commit.wait().await?;
            Ok(())
        }
    }
}

impl Router {
    pub fn new(
        router: Addr<TopicRouter>,
        index: Arc<TopicIndex>,
        retain: Addr<RetainStore>,
        persist: Option<Arc<CommitWriter>>,
    ) -> Router {
        Router {
            router,
            index,
            retain,
            persist,
            live: None,
        }
    }

    /// Record the `matched` hop of messages in a runtime trace.
    pub fn with_live(mut self, live: Arc<crate::trace_live::LiveTraces>) -> Router {
        self.live = Some(live);
        self
    }

    pub fn retain_store(&self) -> &Addr<RetainStore> {
        &self.retain
    }

    async fn subtree(&self, key: &str) -> Result<SubtreeHandle, MailboxError> {
        if let Some(handle) = self.index.get(key) {
            return Ok(handle);
        }
        let key = ByteString::from(key);
        self.router.send(ResolveSubtree { key }).await
    }

    /// Store (if retained) and deliver `msg` to every matching subscriber once, at the highest
    /// QoS of its matching subscriptions; `me` is the publishing session's own subscriber
    /// entry, whose delivery is returned instead of sent. For persistent subscribers receiving
    /// QoS 1/2 the message is submitted to the store before it is delivered (the writer is
    /// FIFO, so whatever a subscriber writes about it later lands after it); the returned
    /// [`Routed`] completes when the store has it, as the durability setting requires.
    pub fn publish(&self, msg: &Arc<Message>, me: Option<&Arc<Subscriber>>) -> Routed {
        self.publish_with(msg, me, None)
    }

    /// As `publish`, writing `with` in the same store write as the message's persistent copies
    /// (alone if no persistent subscriber stores it): a QoS 2 id awaiting PUBREL is stored
    /// with the message it stands for, so after a crash both or neither are there; with the
    /// id alone the resent PUBLISH would be taken for a repeat and the message lost, with the
    /// message alone it would be routed twice [MQTT-4.3.3-2].
    pub fn publish_with(
        &self,
        msg: &Arc<Message>,
        me: Option<&Arc<Subscriber>>,
        with: Option<Op>,
    ) -> Routed {
        let retained = msg.retain.then(|| {
            let (stored, commit) = tokio::sync::oneshot::channel();
            self.retain.do_send(StoreRetained {
                msg: msg.clone(),
                stored,
            });
            commit
        });
        let mut matched = SCRATCH.take();
        self.index.matches(&msg.topic, me, &mut matched);
        let (commit, stored) = self.store_for_persistent(msg, &matched, with);
        if msg.trace.traced || msg.trace.live != 0 {
            crate::trace::matched(self.live.as_deref(), msg, &matched, &stored);
        }
        let mut local = None;
        for (i, m) in matched.iter().enumerate() {
            let stored = stored.get(i).copied().unwrap_or(false);
            // Live forwarding clears RETAIN [MQTT-3.3.1-9] unless the subscription asked for
            // Retain As Published [MQTT-3.3.1-12].
            let retain = msg.retain && m.retain_as_published;
            let deliver = Delivery::new(msg.clone(), msg.qos.min(m.qos), retain, stored);
            match me {
                // A shared subscription may pick the publisher as well: that copy goes through
                // its inbox.
                Some(me) if Arc::ptr_eq(me, &m.subscriber) && local.is_none() => {
                    local = Some(deliver)
                }
                _ => {
                    if m.subscriber.inbox.push(deliver) {
                        m.subscriber.wake.do_send(DrainInbox);
                    }
                }
            }
        }
        let subscribers = matched.len();
        matched.clear();
        SCRATCH.set(matched);
        Routed {
            local,
            subscribers,
            retained,
            commit,
        }
    }

    /// Deliver `msg` to `to`, a member of a shared subscription chosen in place of one whose
    /// connection broke: stored first if `to` is persistent (the write completes on its own;
    /// the publisher has had its acknowledgement long ago).
    pub fn hand_over(&self, msg: &Arc<Message>, to: &Matched) {
        let (_commit, stored) = self.store_for_persistent(msg, std::slice::from_ref(to), None);
        let stored = stored.first().copied().unwrap_or(false);
        let deliver = Delivery::new(msg.clone(), msg.qos.min(to.qos), false, stored);
        if to.subscriber.inbox.push(deliver) {
            to.subscriber.wake.do_send(DrainInbox);
        }
    }

    /// Submit the store writes for the persistent subscribers that receive `msg` at QoS 1/2,
    /// in one commit (so one atomic batch: a crash keeps the body with all its entries or
    /// neither): for one such subscriber, or a small message, each entry holds the body inline
    /// (one record to write and later delete); for a larger message and several subscribers,
    /// the body once, under the message id, and one small entry per subscriber referencing it
    /// (see [`SHARE_BODIES_FROM`]). Returns the commit to await before acknowledging, and
    /// which matches were stored (empty when none was: the common case allocates nothing).
    fn store_for_persistent(
        &self,
        msg: &Message,
        matched: &[Matched],
        with: Option<Op>,
    ) -> (Commit, Vec<bool>) {
        let Some(writer) = &self.persist else {
            return (Commit::ready(), Vec::new());
        };
        let alone = |with: Option<Op>| match with {
            Some(op) => writer.commit(vec![op]),
            None => Commit::ready(),
        };
        if msg.qos == QoS::AtMostOnce {
            return (alone(with), Vec::new());
        }
        let stores =
            |m: &Matched| m.qos != QoS::AtMostOnce && m.subscriber.persistent.load(Relaxed);
        let n = matched.iter().filter(|m| stores(m)).count();
        if n == 0 {
            return (alone(with), Vec::new());
        }
        let id = msg.id.get();
        let mut ops = Vec::with_capacity(n + 2);
        ops.extend(with);
        let body = message_body(msg, false);
        let share = n > 1 && msg.topic.len() + msg.payload.len() >= SHARE_BODIES_FROM;
        // A copy in every entry, or stored once for all of them.
        let mut inline = None;
        if share {
            ops.push(Op::PutBody { id, body });
        } else {
            inline = Some(body);
        }
        let mut left = n;
        let stored = matched
            .iter()
            .map(|m| {
                let store = stores(m);
                if store {
                    left -= 1;
                    ops.push(Op::PutMessage {
                        client_id: m.subscriber.client_id.to_string(),
                        seq: id,
                        entry: QueuedRef {
                            qos: msg.qos.min(m.qos) as u8,
                            state: DeliveryState::Queued,
                            inline: if left == 0 {
                                inline.take()
                            } else {
                                inline.clone()
                            },
                        },
                    });
                }
                store
            })
            .collect();
        (writer.commit(ops), stored)
    }

    /// Add (or replace) a subscription in its subtree.
    pub async fn subscribe(
        &self,
        filter: ByteString,
        subscriber: Arc<Subscriber>,
        options: SubscriptionOptions,
    ) -> Result<bool, MailboxError> {
        let subtree = self.subtree(filter_key(&filter)).await?;
        subtree
            .addr
            .send(AddSubscription {
                filter,
                subscription: Subscription {
                    subscriber,
                    options,
                },
            })
            .await
    }

    pub async fn unsubscribe(
        &self,
        filter: ByteString,
        client_id: ClientId,
        session_id: u64,
    ) -> Result<bool, MailboxError> {
        let subtree = self.subtree(filter_key(&filter)).await?;
        subtree
            .addr
            .send(RemoveSubscription {
                filter,
                client_id,
                session_id,
            })
            .await
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
