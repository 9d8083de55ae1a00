//! $SYS topics: each broker statistic is published, and clients cannot inject into $SYS.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TOPICS: &[&str] = &[
    "$SYS/broker/version",
    "$SYS/broker/uptime",
    "$SYS/broker/clients/connected",
    "$SYS/broker/clients/total",
    "$SYS/broker/clients/maximum",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/subscriptions/count",
    "$SYS/broker/retained messages/count",
    "$SYS/broker/publish/messages/dropped",
];

/// Collect the first value of each wanted topic within `within`.
fn collect(c: &mut RawClient, wanted: &[&str], within: Duration) -> BTreeMap<String, String> {
    let deadline = Instant::now() + within;
    let mut got = BTreeMap::new();
    while got.len() < wanted.len() && Instant::now() < deadline {
        let Ok((first, body)) =
            c.try_read_packet(deadline.saturating_duration_since(Instant::now()))
        else {
            break;
        };
        if let Some(p) = Publish::parse(first, &body) {
            if wanted.contains(&p.topic.as_str()) {
                got.entry(p.topic)
                    .or_insert_with(|| String::from_utf8_lossy(&p.payload).into_owned());
            }
        }
    }
    got
}

#[test]
fn each_sys_topic_receives_a_value() {
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 1,
        ..TestConfig::default()
    });
    let mut c = RawClient::connected(b.addr(), "sys-each");
    let filters: Vec<(&str, u8)> = TOPICS.iter().map(|t| (*t, 0)).collect();
    assert_eq!(c.subscribe(1, &filters), vec![0; TOPICS.len()]);
    let got = collect(&mut c, TOPICS, Duration::from_secs(5));
    let missing: Vec<_> = TOPICS.iter().filter(|t| !got.contains_key(**t)).collect();
    assert!(missing.is_empty(), "no value for {missing:?}; got {got:?}");
    for t in TOPICS
        .iter()
        .filter(|t| !t.ends_with("version") && !t.ends_with("uptime"))
    {
        assert!(
            got[*t].trim().parse::<u64>().is_ok(),
            "{t} is not a number: {:?}",
            got[*t]
        );
    }
    assert!(
        got["$SYS/broker/uptime"].contains("seconds"),
        "uptime: {:?}",
        got["$SYS/broker/uptime"]
    );
    assert!(!got["$SYS/broker/version"].is_empty());
    // The first value may be the retained one from before this client connected, so counts are
    // checked in sys_counters_follow_activity.
}

#[test]
fn sys_hash_subscription_receives_broker_values() {
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 1,
        ..TestConfig::default()
    });
    let mut c = RawClient::connected(b.addr(), "sys-hash");
    c.subscribe(1, &[("$SYS/#", 0)]);
    let got = collect(
        &mut c,
        &["$SYS/broker/uptime", "$SYS/broker/clients/connected"],
        Duration::from_secs(5),
    );
    assert_eq!(got.len(), 2, "{got:?}");
}

#[test]
fn sys_counters_follow_activity() {
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 1,
        ..TestConfig::default()
    });
    let mut extra: Vec<RawClient> = (0..3)
        .map(|i| RawClient::connected(b.addr(), &format!("sys-extra-{i}")))
        .collect();
    extra[0].subscribe(1, &[("sysc/a", 0), ("sysc/b", 0)]);
    let mut c = RawClient::connected(b.addr(), "sys-count");
    c.subscribe(
        1,
        &[
            ("$SYS/broker/clients/connected", 0),
            ("$SYS/broker/subscriptions/count", 0),
        ],
    );
    // Values published before our subscription may arrive retained first: read a few rounds and
    // keep the latest value.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut latest = BTreeMap::new();
    while Instant::now() < deadline {
        if let Ok((f, body)) = c.try_read_packet(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(p) = Publish::parse(f, &body) {
                latest.insert(
                    p.topic,
                    String::from_utf8_lossy(&p.payload).parse::<u64>().unwrap(),
                );
            }
        }
    }
    assert_eq!(
        latest.get("$SYS/broker/clients/connected"),
        Some(&4),
        "{latest:?}"
    );
    assert!(
        latest
            .get("$SYS/broker/subscriptions/count")
            .copied()
            .unwrap_or(0)
            >= 4,
        "{latest:?}"
    );
    extra.clear();
}

#[test]
fn client_publish_to_sys_does_not_reach_sys_subscribers() {
    let b = start_broker();
    let mut s = RawClient::connected(b.addr(), "sys-watch");
    s.subscribe(1, &[("$SYS/#", 0)]);
    // Drain what the broker publishes on subscribe (retained $SYS values).
    while s.try_read_packet(Duration::from_millis(300)).is_ok() {}
    let mut p = RawClient::connected(b.addr(), "sys-injector");
    // The broker may ignore the publish or close the connection; either way nothing is forwarded.
    p.send_lossy(&publish("$SYS/foo", b"fake", 0, false, false, 0));
    p.send_lossy(&publish("$SYS/broker/version", b"fake", 1, false, false, 1));
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        if let Ok((f, body)) = s.try_read_packet(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(got) = Publish::parse(f, &body) {
                assert_ne!(
                    got.payload, b"fake",
                    "a client's publish reached $SYS/# on {}",
                    got.topic
                );
            }
        }
    }
}
