//! Topic routing: the TopicRouter directory actor and the TopicSubtree actors it creates.
//!
//! Subscriptions are split by the first level of their filter: one subtree per literal first
//! level ("homeassistant", "zigbee2mqtt", "$SYS"), plus one subtree (key [`WILDCARD_KEY`]) for
//! filters that start with `+` or `#`. A PUBLISH to `a/b` therefore asks at most two subtrees:
//! `a`, and the wildcard one unless the topic starts with `$` [MQTT-4.7.2-1]. Subtree actors are
//! spread over the worker arbiters by a hash of their key. Each actor is the only writer of its
//! trie; publishers read the tries in place through the shared [`TopicIndex`] (see index.rs for
//! why matching is not a message).

pub mod index;
pub mod messages;
pub mod shared;
mod subtree;
pub mod trie;

use crate::metrics::Metrics;
use crate::supervision::{ActorKind, ChildFailed, OnStop, ReportTo, Supervise, Supervision};
use actix::prelude::*;
use bytestring::ByteString;
pub use index::{SharedTrie, SubtreeHandle, TopicIndex};
use messages::ResolveSubtree;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
pub use subtree::TopicSubtree;

/// Subtree key of filters whose first level is a wildcard. Not a valid first level of a topic
/// name ('#' cannot appear in one), so it never collides.
pub const WILDCARD_KEY: &str = "#";

/// The subtree key a filter is stored under (a shared subscription's: that of the filter after
/// its Share Name).
pub fn filter_key(filter: &str) -> &str {
    let filter = crate::topic::matching_filter(filter);
    if crate::topic::starts_with_wildcard(filter) {
        WILDCARD_KEY
    } else {
        crate::topic::first_level(filter)
    }
}

pub struct TopicRouter {
    /// Shared with every publisher; only this actor adds to it.
    index: Arc<TopicIndex>,
    arbiters: Vec<ArbiterHandle>,
    metrics: Arc<Metrics>,
    guardian: ReportTo,
}

impl TopicRouter {
    pub fn new(
        index: Arc<TopicIndex>,
        arbiters: Vec<ArbiterHandle>,
        metrics: Arc<Metrics>,
        guardian: ReportTo,
    ) -> Self {
        TopicRouter {
            index,
            arbiters,
            metrics,
            guardian,
        }
    }

    fn spawn_subtree(&self, key: &ByteString, trie: Arc<SharedTrie>) -> Addr<TopicSubtree> {
        let metrics = self.metrics.clone();
        let guardian = self.guardian.clone();
        let k = key.clone();
        let make =
            move |_: &mut Context<TopicSubtree>| TopicSubtree::new(k, trie, metrics, guardian);
        if self.arbiters.is_empty() {
            Supervise::start(make)
        } else {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut h);
            let arbiter = &self.arbiters[h.finish() as usize % self.arbiters.len()];
            Supervise::start_in_arbiter(arbiter, make)
        }
    }
}

impl Actor for TopicRouter {
    type Context = Context<Self>;
}

impl Supervised for TopicRouter {
    /// The directory survives a restart (actix keeps the actor value); subtrees keep running,
    /// so nothing is lost. Report the restart.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        crate::supervision::count_panic::<Self>(&self.metrics);
        log::warn!("TopicRouter restarted; {} subtrees kept", self.index.len());
        ChildFailed::report(&self.guardian, &self.metrics, "TopicRouter");
    }
}

impl Supervision for TopicRouter {
    const KIND: ActorKind = ActorKind::TopicRouter;
    const ON_STOP: OnStop = OnStop::Restart;
}

impl Handler<ResolveSubtree> for TopicRouter {
    type Result = MessageResult<ResolveSubtree>;
    fn handle(&mut self, msg: ResolveSubtree, _ctx: &mut Context<Self>) -> Self::Result {
        if let Some(handle) = self.index.get(&msg.key) {
            return MessageResult(handle);
        }
        let trie = Arc::new(SharedTrie::default());
        let addr = self.spawn_subtree(&msg.key, trie.clone());
        let handle = SubtreeHandle { addr, trie };
        self.index.insert(msg.key, handle.clone());
        MessageResult(handle)
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectFailure> for TopicRouter {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectFailure, ctx: &mut Context<Self>) {
        log::error!("TopicRouter: injected failure, stopping for restart");
        ctx.stop();
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for TopicRouter {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        panic!("TopicRouter: injected panic");
    }
}
