//! MQTT 5.0 limits the broker announces in CONNACK and holds clients to, as raw packets: the
//! inbound Receive Maximum (§4.9), `retain_available` (§3.2.2.3.5) and
//! `wildcard_subscriptions_available` (§3.2.2.3.11), each off or tightened by configuration.

mod common;

use common::v5::*;
use common::*;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

fn broker(tweak: fn(&mut courtier::config::Settings)) -> TestBroker {
    start_broker_with(TestConfig {
        tweak: Some(tweak),
        ..TestConfig::default()
    })
}

fn connect5(addr: std::net::SocketAddr, c: &Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    (cl, ConnAck5::parse(first, &body))
}

fn ack(c: &mut RawClient) -> Ack5 {
    let (first, body) = c.read_packet();
    Ack5::parse(first, &body)
}

fn disconnect_code(c: &mut RawClient) -> u8 {
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "one DISCONNECT before the close: {got:?}");
    parse_disconnect(got[0].0, &got[0].1).0
}

#[test]
fn receive_maximum_is_announced_only_when_configured() {
    let b = start_broker();
    let (_c, a) = connect5(b.addr(), &Connect5::new(&unique("rm-default")));
    assert!(
        find(&a.props, prop::RECEIVE_MAXIMUM).is_none(),
        "65535 is not announced"
    );
    let b = broker(|s| s.limits.receive_maximum = 3);
    let (_c, a) = connect5(b.addr(), &Connect5::new(&unique("rm")));
    assert_eq!(
        find(&a.props, prop::RECEIVE_MAXIMUM),
        Some(&P::U16(prop::RECEIVE_MAXIMUM, 3))
    );
}

#[test]
fn mqtt_3_3_4_7_one_publish_above_the_receive_maximum_gets_disconnect_0x93() {
    let b = broker(|s| s.limits.receive_maximum = 2);
    let (mut c, _) = connect5(b.addr(), &Connect5::new(&unique("rm-over")));
    // Two QoS 2 flows stay open (PUBREC, no PUBREL): both places are taken.
    c.send(&publish5("rm/t", b"1", 2, false, 1, &[]));
    assert_eq!(ack(&mut c).first, 0x50);
    c.send(&publish5("rm/t", b"2", 2, false, 2, &[]));
    assert_eq!(ack(&mut c).first, 0x50);
    // PUBCOMP ends the first flow and frees its place.
    c.send(&pubrel(1));
    assert_eq!(ack(&mut c).first, 0x70);
    c.send(&publish5("rm/t", b"3", 1, false, 3, &[]));
    assert_eq!(ack(&mut c).first, 0x40, "QoS 1 acknowledged at once");
    c.send(&publish5("rm/t", b"4", 2, false, 4, &[]));
    assert_eq!(ack(&mut c).first, 0x50);
    // Flows 2 and 4 are open: a third is one too many, QoS 1 or 2 alike.
    c.send(&publish5("rm/t", b"5", 1, false, 5, &[]));
    assert_eq!(disconnect_code(&mut c), 0x93);
}

#[test]
fn qos_0_and_a_repeated_qos_2_publish_take_no_place() {
    let b = broker(|s| s.limits.receive_maximum = 1);
    let (mut c, _) = connect5(b.addr(), &Connect5::new(&unique("rm-free")));
    c.send(&publish5("rm/t", b"1", 2, false, 1, &[]));
    assert_eq!(ack(&mut c).first, 0x50);
    for _ in 0..3 {
        c.send(&publish5("rm/t", b"0", 0, false, 0, &[]));
    }
    // The same flow repeated with DUP (0x08) is answered again and counted once.
    let mut dup = publish5("rm/t", b"1", 2, false, 1, &[]);
    dup[0] |= 0x08;
    c.send(&dup);
    assert_eq!(ack(&mut c).first, 0x50);
    c.send(&pubrel(1));
    assert_eq!(ack(&mut c).first, 0x70);
    c.send(&publish5("rm/t", b"2", 1, false, 2, &[]));
    assert_eq!(ack(&mut c).first, 0x40);
}

#[test]
fn retain_available_false_is_announced_and_a_retained_publish_gets_disconnect_0x9a() {
    let b = broker(|s| s.broker.retain_available = false);
    let (mut c, a) = connect5(b.addr(), &Connect5::new(&unique("nr")));
    assert_eq!(
        find(&a.props, prop::RETAIN_AVAILABLE),
        Some(&P::Byte(prop::RETAIN_AVAILABLE, 0))
    );
    c.send(&publish5("nr/t", b"x", 0, false, 0, &[]));
    c.send(&publish5("nr/t", b"x", 1, true, 1, &[]));
    // [MQTT-3.2.2-14]
    assert_eq!(disconnect_code(&mut c), 0x9A);
    // Nothing was retained.
    let (mut s, _) = connect5(b.addr(), &Connect5::new(&unique("nr-sub")));
    s.send(&subscribe5(1, &[("nr/#", 1)], &[]));
    assert_eq!(ack(&mut s).reasons, vec![1]);
    s.expect_silence(Duration::from_millis(300));
}

