//! TopicSubtree: one actor per first topic level (plus one for wildcard-first filters), owning a
//! subscription trie. Its handlers are synchronous and short: match, add, remove.

use super::messages::{AddSubscription, Match, Matched, RemoveSubscription, Subscription};
use super::trie::SubscriptionTrie;
use crate::guardian::{ChildFailed, Guardian};
use crate::message::ClientId;
use crate::metrics::Metrics;
use actix::prelude::*;
use bytestring::ByteString;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub struct TopicSubtree {
    key: ByteString,
    trie: SubscriptionTrie<ClientId, Subscription>,
    metrics: Arc<Metrics>,
    guardian: Option<Addr<Guardian>>,
}

impl TopicSubtree {
    pub fn new(key: ByteString, metrics: Arc<Metrics>, guardian: Option<Addr<Guardian>>) -> Self {
        TopicSubtree {
            key,
            trie: SubscriptionTrie::new(),
            metrics,
            guardian,
        }
    }
}

impl Actor for TopicSubtree {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        // Publishers await Match; a deep mailbox only adds latency, so keep the default bound.
        ctx.set_mailbox_capacity(1024);
    }
}

impl Supervised for TopicSubtree {
    /// The trie lives in the actor value, which actix keeps across a restart; subscriptions are
    /// therefore intact. Drop subscribers whose session actor is gone (they can no longer be
    /// delivered to and would otherwise leak), then report.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        let stale: Vec<(String, ClientId)> = self
            .trie
            .iter()
            .filter(|(_, _, s)| !s.subscriber.recipient.connected())
            .map(|(f, k, _)| (f, k.clone()))
            .collect();
        for (filter, key) in &stale {
            if self.trie.remove(filter, key).is_some() {
                self.metrics.subscriptions.fetch_sub(1, Relaxed);
            }
        }
        log::warn!(
            "TopicSubtree {:?} restarted with {} subscriptions ({} stale removed)",
            &*self.key,
            self.trie.len(),
            stale.len()
        );
        ChildFailed::report(&self.guardian, &self.metrics, "TopicSubtree");
    }
}

impl Handler<Match> for TopicSubtree {
    type Result = MessageResult<Match>;
    fn handle(&mut self, msg: Match, _ctx: &mut Context<Self>) -> Self::Result {
        let mut out = Vec::new();
        self.trie.for_each_match(&msg.topic, |_, sub| {
            out.push(Matched {
                subscriber: sub.subscriber.clone(),
                qos: sub.options.qos,
            })
        });
        if msg.trace.traced {
            log::debug!(
                target: "courtier::trace",
                "msg={} subtree={:?} matched={}",
                msg.trace.id,
                &*self.key,
                out.len()
            );
        }
        MessageResult(out)
    }
}

impl Handler<AddSubscription> for TopicSubtree {
    type Result = bool;
    fn handle(&mut self, msg: AddSubscription, _ctx: &mut Context<Self>) -> bool {
        let key = msg.subscription.subscriber.client_id.clone();
        let is_new = self
            .trie
            .insert(&msg.filter, key, msg.subscription)
            .is_none();
        if is_new {
            self.metrics.subscriptions.fetch_add(1, Relaxed);
        }
        is_new
    }
}

impl Handler<RemoveSubscription> for TopicSubtree {
    type Result = bool;
    fn handle(&mut self, msg: RemoveSubscription, _ctx: &mut Context<Self>) -> bool {
        match self.trie.remove(&msg.filter, &msg.client_id) {
            Some(sub) if sub.subscriber.session_id != msg.session_id => {
                // Belongs to a newer session of the same client: put it back.
                self.trie.insert(&msg.filter, msg.client_id, sub);
                false
            }
            Some(_) => {
                self.metrics.subscriptions.fetch_sub(1, Relaxed);
                true
            }
            None => false,
        }
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::guardian::InjectFailure> for TopicSubtree {
    type Result = ();
    fn handle(&mut self, _: crate::guardian::InjectFailure, ctx: &mut Context<Self>) {
        log::error!(
            "TopicSubtree {:?}: injected failure, stopping for restart",
            &*self.key
        );
        ctx.stop();
    }
}
