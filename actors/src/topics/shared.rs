//! Shared subscriptions [MQTT-4.8.2]: the members of one group subscribed to one filter, and
//! which of them receives a message.
//!
//! A pure selector: no actors, no I/O. The subtree keeps groups in a trie of their own beside
//! the ordinary subscriptions (index.rs), so topics without shared subscriptions never see
//! this code. Publishers pick under the trie's read lock, from any thread at once: the
//! strategy's state is an atomic cursor, and `random` uses a per-thread generator.

use crate::config::SharedStrategy;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// What the selector needs to know about a member.
pub trait Member {
    /// Its client is connected. An offline persistent member is chosen only while no member is
    /// online (its session then queues the message).
    fn online(&self) -> bool;
    /// Messages waiting for it (queued and in flight), for `shortest_queue`.
    fn backlog(&self) -> usize;
}

/// One shared subscription: the members (by key, one entry each) of a group on one filter.
pub struct Group<K, M> {
    members: Vec<(K, M)>,
    /// Round robin position; also where `shortest_queue` starts so that ties rotate.
    cursor: AtomicUsize,
}

impl<K: PartialEq, M> Default for Group<K, M> {
    fn default() -> Self {
        Group {
            members: Vec::new(),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl<K: PartialEq, M: Member> Group<K, M> {
    /// Adds `key`, or replaces its entry (a re-subscription, e.g. with another QoS). Returns the
    /// replaced entry.
    pub fn insert(&mut self, key: K, member: M) -> Option<M> {
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some((_, m)) => Some(std::mem::replace(m, member)),
            None => {
                self.members.push((key, member));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<M> {
        let i = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(i).1)
    }

    pub fn get(&self, key: &K) -> Option<&M> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, m)| m)
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn members(&self) -> impl Iterator<Item = (&K, &M)> {
        self.members.iter().map(|(k, m)| (k, m))
    }

    /// The member that receives the next message: each message to one member of the group
    /// (§4.8.2), online members first.
    pub fn pick(&self, strategy: SharedStrategy) -> Option<&M> {
        self.pick_where(strategy, |_| true)
    }

    /// As [`pick`](Self::pick), among the members `eligible` accepts (e.g. all but the one
    /// whose connection just broke).
    pub fn pick_where(
        &self,
        strategy: SharedStrategy,
        eligible: impl Fn(&M) -> bool,
    ) -> Option<&M> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        let start = match strategy {
            SharedStrategy::Random => random_below(n),
            _ => self.cursor.fetch_add(1, Relaxed),
        };
        let order = (0..n).map(|i| &self.members[(start + i) % n].1);
        let candidates = || order.clone().filter(|m| eligible(m));
        let chosen = match strategy {
            SharedStrategy::ShortestQueue => candidates()
                .filter(|m| m.online())
                .enumerate()
                .min_by_key(|(i, m)| (m.backlog(), *i))
                .map(|(_, m)| m),
            _ => {
                let found = candidates().enumerate().find(|(_, m)| m.online());
                // Round robin: the offline members skipped over are passed for this turn too,
                // so that the member after them is not chosen twice in a row.
                if let (SharedStrategy::RoundRobin, Some((skipped @ 1.., _))) = (strategy, found) {
                    self.cursor.fetch_add(skipped, Relaxed);
                }
                found.map(|(_, m)| m)
            }
        };
        chosen.or_else(|| candidates().next())
    }
}

thread_local! {
    /// xorshift64 state of this thread, seeded from the standard library's random hasher keys.
    static RNG: Cell<u64> = Cell::new({
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(&h as *const _ as usize);
        h.finish() | 1
    });
}

/// A uniform-enough number in `0..n` (n > 0): load spreading, not cryptography.
fn random_below(n: usize) -> usize {
    RNG.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x % n as u64) as usize
    })
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
