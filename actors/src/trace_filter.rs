//! The `[trace]` filters: which messages the message-path log lines of trace.rs follow.

use crate::topic;
use std::collections::HashSet;

/// Which messages are traced: `[trace] topics` (MQTT topic filters, wildcards allowed) and
/// `[trace] clients` (client ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFilter {
    /// (filter, literal prefix): every topic the filter matches starts with the prefix, so
    /// most topics are rejected by one short comparison before [`topic::matches`] runs.
    topics: Vec<(String, String)>,
    clients: HashSet<String>,
}

/// The part of `filter` that every matching topic starts with: up to the first wildcard, and
/// for a `#` not the `/` before it (`"a/#"` matches `"a"`). Without wildcards, the filter.
pub(crate) fn literal_prefix(filter: &str) -> String {
    match filter.find(['+', '#']) {
        None => filter.to_owned(),
        Some(i) if filter[i..].starts_with('#') => filter[..i]
            .strip_suffix('/')
            .unwrap_or(&filter[..i])
            .to_owned(),
        Some(i) => filter[..i].to_owned(),
    }
}

impl TraceFilter {
    /// `None` when both lists are empty: tracing is off. The filters are expected to be valid
    /// (the configuration loader checks them with [`topic::validate_topic_filter`]); an invalid
    /// one simply matches nothing useful, it never panics.
    pub fn new(topics: Vec<String>, clients: Vec<String>) -> Option<TraceFilter> {
        if topics.is_empty() && clients.is_empty() {
            return None;
        }
        Some(TraceFilter {
            topics: topics
                .into_iter()
                .map(|f| {
                    let prefix = literal_prefix(&f);
                    (f, prefix)
                })
                .collect(),
            clients: clients.into_iter().collect(),
        })
    }

    /// Is this client's traffic (its publishes, deliveries to it) traced?
    pub fn traces_client(&self, client: &str) -> bool {
        self.clients.contains(client)
    }

    /// Is a message published by `client` to `topic` traced? Topic filters follow the
    /// subscription rules, [MQTT-4.7.2-1] included: `#` does not trace `$SYS/...`.
    pub fn traces(&self, client: &str, topic: &str) -> bool {
        self.traces_client(client)
            || self
                .topics
                .iter()
                .any(|(f, prefix)| topic.starts_with(prefix.as_str()) && topic::matches(f, topic))
    }
}
