//! Topic aliases the broker assigns to a 5.0 client (broker to client, MQTT 5.0 §3.3.2.3.4):
//! per connection, at most the Topic Alias Maximum of the client's CONNECT and the broker's
//! `max_topic_alias_out`. Pure; the writer asks it about each PUBLISH as it encodes it, so the
//! aliases are decided in the order the client reads them.
//!
//! Replacement policy: an alias is worth most on a topic the client receives over and over, and
//! a long one (it saves the topic's length minus 3 bytes per message; setting it costs 3).
//! - While an alias is free, a topic gets one the first time it is sent (a topic sent once
//!   wastes 3 bytes; a device topic in a fan-out is almost always sent again).
//! - Once all are taken, a topic without one must be seen again soon before it takes one:
//!   unmapped topics are counted in a small table (cleared when it fills, so only a topic that
//!   recurs within the last few dozen unmapped topics gets there), and the second sighting
//!   takes the alias used least recently. A client that receives many topics round-robin
//!   therefore keeps its aliases instead of re-mapping at every message, which would cost 3
//!   bytes each time and save nothing.
//! - Topics shorter than [`MIN_TOPIC_LEN`] get none: they save too little for a slot.
//!
//! A re-used alias is sent with its new topic, an alias already mapped with an empty topic
//! (§3.3.2.3.4). An alias is never above the client's maximum [MQTT-3.3.2-11], never 0
//! [MQTT-3.3.2-8], and none at all for a client that allows none [MQTT-3.1.2-27].

use bytestring::ByteString;
use foldhash::HashMap;
use std::num::NonZeroU16;

/// Shorter topics get no alias: at most 4 bytes saved per message.
pub const MIN_TOPIC_LEN: usize = 8;

/// How often a topic is seen without an alias, once all are taken, before it takes one.
const SIGHTINGS_TO_REPLACE: u8 = 2;

/// What to do with one PUBLISH's topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aliased {
    /// Send the topic, no alias.
    Topic,
    /// Send the topic with this alias: it now stands for the topic.
    Set(NonZeroU16),
    /// Send this alias with an empty topic.
    Use(NonZeroU16),
}

#[derive(Debug)]
struct Slot {
    topic: ByteString,
    last_used: u64,
}

#[derive(Debug)]
pub struct OutAliases {
    /// min(client's Topic Alias Maximum, `max_topic_alias_out`), at least 1.
    max: u16,
    /// Alias `n` is `slots[n - 1]`.
    slots: Vec<Slot>,
    by_topic: HashMap<ByteString, NonZeroU16>,
    /// Unmapped topics seen while every alias is taken, and how often.
    sightings: HashMap<ByteString, u8>,
    /// Counts aliased sends, for least-recently-used.
    clock: u64,
}

impl OutAliases {
    /// The aliases of a connection whose client allows `client_max` (its CONNECT's Topic Alias
    /// Maximum) with the broker's `broker_max`; `None` if either is 0 [MQTT-3.1.2-27].
    pub fn new(client_max: u16, broker_max: u16) -> Option<OutAliases> {
        let max = client_max.min(broker_max);
        (max > 0).then(|| OutAliases {
            max,
            slots: Vec::new(),
            by_topic: HashMap::default(),
            sightings: HashMap::default(),
            clock: 0,
        })
    }

    /// Decides the alias of a PUBLISH to `topic`.
    pub fn alias(&mut self, topic: &ByteString) -> Aliased {
        if topic.len() < MIN_TOPIC_LEN {
            return Aliased::Topic;
        }
        self.clock += 1;
        if let Some(&alias) = self.by_topic.get(topic) {
            self.slots[usize::from(alias.get() - 1)].last_used = self.clock;
            return Aliased::Use(alias);
        }
        if self.slots.len() < usize::from(self.max) {
            self.slots.push(Slot {
                topic: topic.clone(),
                last_used: self.clock,
            });
            let alias = NonZeroU16::new(self.slots.len() as u16).expect("at least one slot");
            self.by_topic.insert(topic.clone(), alias);
            return Aliased::Set(alias);
        }
        if !self.seen_again(topic) {
            return Aliased::Topic;
        }
        let (i, _) = self
            .slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.last_used)
            .expect("all slots taken");
        let slot = &mut self.slots[i];
        self.by_topic.remove(&slot.topic);
        slot.topic = topic.clone();
        slot.last_used = self.clock;
        let alias = NonZeroU16::new(i as u16 + 1).expect("slot index + 1");
        self.by_topic.insert(topic.clone(), alias);
        Aliased::Set(alias)
    }

    /// Counts a sighting of an unmapped topic; true when it has been seen often enough to take
    /// an alias (and is then forgotten here).
    fn seen_again(&mut self, topic: &ByteString) -> bool {
        let cap = usize::from(self.max).saturating_mul(4).max(32);
        if self.sightings.len() >= cap && !self.sightings.contains_key(topic) {
            self.sightings.clear();
        }
        let n = self.sightings.entry(topic.clone()).or_insert(0);
        *n += 1;
        if *n >= SIGHTINGS_TO_REPLACE {
            self.sightings.remove(topic);
            return true;
        }
        false
    }
}

#[cfg(test)]
#[path = "aliases_out_tests.rs"]
mod tests;
