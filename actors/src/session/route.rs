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

#[derive(Clone)]
pub struct Router {
    router: Addr<TopicRouter>,
    retain: Addr<RetainStore>,
    cache: Rc<RefCell<HashMap<ByteString, Addr<TopicSubtree>>>>,
    /// Where QoS 1/2 messages for persistent sessions are stored before the ack.
    persist: Option<Arc<CommitWriter>>,
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
    /// message is written to the store first, as the durability setting requires, so returning
    /// `Ok` means the message may be acknowledged. Returns the number of subscribers reached.
    pub async fn publish(&self, msg: Arc<Message>) -> Result<usize, RouteError> {
        if msg.retain {
            self.retain
                .send(StoreRetained { msg: msg.clone() })
                .await??;
        }
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
        let matched = dedupe(matched);
        // Submit the store writes, then deliver, then wait: the writer is FIFO, so whatever a
        // subscriber writes about this message later (sent, acknowledged) lands after it.
        let mut ops = Vec::new();
        let stored: Vec<bool> = matched
            .iter()
            .map(|m| {
                let qos = msg.qos.min(m.qos);
                let store = self.persist.is_some()
                    && qos != QoS::AtMostOnce
                    && m.subscriber.persistent.load(Relaxed);
                if store {
                    ops.push(Op::PutMessage {
                        client_id: m.subscriber.client_id.to_string(),
                        seq: msg.trace.id,
                        record: QueuedRecord {
                            message: stored_message(&msg, qos, false),
                            state: DeliveryState::Queued,
                        },
                    });
                }
                store
            })
            .collect();
        let commit = match &self.persist {
            Some(w) => w.commit(ops),
            None => Commit::ready(),
        };
        for (m, stored) in matched.iter().zip(stored) {
            m.subscriber.recipient.do_send(Deliver {
                msg: msg.clone(),
                qos: msg.qos.min(m.qos),
                retain: false,
                seq: stored.then_some(msg.trace.id),
            });
        }
        commit.wait().await?;
        Ok(matched.len())
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
