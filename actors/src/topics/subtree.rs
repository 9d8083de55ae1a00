//! TopicSubtree: one actor per first topic level (plus one for wildcard-first filters), the only
//! writer of that level's subscription trie. Its handlers are synchronous and short: add,
//! remove, clean up after a restart. Publishers read the trie directly (index.rs).

use super::index::SharedTrie;
use super::messages::{AddSubscription, RemoveSubscription};
use crate::message::ClientId;
use crate::metrics::Metrics;
use crate::supervision::{ChildFailed, ReportTo};
use actix::prelude::*;
use bytestring::ByteString;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

pub struct TopicSubtree {
    key: ByteString,
    trie: Arc<SharedTrie>,
    metrics: Arc<Metrics>,
    guardian: ReportTo,
}

impl TopicSubtree {
    pub fn new(
        key: ByteString,
        trie: Arc<SharedTrie>,
        metrics: Arc<Metrics>,
        guardian: ReportTo,
    ) -> Self {
        TopicSubtree {
            key,
            trie,
            metrics,
            guardian,
        }
    }
}

impl Actor for TopicSubtree {
    type Context = Context<Self>;
}

impl Supervised for TopicSubtree {
    /// The trie is shared (and the actor value is kept across a restart): subscriptions are
    /// therefore intact. Drop subscribers whose session actor is gone (they can no longer be
    /// delivered to and would otherwise leak), then report.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        let mut trie = self.trie.write();
        let stale: Vec<(String, ClientId)> = trie
            .iter()
            .filter(|(_, _, s)| !s.subscriber.wake.connected())
            .map(|(f, k, _)| (f, k.clone()))
            .collect();
        for (filter, key) in &stale {
            if trie.remove(filter, key).is_some() {
                self.metrics.subscriptions.fetch_sub(1, Relaxed);
            }
        }
        log::warn!(
            "TopicSubtree {:?} restarted with {} subscriptions ({} stale removed)",
            &*self.key,
            trie.len(),
            stale.len()
        );
        drop(trie);
        ChildFailed::report(&self.guardian, &self.metrics, "TopicSubtree");
    }
}

impl Handler<AddSubscription> for TopicSubtree {
    type Result = bool;
    fn handle(&mut self, msg: AddSubscription, _ctx: &mut Context<Self>) -> bool {
        let key = msg.subscription.subscriber.client_id.clone();
        let is_new = self
            .trie
            .write()
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
        let mut trie = self.trie.write();
        match trie.remove(&msg.filter, &msg.client_id) {
            Some(sub) if sub.subscriber.session_id != msg.session_id => {
                // Belongs to a newer session of the same client: put it back.
                trie.insert(&msg.filter, msg.client_id, sub);
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
impl Handler<crate::supervision::InjectFailure> for TopicSubtree {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectFailure, ctx: &mut Context<Self>) {
        log::error!(
            "TopicSubtree {:?}: injected failure, stopping for restart",
            &*self.key
        );
        ctx.stop();
    }
}
