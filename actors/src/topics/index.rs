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
use super::shared::{Group, Member};
use super::trie::SubscriptionTrie;
use super::TopicSubtree;
use crate::config::SharedStrategy;
use crate::message::ClientId;
use crate::metrics::Metrics;
use crate::topic;
use actix::Addr;
use bytestring::ByteString;
use foldhash::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The members of one shared subscription (`$share/{group}/{filter}`), by client.
pub type SharedGroup = Group<ClientId, Subscription>;

/// A subtree's subscriptions. Shared subscriptions live in a trie of their own, keyed by
/// group under their topic filter, so matching a topic without any costs one emptiness test.
#[derive(Default)]
pub struct Tries {
    pub plain: SubscriptionTrie<ClientId, Subscription>,
    pub shared: SubscriptionTrie<ByteString, SharedGroup>,
}

/// A subtree's subscriptions: written by its actor, read by publishers.
#[derive(Default)]
pub struct SharedTrie(RwLock<Tries>);

impl SharedTrie {
    /// A panic while writing leaves the trie as it was between two complete operations
    /// (inserts and removals do not unwind half-way in safe code), so a poisoned lock is used.
    pub fn read(&self) -> RwLockReadGuard<'_, Tries> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Tries> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Member for Subscription {
    fn online(&self) -> bool {
        self.subscriber.online.load(Relaxed)
    }

    fn backlog(&self) -> usize {
        self.subscriber.backlog.load(Relaxed) + self.subscriber.inbox.len()
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
    /// foldhash, as the tries' children: every publish looks up two keys here (its first level
    /// and the wildcard subtree), and SipHash made that ~3 % of a publish's instructions.
    subtrees: RwLock<HashMap<ByteString, SubtreeHandle>>,
    /// Which member of a shared subscription's group receives a message.
    strategy: SharedStrategy,
    /// Where deliveries through shared subscription groups are counted.
    metrics: Arc<Metrics>,
}

impl TopicIndex {
    pub fn new(strategy: SharedStrategy, metrics: Arc<Metrics>) -> TopicIndex {
        TopicIndex {
            subtrees: Default::default(),
            strategy,
            metrics,
        }
    }

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
    /// filters, in `out` (cleared first); then, for each matching shared subscription, the one
    /// member of its group chosen to receive it, at that member's QoS [MQTT-4.8.2-3] (apart
    /// from the ordinary matches: a client may get a message through both). A subscription of
    /// `publisher` with No Local (5.0) does not match its own messages [MQTT-3.8.3-3]. Matched
    /// against the topic's first-level subtree and the wildcard-first one, unless the topic
    /// starts with '$' [MQTT-4.7.2-1]. The directory lock is held while the tries are read:
    /// writers only ever take one of these locks, so this cannot deadlock, and it saves
    /// cloning the handles per message.
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
        let mut any_shared = false;
        // Someone matched holds several plain subscriptions, read while its subtree's lock is
        // held: only then can a subscriber be matched twice and need `dedupe`.
        let mut overlap = false;
        for handle in [exact, wild].into_iter().flatten() {
            let tries = handle.trie.read();
            any_shared |= !tries.shared.is_empty();
            tries.plain.for_each_match(topic, |_, sub| {
                if sub.options.no_local
                    && publisher.is_some_and(|p| Arc::ptr_eq(p, &sub.subscriber))
                {
                    return;
                }
                overlap |= sub.subscriber.filters.load(Relaxed) > 1;
                out.push(Matched::new(sub, false))
            });
        }
        if overlap {
            dedupe(out);
        }
        if !any_shared {
            return;
        }
        for handle in [exact, wild].into_iter().flatten() {
            let tries = handle.trie.read();
            tries.shared.for_each_match(topic, |_, group| {
                if let Some(sub) = group.pick(self.strategy) {
                    self.metrics.shared_deliveries.fetch_add(1, Relaxed);
                    out.push(Matched::new(sub, true));
                }
            });
        }
    }

    /// Whether the shared subscription `share` (its full `$share/...` filter) has a member
    /// other than `except`.
    pub fn has_other_member(&self, share: &str, except: &Arc<Subscriber>) -> bool {
        let Some(Ok(topic::ShareName { group, filter })) = topic::parse_share(share) else {
            return false;
        };
        let Some(handle) = self.get(super::filter_key(filter)) else {
            return false;
        };
        let tries = handle.trie.read();
        tries
            .shared
            .get(filter, &ByteString::from(group))
            .is_some_and(|g| {
                g.members()
                    .any(|(_, m)| !Arc::ptr_eq(&m.subscriber, except))
            })
    }

    /// Another member of the shared subscription `share` (its full `$share/...` filter) than
    /// `except`, for a message `except` was sent and will not acknowledge; online members
    /// first. `None` if the group has no other member.
    pub fn other_member(&self, share: &str, except: &Arc<Subscriber>) -> Option<Matched> {
        let topic::ShareName { group, filter } = topic::parse_share(share)?.ok()?;
        let handle = self.get(super::filter_key(filter))?;
        let tries = handle.trie.read();
        let members = tries.shared.get(filter, &ByteString::from(group))?;
        let sub = members.pick_where(self.strategy, |m| !Arc::ptr_eq(&m.subscriber, except))?;
        self.metrics.shared_deliveries.fetch_add(1, Relaxed);
        Some(Matched::new(sub, true))
    }
}

/// One entry per subscriber, keeping the highest QoS of its matching filters (shared matches
/// are added after this). Every filter of a
/// session shares one `Arc<Subscriber>`, so pointer identity is session identity. Sorting the
/// matches was ~3 % of fan-out to 100 subscribers, so `matches` calls it only when a matched
/// subscriber holds more than one plain subscription (`Subscriber::filters`). A subscriber
/// that replaces one overlapping filter by another between the reads of the topic's two
/// subtrees (its first level's and the wildcard one) may get one extra copy of a message
/// published at that moment, as MQTT 5.0 allows for overlapping subscriptions (§3.3.4).
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