#[test]
fn retain_available_false_closes_a_3_1_1_retained_publish_as_mosquitto_does() {
    let b = broker(|s| s.broker.retain_available = false);
    let mut c = RawClient::connected(b.addr(), &unique("nr311"));
    c.send(&publish("nr/t", b"x", 1, false, false, 1));
    c.expect(&puback(1));
    c.send(&publish("nr/t", b"x", 1, true, false, 2));
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_3_2_2_13_a_retained_will_is_refused_without_retain_available() {
    let b = broker(|s| s.broker.retain_available = false);
    let mut will = Connect5::new(&unique("nrw")).will("nrw/will", b"gone", 0, vec![]);
    will.will.as_mut().unwrap().3 = true;
    let mut c = RawClient::connect(b.addr());
    c.send(&will.to_bytes());
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1);
    assert_eq!(ConnAck5::parse(got[0].0, &got[0].1).reason, 0x9A);
    // 3.1.1: closed without CONNACK, as Mosquitto.
    let old = Connect::v311(&unique("nrw311")).will("nrw/will", b"gone", 0, true);
    let mut c = RawClient::connect(b.addr());
    c.send(&old.to_bytes());
    c.expect_closed(CLOSE);
    // A Will without RETAIN is fine.
    let plain = Connect5::new(&unique("nrw-ok")).will("nrw/will", b"gone", 0, vec![]);
    let (_c, a) = connect5(b.addr(), &plain);
    assert_eq!(a.reason, 0);
}

#[test]
fn wildcard_subscriptions_available_false_refuses_wildcard_filters_with_0xa2() {
    let b = broker(|s| s.broker.wildcard_subscriptions_available = false);
    let (mut c, a) = connect5(b.addr(), &Connect5::new(&unique("nw")));
    assert_eq!(
        find(&a.props, prop::WILDCARD_SUBSCRIPTION_AVAILABLE),
        Some(&P::Byte(prop::WILDCARD_SUBSCRIPTION_AVAILABLE, 0))
    );
    c.send(&subscribe5(
        1,
        &[("nw/+/t", 1), ("nw/#", 0), ("nw/exact", 1)],
        &[],
    ));
    assert_eq!(ack(&mut c).reasons, vec![0xA2, 0xA2, 1]);
    // 3.1.1 hears its one failure code.
    let mut old = RawClient::connected(b.addr(), &unique("nw311"));
    assert_eq!(
        old.subscribe(1, &[("#", 0), ("nw/exact", 0)]),
        vec![0x80, 0]
    );
    // The exact filter works; the refused wildcard delivers nothing.
    old.send(&publish("nw/exact", b"x", 0, false, false, 0));
    assert_eq!(old.recv_publish().payload, b"x");
    let (first, body) = c.read_packet();
    assert_eq!(Publish5::parse(first, &body).topic, "nw/exact");
    c.expect_silence(Duration::from_millis(200));
}

#[test]
fn the_connack_flags_are_absent_by_default() {
    let b = start_broker();
    let (_c, a) = connect5(b.addr(), &Connect5::new(&unique("flags")));
    assert!(find(&a.props, prop::RETAIN_AVAILABLE).is_none());
    assert!(find(&a.props, prop::WILDCARD_SUBSCRIPTION_AVAILABLE).is_none());
}

#[test]
fn subscription_identifiers_available_false_refuses_a_subscribe_with_one_with_0xa1() {
    let b = broker(|s| s.broker.subscription_identifiers_available = false);
    let (mut c, a) = connect5(b.addr(), &Connect5::new(&unique("nsi")));
    assert_eq!(
        find(&a.props, prop::SUBSCRIPTION_IDENTIFIER_AVAILABLE),
        Some(&P::Byte(prop::SUBSCRIPTION_IDENTIFIER_AVAILABLE, 0))
    );
    let id = [P::Vbi(prop::SUBSCRIPTION_IDENTIFIER, 7)];
    c.send(&subscribe5(1, &[("nsi/a", 1), ("nsi/b", 0)], &id));
    assert_eq!(ack(&mut c).reasons, vec![0xA1, 0xA1]);
    c.send(&subscribe5(2, &[("nsi/a", 1)], &[]));
    assert_eq!(ack(&mut c).reasons, vec![1]);
}
