//! MQTT 5.0 Subscription Identifiers of one session: which of its subscriptions were made
//! with one (§3.8.2.1.2), and the identifiers a delivery carries (§3.3.2.3.8). Pure.
//!
//! Why at send time: a delivery is routed once per subscriber, merged over every filter of
//! that client that matched, and travels in a 16-byte slot shared by every 5.0 and 3.x
//! delivery. Rather than widen that slot (or the trie entries) for a feature few clients use,
//! the subscriber's session matches the topic against its own subscriptions that have an
//! identifier when it hands the delivery to the writer. A session with none pays one `None`
//! test per delivery; one with identifiers pays a match per such subscription and one small
//! allocation for the identifiers of a delivery that has any. Resends and retained messages
//! go through the same path, so they carry the identifiers too.

use crate::topic;
use bytestring::ByteString;
use foldhash::HashMap;
use std::num::NonZeroU32;

#[derive(Debug, Default)]
pub struct SubscriptionIds {
    /// Filter -> identifier; `None` until the first subscription with one.
    by_filter: Option<Box<HashMap<ByteString, NonZeroU32>>>,
}

impl SubscriptionIds {
    /// A subscription made or replaced: a SUBSCRIBE without an identifier removes the old one,
    /// as the new subscription replaces the old [MQTT-3.8.4-3].
    pub fn set(&mut self, filter: &ByteString, id: Option<NonZeroU32>) {
        match id {
            Some(id) => {
                self.by_filter
                    .get_or_insert_with(Box::default)
                    .insert(filter.clone(), id);
            }
            None => self.remove(filter),
        }
    }

    pub fn remove(&mut self, filter: &str) {
        if let Some(map) = &mut self.by_filter {
            map.remove(filter);
            if map.is_empty() {
                self.by_filter = None;
            }
        }
    }

    pub fn get(&self, filter: &str) -> Option<NonZeroU32> {
        self.by_filter.as_ref()?.get(filter).copied()
    }

    pub fn clear(&mut self) {
        self.by_filter = None;
    }

    /// The identifiers of the subscriptions matching `topic`, ascending and each once
    /// [MQTT-3.3.4-3], [MQTT-3.3.4-4]; `None` when there are none. A shared subscription
    /// `$share/{group}/{filter}` matches as its filter.
    pub fn matching(&self, topic: &str) -> Option<Box<[NonZeroU32]>> {
        let map = self.by_filter.as_ref()?;
        let mut ids: Vec<NonZeroU32> = map
            .iter()
            .filter(|(f, _)| topic::matches(unshared(f), topic))
            .map(|(_, id)| *id)
            .collect();
        if ids.is_empty() {
            return None;
        }
        ids.sort_unstable();
        ids.dedup();
        Some(ids.into_boxed_slice())
    }
}

/// The filter of a shared subscription (`$share/{group}/{filter}`), or `f` itself.
fn unshared(f: &str) -> &str {
    f.strip_prefix("$share/")
        .and_then(|rest| rest.split_once('/'))
        .map_or(f, |(_, filter)| filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn mqtt_3_3_4_4_every_matching_identifier_once() {
        let mut ids = SubscriptionIds::default();
        assert_eq!(ids.matching("a/b"), None, "nothing to match: no cost");
        ids.set(&"a/#".into(), Some(nz(7)));
        ids.set(&"a/+".into(), Some(nz(3)));
        ids.set(&"+/b".into(), Some(nz(7)));
        ids.set(&"a/b".into(), None);
        ids.set(&"x/y".into(), Some(nz(9)));
        assert_eq!(ids.matching("a/b").as_deref(), Some(&[nz(3), nz(7)][..]));
        assert_eq!(ids.matching("x/y").as_deref(), Some(&[nz(9)][..]));
        assert_eq!(ids.matching("q"), None);
    }

    #[test]
    fn mqtt_3_8_4_3_a_new_subscription_replaces_the_identifier() {
        let mut ids = SubscriptionIds::default();
        ids.set(&"t".into(), Some(nz(1)));
        ids.set(&"t".into(), Some(nz(2)));
        assert_eq!(ids.get("t"), Some(nz(2)));
        ids.set(&"t".into(), None);
        assert_eq!(ids.get("t"), None);
        assert!(
            ids.by_filter.is_none(),
            "the table goes with the last identifier"
        );
        ids.set(&"t".into(), Some(nz(2)));
        ids.remove("t");
        assert!(ids.by_filter.is_none());
    }

    #[test]
    fn a_shared_subscription_matches_as_its_filter() {
        let mut ids = SubscriptionIds::default();
        ids.set(&"$share/g/s/+".into(), Some(nz(4)));
        assert_eq!(ids.matching("s/1").as_deref(), Some(&[nz(4)][..]));
        assert_eq!(unshared("$share/g"), "$share/g");
    }
}
