//! MQTT 5.0 Wills, as raw packets (MQTT 5.0 §3.1.3.2, §3.14.4): Will properties, DISCONNECT
//! with reason code 0x04, the Will Delay Interval.

mod common;

use common::v5::*;
use common::*;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

fn accepted(addr: std::net::SocketAddr, c: &Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    let ack = ConnAck5::parse(first, &body);
    assert_eq!(ack.reason, 0, "CONNACK refused: {ack:?}");
    (cl, ack)
}

#[test]
fn mqtt_3_14_4_3_disconnect_with_will_message_publishes_the_will_normal_does_not() {
    let b = start_broker();
    let mut w = RawClient::connected(b.addr(), &unique("watch"));
    w.subscribe(1, &[("dw/#", 0)]);
    let will = |t: &str| Connect5::new(&unique("dw")).will(t, b"bye", 0, vec![]);
    let (mut normal, _) = accepted(b.addr(), &will("dw/normal"));
    normal.send(&disconnect5(0x00, &[]));
    normal.expect_closed(CLOSE);
    let (mut with_will, _) = accepted(b.addr(), &will("dw/with"));
    with_will.send(&disconnect5(0x04, &[]));
    with_will.expect_closed(CLOSE);
    let p = w.recv_publish();
    assert_eq!(
        (p.topic.as_str(), p.payload.as_slice()),
        ("dw/with", &b"bye"[..])
    );
    w.expect_silence(Duration::from_millis(300));
}

#[test]
fn will_properties_travel_with_the_will() {
    let b = start_broker();
    let (mut w, _) = accepted(b.addr(), &Connect5::new(&unique("wp-sub")));
    w.send(&subscribe5(1, &[("wp/will", 0)], &[]));
    w.read_packet();
    let wprops = vec![
        P::Str(prop::CONTENT_TYPE, "text/plain".into()),
        P::Pair("k".into(), "v".into()),
    ];
    let (c, _) = accepted(
        b.addr(),
        &Connect5::new(&unique("wp")).will("wp/will", b"x", 0, wprops.clone()),
    );
    c.drop_connection();
    let (first, body) = w.read_packet();
    let p = Publish5::parse(first, &body);
    assert_eq!(p.payload, b"x");
    assert_eq!(p.props, wprops);
}

fn will_delayed(id: &str, topic: &str, delay: u32, expiry: u32) -> Connect5 {
    Connect5::new(id).clean(false).session_expiry(expiry).will(
        topic,
        b"gone",
        0,
        vec![P::U32(0x18, delay)],
    )
}

/// [MQTT-3.1.3-9]: the Will waits out its Will Delay Interval; a client back in time has
/// none published, one that stays away has it published after the delay.
#[test]
fn mqtt_3_1_3_9_the_will_waits_for_its_delay_and_is_dropped_if_the_client_returns() {
    let b = start_broker();
    let mut w = RawClient::connected(b.addr(), &unique("wd-watch"));
    w.subscribe(1, &[("wd/#", 0)]);
    let late = unique("wd-late");
    let (c, _) = accepted(b.addr(), &will_delayed(&late, "wd/late", 1, 60));
    c.drop_connection();
    let back = unique("wd-back");
    let (c, _) = accepted(b.addr(), &will_delayed(&back, "wd/back", 1, 60));
    c.drop_connection();
    w.expect_silence(Duration::from_millis(500));
    // `back` returns within the delay: its will is never published.
    let (_again, ack) = accepted(
        b.addr(),
        &Connect5::new(&back).clean(false).session_expiry(60),
    );
    assert!(ack.session_present);
    let p = w.recv_publish();
    assert_eq!(p.topic, "wd/late");
    w.expect_silence(Duration::from_millis(1200));
}

/// A session that ends before the Will Delay Interval passes publishes the Will when it ends.
#[test]
fn mqtt_3_1_3_9_the_will_goes_when_the_session_ends_first() {
    let b = start_broker();
    let mut w = RawClient::connected(b.addr(), &unique("we-watch"));
    w.subscribe(1, &[("we/#", 0)]);
    let (c, _) = accepted(b.addr(), &will_delayed(&unique("we-1"), "we/expiry", 60, 1));
    c.drop_connection();
    let t = std::time::Instant::now();
    assert_eq!(w.recv_publish().topic, "we/expiry");
    assert!(
        t.elapsed() >= Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    // With session expiry 0 the session ends at once, and so does the wait.
    let (c, _) = accepted(b.addr(), &will_delayed(&unique("we-0"), "we/now", 60, 0));
    c.drop_connection();
    assert_eq!(w.recv_publish().topic, "we/now");
}
