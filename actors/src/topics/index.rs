//! The read side of the topic subtrees, shared by every publisher.
//!
//! Each `TopicSubtree` actor owns its trie and is the only writer (subscribe, unsubscribe,
//! clean-up after a restart, all as typed messages). Publishers do not ask it by message: they
//! take a read lock on the trie and match in place. A `Match` round trip per subtree per
//! PUBLISH (two mailboxes, two oneshots, a `Vec` of results and the future chaining them) was
//! the largest cost of routing a message (docs/PERFORMANCE.md), and it made every publish
//! asynchronous, which in turn needed a chain of completions to keep delivery order. Reads
//! under a lock that only subscription changes take for writing cost tens of nanoseconds and
//! keep the order by construction: a session matches and delivers while handling the PUBLISH.

use super::messages::{Matched, Subscriber, Subscription};
use super::trie::SubscriptionTrie;
use super::TopicSubtree;
use crate::message::ClientId;
use crate::topic;
use actix::Addr;
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A subtree's subscriptions: written by its actor, read by publishers.
#[derive(Default)]
pub struct SharedTrie(RwLock<SubscriptionTrie<ClientId, Subscription>>);

impl SharedTrie {
    /// A panic while writing leaves the trie as it was between two complete operations
    /// (inserts and removals do not unwind half-way in safe code), so a poisoned lock is used.
    pub fn read(&self) -> RwLockReadGuard<'_, SubscriptionTrie<ClientId, Subscription>> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, SubscriptionTrie<ClientId, Subscription>> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A subtree: the actor that changes it and the trie publishers read.
#[derive(Clone)]
pub struct SubtreeHandle {
    pub addr: Addr<TopicSubtree>,
    pub trie: Arc<SharedTrie>,
}

/// Directory of subtrees by first topic level (see [`super::filter_key`]). The TopicRouter
/// actor adds entries; publishers look them up. A topic without a subtree has no subscribers.
#[derive(Default)]
pub struct TopicIndex {
    subtrees: RwLock<HashMap<ByteString, SubtreeHandle>>,
}

impl TopicIndex {
    pub fn get(&self, key: &str) -> Option<SubtreeHandle> {
        let map = self.subtrees.read().unwrap_or_else(PoisonError::into_inner);
        map.get(key).cloned()
    }

    /// Subtrees created so far.
    pub(super) fn len(&self) -> usize {
        let map = self.subtrees.read().unwrap_or_else(PoisonError::into_inner);
        map.len()
    }

    pub(super) fn insert(&self, key: ByteString, handle: SubtreeHandle) {
        let mut map = self
            .subtrees
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        map.insert(key, handle);
    }

    /// Every subscriber matching `topic`, once each, at the highest QoS of its matching
    /// filters, in `out` (cleared first). A subscription of `publisher` with No Local (5.0)
    /// does not match its own messages [MQTT-3.8.3-3]. Matched against the topic's first-level subtree and
    /// the wildcard-first one, unless the topic starts with '$' [MQTT-4.7.2-1]. The directory
    /// lock is held while the tries are read: writers only ever take one of these locks, so
    /// this cannot deadlock, and it saves cloning the handles per message.
    pub fn matches(
        &self,
        topic: &str,
        publisher: Option<&Arc<Subscriber>>,
        out: &mut Vec<Matched>,
    ) {
        out.clear();
        let map = self.subtrees.read().unwrap_or_else(PoisonError::into_inner);
        let exact = map.get(topic::first_level(topic));
        let wild = match topic.starts_with('$') {
            true => None,
            false => map.get(super::WILDCARD_KEY),
        };
        for handle in [exact, wild].into_iter().flatten() {
            handle.trie.read().for_each_match(topic, |_, sub| {
                if sub.options.no_local
                    && publisher.is_some_and(|p| Arc::ptr_eq(p, &sub.subscriber))
                {
                    return;
                }
                out.push(Matched {
                    subscriber: sub.subscriber.clone(),
                    qos: sub.options.qos,
                    retain_as_published: sub.options.retain_as_published,
                })
            });
        }
        drop(map);
        dedupe(out);
    }
}

/// One entry per subscriber, keeping the highest QoS of its matching filters. Every filter of a
/// session shares one `Arc<Subscriber>`, so pointer identity is session identity.
fn dedupe(matched: &mut Vec<Matched>) {
    if matched.len() < 2 {
        return;
    }
    matched.sort_unstable_by_key(|m| Arc::as_ptr(&m.subscriber) as usize);
    matched.dedup_by(|later, kept| {
        let same = Arc::ptr_eq(&later.subscriber, &kept.subscriber);
        if same {
            kept.qos = kept.qos.max(later.qos);
            kept.retain_as_published |= later.retain_as_published;
        }
        same
    });
}
