//! Publish/subscribe: QoS flows byte by byte, QoS downgrade, wildcards, invalid filters and
//! topics, unsubscribe (MQTT 3.1.1 sections 3.3-3.11, 4.3-4.7); order.rs the order of
//! messages and packets (4.6).

#[path = "../common/mod.rs"]
mod common;
mod order;

use common::*;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

fn sub_client(addr: std::net::SocketAddr, id: &str, filters: &[(&str, u8)]) -> RawClient {
    let mut c = RawClient::connected(addr, id);
    let granted = c.subscribe(1, filters);
    assert_eq!(granted, filters.iter().map(|f| f.1).collect::<Vec<_>>());
    c
}

#[test]
fn qos0_publish_is_delivered_without_acks() {
    let b = start_broker();
    let mut s = sub_client(b.addr(), "q0-sub", &[("q0/t", 0)]);
    let mut p = RawClient::connected(b.addr(), "q0-pub");
    p.send(&publish("q0/t", b"zero", 0, false, false, 0));
    s.expect(&publish("q0/t", b"zero", 0, false, false, 0));
    p.expect_silence(Duration::from_millis(300));
}

#[test]
fn qos1_flow_puback_both_ways() {
    let b = start_broker();
    let mut s = sub_client(b.addr(), "q1-sub", &[("q1/t", 1)]);
    let mut p = RawClient::connected(b.addr(), "q1-pub");
    p.send(&publish("q1/t", b"one", 1, false, false, 0x1234));
    p.expect_hex("40 02 12 34");
    let got = s.recv_publish();
    assert_eq!(
        (got.qos, got.dup, got.retain, got.payload.as_slice()),
        (1, false, false, &b"one"[..])
    );
    let id = got.packet_id.unwrap();
    assert_ne!(id, 0, "MQTT-2.3.1-1: packet id must be non-zero");
    s.send(&puback(id));
    s.expect_silence(Duration::from_millis(300));
}

#[test]
fn qos2_flow_pubrec_pubrel_pubcomp_both_ways() {
    let b = start_broker();
    let mut s = sub_client(b.addr(), "q2-sub", &[("q2/t", 2)]);
    let mut p = RawClient::connected(b.addr(), "q2-pub");
    p.send(&publish("q2/t", b"two", 2, false, false, 0x0102));
    p.expect_hex("50 02 01 02"); // PUBREC
    p.send_hex("62 02 01 02"); // PUBREL (flags 0010, MQTT-3.6.1-1)
    p.expect_hex("70 02 01 02"); // PUBCOMP
    let got = s.recv_publish();
    assert_eq!((got.qos, got.payload.as_slice()), (2, &b"two"[..]));
    let id = got.packet_id.unwrap();
    s.send(&pubrec(id));
    s.expect(&pubrel(id));
    s.send(&pubcomp(id));
    s.expect_silence(Duration::from_millis(300));
}

#[test]
fn mqtt_3_8_4_6_delivered_qos_is_min_of_published_and_granted() {
    let b = start_broker();
    let mut subs: Vec<RawClient> = (0..3u8)
        .map(|g| sub_client(b.addr(), &format!("min-sub-{g}"), &[("min/t", g)]))
        .collect();
    let mut p = RawClient::connected(b.addr(), "min-pub");
    for (i, q) in [0u8, 1, 2].into_iter().enumerate() {
        let id = i as u16 + 1;
        p.send(&publish("min/t", &[q], q, false, false, id));
        match q {
            1 => p.expect(&puback(id)),
            2 => {
                p.expect(&pubrec(id));
                p.send(&pubrel(id));
                p.expect(&pubcomp(id));
            }
            _ => {}
        }
        for (g, s) in subs.iter_mut().enumerate() {
            let got = s.recv_publish();
            assert_eq!(got.payload, vec![q]);
            assert_eq!(got.qos, q.min(g as u8), "published at {q}, granted {g}");
            match got.qos {
                1 => s.send(&puback(got.packet_id.unwrap())),
                2 => {
                    let id = got.packet_id.unwrap();
                    s.send(&pubrec(id));
                    s.expect(&pubrel(id));
                    s.send(&pubcomp(id));
                }
                _ => {}
            }
        }
    }
}

