use super::*;
use crate::codec::QoS;
use crate::topic;

fn filter(topics: &[&str], clients: &[&str]) -> Option<TraceFilter> {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    TraceFilter::new(owned(topics), owned(clients))
}

#[test]
fn empty_lists_turn_tracing_off() {
    assert_eq!(filter(&[], &[]), None);
    assert!(filter(&["a"], &[]).is_some());
    assert!(filter(&[], &["c"]).is_some());
}

#[test]
fn topics_match_like_subscriptions() {
    let f = filter(&["home/+/light", "alarm/#"], &[]).unwrap();
    assert!(f.traces("x", "home/kitchen/light"));
    assert!(f.traces("x", "alarm"));
    assert!(f.traces("x", "alarm/door/open"));
    assert!(!f.traces("x", "home/kitchen/heat"));
    // [MQTT-4.7.2-1]: a leading wildcard does not reach $SYS.
    let all = filter(&["#"], &[]).unwrap();
    assert!(!all.traces("x", "$SYS/broker/uptime"));
    assert!(filter(&["$SYS/#"], &[])
        .unwrap()
        .traces("", "$SYS/broker/uptime"));
}

#[test]
fn clients_trace_everything_they_publish() {
    let f = filter(&[], &["sensor"]).unwrap();
    assert!(f.traces("sensor", "any/topic"));
    assert!(!f.traces("other", "any/topic"));
    assert!(f.traces_client("sensor"));
}

#[test]
fn entry_marks_only_matching_messages() {
    let mut cfg = BrokerConfig::default();
    assert!(!on_entry(&cfg, "c", "a/b", 0).traced);
    cfg.trace = std::sync::Arc::new(crate::trace_config::ConfigTrace::new(
        filter(&["a/#"], &[]).map(std::sync::Arc::new),
    ));
    let mut m = Message::new("a/b".into(), "x".into(), QoS::AtMostOnce, false);
    m.trace = on_entry(&cfg, "c", "a/b", 0);
    assert!(m.trace.traced);
    let mut other = Message::new("b".into(), "x".into(), QoS::AtMostOnce, false);
    other.trace = on_entry(&cfg, "c", "b", 0);
    assert!(!other.trace.traced);
    assert!(wants(&cfg, "anyone", &m));
    assert!(!wants(&cfg, "anyone", &other));
}

#[test]
fn literal_prefixes_never_reject_a_match() {
    assert_eq!(literal_prefix("a/#"), "a");
    assert_eq!(literal_prefix("#"), "");
    assert_eq!(literal_prefix("home/+/light"), "home/");
    assert_eq!(literal_prefix("+/x"), "");
    assert_eq!(literal_prefix("a/b"), "a/b");
    let filters = [
        "a/#", "#", "+", "a/+", "a/+/c", "+/b/#", "a/b", "/#", "/+", "a//#",
    ];
    let topics = [
        "a", "a/b", "a/b/c", "a/x/c", "b", "x/b/y", "/", "/a", "a//", "$SYS/a", "ab",
    ];
    for f in filters {
        let tf = filter(&[f], &[]).unwrap();
        for t in topics {
            assert_eq!(tf.traces("c", t), topic::matches(f, t), "{f} {t}");
        }
    }
}
