//! A bridge's topic entries and the prefix mapping between the local and the remote broker,
//! with Mosquitto's `topic <pattern> <direction> <qos> <local_prefix> <remote_prefix>`
//! semantics: the local filter is `local_prefix + pattern`, the remote one `remote_prefix +
//! pattern`, and a topic crossing the bridge has one prefix replaced by the other (pure).

use crate::codec::QoS;
use crate::topic;

/// Which way an entry's messages cross the bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Remote to local: subscribed on the remote, published locally.
    In,
    /// Local to remote: subscribed locally (durably queued), published on the remote.
    Out,
    Both,
}

impl Direction {
    pub fn is_in(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }
    pub fn is_out(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
}

/// One `topics` entry of a bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeTopic {
    pub pattern: String,
    pub direction: Direction,
    /// The subscription QoS on the side the messages come from: the most a message crossing
    /// the bridge keeps.
    pub qos: QoS,
    pub local_prefix: String,
    pub remote_prefix: String,
}

impl BridgeTopic {
    /// The filter subscribed locally (`out`, `both`).
    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    /// The filter subscribed on the remote (`in`, `both`).
    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }
}

/// The remote topic of a local message, from the first `out`/`both` entry whose local filter
/// matches it; `None` if none does (a message the bridge's subscriptions matched always has
/// one, unless the configuration changed).
pub fn to_remote(topics: &[BridgeTopic], local: &str) -> Option<String> {
    topics
        .iter()
        .filter(|t| t.direction.is_out())
        .find(|t| topic::matches(&t.local_filter(), local))
        .map(|t| swap_prefix(local, &t.local_prefix, &t.remote_prefix))
}

/// The local topic of a message received from the remote, from the first `in`/`both` entry
/// whose remote filter matches it.
pub fn to_local(topics: &[BridgeTopic], remote: &str) -> Option<String> {
    topics
        .iter()
        .filter(|t| t.direction.is_in())
        .find(|t| topic::matches(&t.remote_filter(), remote))
        .map(|t| swap_prefix(remote, &t.remote_prefix, &t.local_prefix))
}

fn swap_prefix(topic: &str, from: &str, to: &str) -> String {
    let rest = topic.strip_prefix(from).unwrap_or(topic);
    format!("{to}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pattern: &str, direction: Direction, local: &str, remote: &str) -> BridgeTopic {
        BridgeTopic {
            pattern: pattern.into(),
            direction,
            qos: QoS::AtLeastOnce,
            local_prefix: local.into(),
            remote_prefix: remote.into(),
        }
    }

    #[test]
    fn out_topic_swaps_the_local_prefix_for_the_remote_one() {
        let t = [entry("sensors/#", Direction::Out, "home/", "sites/a/")];
        assert_eq!(
            to_remote(&t, "home/sensors/t1").as_deref(),
            Some("sites/a/sensors/t1")
        );
        assert_eq!(to_remote(&t, "sensors/t1"), None);
        assert_eq!(to_local(&t, "sites/a/sensors/t1"), None, "out only");
    }

    #[test]
    fn in_topic_swaps_the_remote_prefix_for_the_local_one() {
        let t = [entry("cmd/+", Direction::In, "cloud/", "")];
        assert_eq!(
            to_local(&t, "cmd/light").as_deref(),
            Some("cloud/cmd/light")
        );
        assert_eq!(to_remote(&t, "cloud/cmd/light"), None, "in only");
    }

    #[test]
    fn both_maps_each_way_and_the_first_matching_entry_wins() {
        let t = [
            entry("a/#", Direction::Both, "l/", "r/"),
            entry("#", Direction::Both, "", ""),
        ];
        assert_eq!(to_remote(&t, "l/a/b").as_deref(), Some("r/a/b"));
        assert_eq!(to_local(&t, "r/a/b").as_deref(), Some("l/a/b"));
        assert_eq!(to_remote(&t, "x").as_deref(), Some("x"));
    }
}
