//! The retained messages by topic, bucketed by first topic level.
//!
//! A subscription's filter usually starts with a literal level (`homeassistant/#`,
//! `devices/42/+`): only that level's bucket can match, so a SUBSCRIBE looks at the retained
//! messages of one tree instead of all of them (with 100,000 retained messages, a scan of
//! everything cost ~10 ms per subscription). Filters starting with a wildcard still look at
//! every bucket, as they must.

use crate::message::Message;
use crate::topic;
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct RetainedIndex {
    buckets: HashMap<ByteString, HashMap<ByteString, Arc<Message>>>,
    len: usize,
}

fn bucket_key(topic_name: &str) -> ByteString {
    ByteString::from(topic::first_level(topic_name))
}

impl RetainedIndex {
    pub fn insert(&mut self, msg: Arc<Message>) {
        let bucket = self.buckets.entry(bucket_key(&msg.topic)).or_default();
        if bucket.insert(msg.topic.clone(), msg).is_none() {
            self.len += 1;
        }
    }

    pub fn remove(&mut self, topic_name: &str) {
        let key = bucket_key(topic_name);
        if let Some(bucket) = self.buckets.get_mut(&key) {
            if bucket.remove(topic_name).is_some() {
                self.len -= 1;
            }
            if bucket.is_empty() {
                self.buckets.remove(&key);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keep only the topics for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        for bucket in self.buckets.values_mut() {
            bucket.retain(|t, _| keep(t));
        }
        self.buckets.retain(|_, b| !b.is_empty());
        self.len = self.buckets.values().map(HashMap::len).sum();
    }

    /// Every retained message whose topic matches `filter` (a valid filter).
    pub fn matching(&self, filter: &str) -> Vec<Arc<Message>> {
        if !filter.contains(['+', '#']) {
            // A filter without wildcards names exactly one topic.
            return self
                .buckets
                .get(topic::first_level(filter))
                .and_then(|b| b.get(filter))
                .cloned()
                .into_iter()
                .collect();
        }
        let scan = |b: &HashMap<ByteString, Arc<Message>>| {
            b.iter()
                .filter(|(t, _)| topic::matches(filter, t))
                .map(|(_, m)| m.clone())
                .collect::<Vec<_>>()
        };
        if topic::starts_with_wildcard(filter) {
            self.buckets.values().flat_map(scan).collect()
        } else {
            self.buckets
                .get(topic::first_level(filter))
                .map(scan)
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;

    fn index(topics: &[&str]) -> RetainedIndex {
        let mut i = RetainedIndex::default();
        for t in topics {
            i.insert(Arc::new(Message::new(
                (*t).into(),
                "x".into(),
                QoS::AtMostOnce,
                true,
            )));
        }
        i
    }

    fn topics(mut v: Vec<Arc<Message>>) -> Vec<String> {
        v.sort_by(|a, b| a.topic.cmp(&b.topic));
        v.iter().map(|m| m.topic.to_string()).collect()
    }

    #[test]
    fn matching_agrees_with_topic_matches_for_every_kind_of_filter() {
        let all = ["a/b", "a/c/d", "b/x", "/lead", "$SYS/broker/uptime", "a"];
        let i = index(&all);
        for filter in [
            "#", "+/#", "a/#", "a/+", "+/x", "a", "/+", "$SYS/#", "+/+/+", "zz/#",
        ] {
            let expected: Vec<String> = {
                let mut v: Vec<String> = all
                    .iter()
                    .filter(|t| topic::matches(filter, t))
                    .map(|t| t.to_string())
                    .collect();
                v.sort();
                v
            };
            assert_eq!(topics(i.matching(filter)), expected, "filter {filter}");
        }
    }

    #[test]
    fn insert_replace_remove_keep_the_count() {
        let mut i = index(&["a/b", "a/c"]);
        i.insert(Arc::new(Message::new(
            "a/b".into(),
            "y".into(),
            QoS::AtMostOnce,
            true,
        )));
        assert_eq!(i.len(), 2);
        i.remove("a/b");
        i.remove("a/b");
        assert_eq!(i.len(), 1);
        i.remove("a/c");
        assert!(i.is_empty() && i.buckets.is_empty());
        let mut i = index(&["$SYS/x", "a/b"]);
        i.retain(topic::is_sys_topic);
        assert_eq!(topics(i.matching("$SYS/#")), vec!["$SYS/x"]);
        assert_eq!(i.len(), 1);
    }
}
