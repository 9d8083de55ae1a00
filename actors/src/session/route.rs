//! Routing a message to its subscribers, as seen from one session (or the $SYS publisher).
//!
//! A `Router` caches the addresses of the subtrees it has used, so after the first message to a
//! topic tree a PUBLISH costs: one awaited `Match` per subtree (at most two, run concurrently),
//! then one non-awaited `Deliver` per subscriber. Not `Send`: each actor owns its own.

use crate::codec::{QoS, SubscriptionOptions};
use crate::message::{ClientId, Message};
use crate::retain::{RetainStore, StoreRetained};
use crate::session::messages::Deliver;
use crate::session::persist::stored_message;
use crate::topic;
use crate::topics::messages::{
    AddSubscription, Match, Matched, RemoveSubscription, ResolveSubtree, Subscriber, Subscription,
};
use crate::topics::{filter_key, TopicRouter, TopicSubtree, WILDCARD_KEY};
use actix::prelude::*;
use bytestring::ByteString;
use courtier_storage::writer::Commit;
use courtier_storage::{CommitWriter, DeliveryState, Op, QueuedRecord, StoreError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::sync::oneshot;

#[derive(Clone)]
pub struct Router {
    router: Addr<TopicRouter>,
    retain: Addr<RetainStore>,
    cache: Rc<RefCell<HashMap<ByteString, Addr<TopicSubtree>>>>,
    /// Where QoS 1/2 messages for persistent sessions are stored before the ack.
    persist: Option<Arc<CommitWriter>>,
    /// Completion signal of the latest publish: the next one delivers only after it, so
    /// publishes routed concurrently (a pipelining connection) still reach every subscriber in
    /// the order they were published [MQTT-4.6.0-6].
    last: Rc<RefCell<Option<oneshot::Receiver<()>>>>,
}

/// Why a message could not be routed (it is then not acknowledged).
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("actor unavailable: {0}")]
    Mailbox(#[from] MailboxError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl Router {
    pub fn new(
        router: Addr<TopicRouter>,
        retain: Addr<RetainStore>,
        persist: Option<Arc<CommitWriter>>,
    ) -> Router {
        Router {
            router,
            retain,
            cache: Rc::default(),
            persist,
            last: Rc::default(),
        }
    }

    pub fn retain_store(&self) -> &Addr<RetainStore> {
        &self.retain
    }

    async fn subtree(&self, key: &str) -> Result<Addr<TopicSubtree>, MailboxError> {
        if let Some(addr) = self.cache.borrow().get(key) {
            return Ok(addr.clone());
        }
        let key = ByteString::from(key);
        let addr = self
            .router
            .send(ResolveSubtree { key: key.clone() })
            .await?;
        self.cache.borrow_mut().insert(key, addr.clone());
        Ok(addr)
    }

    /// Store (if retained) and deliver `msg` to every matching subscriber once, at the highest
    /// QoS of its matching subscriptions. For persistent subscribers receiving QoS 1/2, the
    /// message is written to the store first, as the durability setting requires, so success
    /// means the message may be acknowledged. Returns the number of subscribers reached.
    ///
    /// The retained store is written and the place in the delivery order is taken when this is
    /// called, not when the future is first polled: call order is publish order.
    pub fn publish(
        &self,
        msg: Arc<Message>,
    ) -> impl std::future::Future<Output = Result<usize, RouteError>> + 'static {
        let stored = msg
            .retain
            .then(|| self.retain.send(StoreRetained { msg: msg.clone() }));
        let (done, next) = oneshot::channel();
        let prev = self.last.borrow_mut().replace(next);
        let this = self.clone();
        async move {
            if let Some(stored) = stored {
                stored.await??;
            }
            let matched = this.matches(&msg).await;
            if let Some(prev) = prev {
                // Whether the previous publish succeeded or not, it is over.
                let _ = prev.await;
            }
            let matched = matched?;
            // Submit the store writes, then deliver, then wait: the writer is FIFO, so whatever
            // a subscriber writes about this message later (sent, acknowledged) lands after it.
            let (commit, stored) = this.store_for_persistent(&msg, &matched);
            for (m, stored) in matched.iter().zip(stored) {
                m.subscriber.recipient.do_send(Deliver {
                    msg: msg.clone(),
                    qos: msg.qos.min(m.qos),
                    retain: false,
                    seq: stored.then_some(msg.trace.id),
                });
            }
            let _ = done.send(());
            commit.wait().await?;
            Ok(matched.len())
        }
    }

    /// Submit the store writes for the persistent subscribers that receive `msg` at QoS 1/2;
    /// returns the commit to await before acknowledging, and which matches were stored.
    fn store_for_persistent(&self, msg: &Message, matched: &[Matched]) -> (Commit, Vec<bool>) {
        let Some(writer) = &self.persist else {
            return (Commit::ready(), vec![false; matched.len()]);
        };
        let mut ops = Vec::new();
        let stored = matched
            .iter()
            .map(|m| {
                let qos = msg.qos.min(m.qos);
                let store = qos != QoS::AtMostOnce && m.subscriber.persistent.load(Relaxed);
                if store {
                    ops.push(Op::PutMessage {
                        client_id: m.subscriber.client_id.to_string(),
                        seq: msg.trace.id,
                        record: QueuedRecord {
                            message: stored_message(msg, qos, false),
                            state: DeliveryState::Queued,
                        },
                    });
                }
                store
            })
            .collect();
        (writer.commit(ops), stored)
    }

    /// Every subscriber matching `msg.topic`, once each, at its highest QoS.
    async fn matches(&self, msg: &Message) -> Result<Vec<Matched>, MailboxError> {
        let exact = self.subtree(topic::first_level(&msg.topic)).await?;
        let ask = |s: &Addr<TopicSubtree>| {
            s.send(Match {
                topic: msg.topic.clone(),
                trace: msg.trace,
            })
        };
        let matched = if msg.topic.starts_with('$') {
            // Wildcard-first filters never match '$' topics [MQTT-4.7.2-1].
            ask(&exact).await?
        } else {
            let wild = self.subtree(WILDCARD_KEY).await?;
            let (a, b) = futures_util::future::join(ask(&exact), ask(&wild)).await;
            let mut a = a?;
            a.extend(b?);
            a
        };
        Ok(dedupe(matched))
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
            .send(RemoveSubscription {
                filter,
                client_id,
                session_id,
            })
            .await
    }
}

/// One entry per subscriber, keeping the highest QoS of its matching filters. Every filter of a
/// session shares one `Arc<Subscriber>`, so pointer identity is session identity.
fn dedupe(mut matched: Vec<Matched>) -> Vec<Matched> {
    if matched.len() < 2 {
        return matched;
    }
    matched.sort_unstable_by_key(|m| Arc::as_ptr(&m.subscriber) as usize);
    let mut out: Vec<Matched> = Vec::with_capacity(matched.len());
    for m in matched {
        match out.last_mut() {
            Some(last) if Arc::ptr_eq(&last.subscriber, &m.subscriber) => {
                last.qos = last.qos.max(m.qos)
            }
            _ => out.push(m),
        }
    }
    out
}