// courtier-specific: Mosquitto's allow_duplicate_messages default sends one copy per matching
// subscription; Courtier delivers once at the highest granted QoS (MQTT 3.1.1 section 3.3.5 non-normative).
#[test]
fn overlapping_subscriptions_deliver_once_at_max_qos() {
    let b = start_broker();
    let mut s = RawClient::connected(b.addr(), "overlap");
    assert_eq!(s.subscribe(1, &[("ov/+", 1), ("ov/#", 2)]), vec![1, 2]);
    let mut p = RawClient::connected(b.addr(), "overlap-pub");
    p.send(&publish("ov/x", b"once", 2, false, false, 9));
    p.expect(&pubrec(9));
    p.send(&pubrel(9));
    p.expect(&pubcomp(9));
    let got = s.recv_publish();
    assert_eq!((got.qos, got.payload.as_slice()), (2, &b"once"[..]));
    s.send(&pubrec(got.packet_id.unwrap()));
    s.expect(&pubrel(got.packet_id.unwrap()));
    s.send(&pubcomp(got.packet_id.unwrap()));
    s.expect_silence(Duration::from_millis(500));
}

/// The router sorts matches to drop duplicates only when a matched subscriber holds several
/// subscriptions (actors/src/topics/index.rs): overlaps within one subtree (`ov2/+`, `ov2/#`)
/// and across the wildcard subtree (`+/x`) still deliver once, also after a filter is
/// re-subscribed (replaced) and after one is removed and added back.
#[test]
fn overlapping_subscriptions_deliver_once_after_subscription_changes() {
    let b = start_broker();
    let mut s = RawClient::connected(b.addr(), "overlap2");
    assert_eq!(
        s.subscribe(1, &[("ov2/+", 0), ("ov2/#", 1), ("+/x", 0)]),
        vec![0, 1, 0]
    );
    let mut p = RawClient::connected(b.addr(), "overlap2-pub");
    let once = |p: &mut RawClient, s: &mut RawClient, payload: &[u8], qos: u8| {
        p.send(&publish("ov2/x", payload, 0, false, false, 0));
        let got = s.recv_publish();
        assert_eq!((got.qos, got.payload.as_slice()), (qos, payload));
        s.expect_silence(Duration::from_millis(300));
    };
    once(&mut p, &mut s, b"three filters", 0);
    // The same filter again replaces its subscription [MQTT-3.8.4-3].
    assert_eq!(s.subscribe(2, &[("ov2/+", 0)]), vec![0]);
    once(&mut p, &mut s, b"replaced", 0);
    s.send(&unsubscribe(3, &["ov2/#"]));
    s.expect_hex("b0 02 00 03");
    once(&mut p, &mut s, b"two filters", 0);
    assert_eq!(s.subscribe(4, &[("ov2/#", 0)]), vec![0]);
    once(&mut p, &mut s, b"added back", 0);
}

#[test]
fn mqtt_4_7_wildcard_matching() {
    let b = start_broker();
    // (filter, topics that must match, topics that must not)
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("w/a/b", &["w/a/b"], &["w/a", "w/a/b/c", "w/A/b"]),
        ("w/+/b", &["w/a/b", "w//b"], &["w/a/c", "w/a/x/b"]),
        ("w/#", &["w", "w/a", "w/a/b/c", "w/"], &["x/w", "ww"]),
        ("w/+", &["w/a", "w/"], &["w", "w/a/b"]),
        ("w/a/#", &["w/a", "w/a/b"], &["w/b"]),
        ("+/+", &["w/a", "/w"], &["w", "w/a/b"]),
    ];
    let mut p = RawClient::connected(b.addr(), "wild-pub");
    for (i, (filter, yes, no)) in cases.iter().enumerate() {
        let mut s = sub_client(b.addr(), &format!("wild-sub-{i}"), &[(filter, 0)]);
        for t in no.iter().chain(yes.iter()) {
            p.send(&publish(*t, t.as_bytes(), 0, false, false, 0));
        }
        for t in yes.iter() {
            let got = s.recv_publish();
            assert_eq!(
                got.topic, *t,
                "filter {filter}: expected {t}, got {} (non-matching topics were sent first)",
                got.topic
            );
        }
        s.expect_silence(Duration::from_millis(200));
    }
}

