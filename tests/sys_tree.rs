//! The full Mosquitto $SYS tree (issue #4): every topic Mosquitto documents that Courtier can
//! know, including the 1/5/15 minute load averages, with numeric values in Mosquitto's formats.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const NUMERIC: &[&str] = &[
    "clients/connected",
    "clients/disconnected",
    "clients/expired",
    "clients/maximum",
    "clients/total",
    "messages/received",
    "messages/sent",
    "messages/stored",
    "publish/messages/received",
    "publish/messages/sent",
    "publish/messages/dropped",
    "publish/bytes/received",
    "publish/bytes/sent",
    "bytes/received",
    "bytes/sent",
    "subscriptions/count",
    "retained messages/count",
    "store/messages/count",
    "store/messages/bytes",
    "heap/current",
    "heap/maximum",
];

const LOADS: &[&str] = &[
    "messages/received",
    "messages/sent",
    "publish/received",
    "publish/sent",
    "publish/dropped",
    "bytes/received",
    "bytes/sent",
    "connections",
    "sockets",
];

/// The latest value of every $SYS topic seen within `within`.
fn collect(c: &mut RawClient, within: Duration) -> BTreeMap<String, String> {
    let deadline = Instant::now() + within;
    let mut got = BTreeMap::new();
    while let Ok((first, body)) =
        c.try_read_packet(deadline.saturating_duration_since(Instant::now()))
    {
        if let Some(p) = Publish::parse(first, &body) {
            got.insert(p.topic, String::from_utf8_lossy(&p.payload).into_owned());
        }
    }
    got
}

#[test]
fn sys_tree_has_mosquittos_topics_and_load_averages() {
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 1,
        ..TestConfig::default()
    });
    let mut c = RawClient::connected(b.addr(), "sys-tree");
    c.subscribe(1, &[("$SYS/#", 0)]);
    // Traffic, so that the load averages move from 0.
    let mut p = RawClient::connected(b.addr(), "sys-tree-pub");
    for i in 0..20 {
        p.send(&publish("load/t", b"x", 0, i == 0, false, 0));
    }
    let got = collect(&mut c, Duration::from_millis(2600));
    let sys = |t: &str| got.get(&format!("$SYS/broker/{t}"));
    for t in NUMERIC {
        let v = sys(t).unwrap_or_else(|| panic!("no $SYS/broker/{t}; got {:?}", got.keys()));
        assert!(v.parse::<u64>().is_ok(), "{t} = {v:?}");
    }
    for name in LOADS {
        for w in ["1min", "5min", "15min"] {
            let t = format!("load/{name}/{w}");
            let v = sys(&t).unwrap_or_else(|| panic!("no $SYS/broker/{t}"));
            // Mosquitto's format: two decimals.
            let (_, decimals) = v.split_once('.').unwrap_or_else(|| panic!("{t} = {v}"));
            assert_eq!(decimals.len(), 2, "{t} = {v}");
            assert!(v.parse::<f64>().unwrap() >= 0.0);
        }
    }
    let received_1min: f64 = sys("load/publish/received/1min").unwrap().parse().unwrap();
    assert!(received_1min > 0.0, "20 publishes moved no load average");
    assert!(sys("heap/current").unwrap().parse::<u64>().unwrap() > 0);
    // One retained message of ours plus the retained $SYS values themselves.
    assert!(
        sys("retained messages/count")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1
    );
}
