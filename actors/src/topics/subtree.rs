//! TopicSubtree: one actor per first topic level (plus one for wildcard-first filters), the only
//! writer of that level's subscription trie. Its handlers are synchronous and short: add,
//! remove, clean up after a restart. Publishers read the trie directly (index.rs).

use super::index::{SharedTrie, Tries};
use super::messages::{AddSubscription, RemoveSubscription, Subscription};
use crate::message::ClientId;
use crate::metrics::Metrics;
use crate::supervision::{ActorKind, ChildFailed, OnStop, ReportTo, Supervision};
use crate::topic;
use actix::prelude::*;
use bytestring::ByteString;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Roughly what one subscription holds in a trie (node, key, subscriber entry), for
/// [`crate::heap_release`]: ~1 KB per subscription measured with 100,000 (docs/LIMITS.md).
const SUBSCRIPTION_BYTES: usize = 1024;

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
        crate::supervision::count_panic::<Self>(&self.metrics);
        let mut tries = self.trie.write();
        let stale: Vec<(String, ClientId)> = tries
            .plain
            .iter()
            .filter(|(_, _, s)| !s.subscriber.wake.connected())
            .map(|(f, k, _)| (f, k.clone()))
            .collect();
        for (filter, key) in &stale {
            if remove_plain(&mut tries, filter, key).is_some() {
                self.metrics.subscriptions.fetch_sub(1, Relaxed);
            }
        }
        let stale_shared: Vec<(String, ByteString, ClientId)> = tries
            .shared
            .iter()
            .flat_map(|(f, group, members)| {
                members
                    .members()
                    .filter(|(_, s)| !s.subscriber.wake.connected())
                    .map(move |(k, _)| (f.clone(), group.clone(), k.clone()))
            })
            .collect();
        for (filter, group, key) in &stale_shared {
            if remove_member(&mut tries, filter, group, key).is_some() {
                self.metrics.subscriptions.fetch_sub(1, Relaxed);
                self.metrics.shared_subscriptions.fetch_sub(1, Relaxed);
            }
        }
        log::warn!(
            "TopicSubtree {:?} restarted with {} subscriptions ({} stale removed)",
            &*self.key,
            tries.plain.len(),
            stale.len() + stale_shared.len()
        );
        drop(tries);
        ChildFailed::report(&self.guardian, &self.metrics, "TopicSubtree");
    }
}

impl Supervision for TopicSubtree {
    const KIND: ActorKind = ActorKind::TopicSubtree;
    const ON_STOP: OnStop = OnStop::Restart;
}

/// Adds (or replaces) a plain subscription, counting it on its subscriber (`filters`): the
/// only ways into the plain trie are this and [`remove_plain`], so the count never runs
/// below the entries a publish can find.
fn insert_plain(
    tries: &mut Tries,
    filter: &str,
    key: ClientId,
    sub: Subscription,
) -> Option<Subscription> {
    sub.subscriber.filters.fetch_add(1, Relaxed);
    let replaced = tries.plain.insert(filter, key, sub);
    if let Some(old) = &replaced {
        old.subscriber.filters.fetch_sub(1, Relaxed);
    }
    replaced
}

/// Removes a plain subscription, uncounting it on its subscriber.
fn remove_plain(tries: &mut Tries, filter: &str, key: &ClientId) -> Option<Subscription> {
    let removed = tries.plain.remove(filter, key);
    if let Some(old) = &removed {
        old.subscriber.filters.fetch_sub(1, Relaxed);
    }
    removed
}

/// Takes `key` out of the shared subscription `group` on `filter`, dropping the group when it
/// is left empty.
fn remove_member(
    tries: &mut Tries,
    filter: &str,
    group: &ByteString,
    key: &ClientId,
) -> Option<Subscription> {
    let mut members = tries.shared.remove(filter, group)?;
    let removed = members.remove(key);
    if !members.is_empty() {
        tries.shared.insert(filter, group.clone(), members);
    }
    removed
}

impl Handler<AddSubscription> for TopicSubtree {
    type Result = bool;
    fn handle(&mut self, msg: AddSubscription, _ctx: &mut Context<Self>) -> bool {
        let key = msg.subscription.subscriber.client_id.clone();
        let mut tries = self.trie.write();
        let is_new = match topic::parse_share(&msg.filter) {
            Some(Ok(share)) => {
                let group = ByteString::from(share.group);
                let mut members = tries
                    .shared
                    .remove(share.filter, &group)
                    .unwrap_or_default();
                let is_new = members.insert(key, msg.subscription).is_none();
                tries.shared.insert(share.filter, group, members);
                if is_new {
                    self.metrics.shared_subscriptions.fetch_add(1, Relaxed);
                }
                is_new
            }
            _ => insert_plain(&mut tries, &msg.filter, key, msg.subscription).is_none(),
        };
        if is_new {
            self.metrics.subscriptions.fetch_add(1, Relaxed);
        }
        is_new
    }
}

impl Handler<RemoveSubscription> for TopicSubtree {
    type Result = bool;
    fn handle(&mut self, msg: RemoveSubscription, _ctx: &mut Context<Self>) -> bool {
        let mut tries = self.trie.write();
        let share = match topic::parse_share(&msg.filter) {
            Some(Ok(share)) => Some((share.filter, ByteString::from(share.group))),
            _ => None,
        };
        let removed = match &share {
            Some((filter, group)) => remove_member(&mut tries, filter, group, &msg.client_id),
            None => remove_plain(&mut tries, &msg.filter, &msg.client_id),
        };
        match removed {
            Some(sub) if sub.subscriber.session_id != msg.session_id => {
                // Belongs to a newer session of the same client: put it back.
                match share {
                    Some((filter, group)) => {
                        let mut members = tries.shared.remove(filter, &group).unwrap_or_default();
                        members.insert(msg.client_id, sub);
                        tries.shared.insert(filter, group, members);
                    }
                    None => {
                        insert_plain(&mut tries, &msg.filter, msg.client_id, sub);
                    }
                }
                false
            }
            Some(_) => {
                // A session's subscriptions go one by one: many make a bulk free.
                crate::heap_release::freed(SUBSCRIPTION_BYTES);
                self.metrics.subscriptions.fetch_sub(1, Relaxed);
                if share.is_some() {
                    self.metrics.shared_subscriptions.fetch_sub(1, Relaxed);
                }
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

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for TopicSubtree {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        // Holding the trie's write lock, as a bug in an insert would: the lock is poisoned
        // and publishers must go on reading it.
        let _tries = self.trie.write();
        panic!("TopicSubtree {:?}: injected panic", &*self.key);
    }
}