#[test]
fn mqtt_4_7_2_1_wildcards_at_first_level_do_not_match_sys_topics() {
    let b = start_broker_with(TestConfig {
        sys_interval_secs: 1,
        ..TestConfig::default()
    });
    let mut all = sub_client(
        b.addr(),
        "sys-hash",
        &[("#", 0), ("+/broker/uptime", 0), ("+/#", 0)],
    );
    let mut sys = sub_client(b.addr(), "sys-sys", &[("$SYS/#", 0)]);
    let got = sys.recv_publish();
    assert!(got.topic.starts_with("$SYS/"), "got {}", got.topic);
    all.expect_silence(Duration::from_millis(2500));
}

#[test]
fn invalid_topic_filters_are_never_subscribed() {
    // MQTT 3.1.1 4.7.1: "a/#/b" and "a+" are invalid. Any broker must either refuse them in the
    // SUBACK (0x80) or close the connection; they must never match anything.
    let b = start_broker();
    for (i, f) in ["a/#/b", "a+", "a/b#", "+a/b"].into_iter().enumerate() {
        let mut c = RawClient::connected(b.addr(), &format!("badf-{i}"));
        c.send(&subscribe(1, &[(f, 0)]));
        match c.try_read_packet(CLOSE) {
            Ok((0x90, body)) => assert_eq!(body, vec![0, 1, 0x80], "filter {f}"),
            Ok((t, body)) => panic!("filter {f}: unexpected {t:02x} {}", hex(&body)),
            Err(raw::ReadEnd::Closed { .. }) => {}
            Err(e) => panic!("filter {f}: {e:?}"),
        }
    }
}

// courtier-specific: Mosquitto closes the connection on an invalid filter; Courtier answers
// SUBACK 0x80 for that filter and keeps the others (and the connection).
#[test]
fn invalid_topic_filters_get_suback_0x80() {
    let b = start_broker();
    let mut c = RawClient::connected(b.addr(), "badf-suback");
    let codes = c.subscribe(1, &[("ok/t", 1), ("a/#/b", 0), ("a+", 0), ("ok/+", 0)]);
    assert_eq!(codes, vec![1, 0x80, 0x80, 0]);
    c.send(&pingreq());
    c.expect_hex("d0 00");
}

#[test]
fn mqtt_3_3_2_2_publish_topic_with_wildcard_closes_the_connection() {
    let b = start_broker();
    for (i, t) in ["a/+", "a/#", "+", "#"].into_iter().enumerate() {
        let mut c = RawClient::connected(b.addr(), &format!("pubwild-{i}"));
        c.send(&publish(t, b"x", 0, false, false, 0));
        c.expect_closed(CLOSE);
    }
}

#[test]
fn mqtt_4_7_3_1_publish_with_empty_topic_closes_the_connection() {
    let b = start_broker();
    let mut c = RawClient::connected(b.addr(), "pubempty");
    c.send(&publish("", b"x", 1, false, false, 1));
    c.expect_closed(CLOSE);
}

#[test]
fn unsubscribe_gets_unsuback_and_stops_delivery() {
    let b = start_broker();
    let mut s = sub_client(b.addr(), "unsub", &[("un/t", 0), ("un/other", 0)]);
    let mut p = RawClient::connected(b.addr(), "unsub-pub");
    p.send(&publish("un/t", b"before", 0, false, false, 0));
    assert_eq!(s.recv_publish().payload, b"before");
    s.send(&unsubscribe(0x0a0b, &["un/t"]));
    s.expect_hex("b0 02 0a 0b");
    p.send(&publish("un/t", b"after", 0, false, false, 0));
    p.send(&publish("un/other", b"still", 0, false, false, 0));
    let got = s.recv_publish();
    assert_eq!(
        (got.topic.as_str(), got.payload.as_slice()),
        ("un/other", &b"still"[..])
    );
    s.expect_silence(Duration::from_millis(300));
    // MQTT-3.10.4-5: UNSUBACK even when nothing was subscribed.
    s.send(&unsubscribe(7, &["never/subscribed"]));
    s.expect_hex("b0 02 00 07");
}
