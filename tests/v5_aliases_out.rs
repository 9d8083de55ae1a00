//! Topic aliases from the broker to a 5.0 client (MQTT 5.0 §3.3.2.3.4), as raw packets: assigned
//! only when the client's CONNECT allows them, never above its maximum, set with the topic,
//! then used with an empty topic, re-mapped (with the topic again) by the replacement policy
//! of connection/aliases_out.rs.

mod common;

use common::v5::*;
use common::*;
use std::net::SocketAddr;

const TOPIC_ALIAS: u8 = 0x23;
const A: &str = "homeassistant/sensor/0x00158d0001a2b3c4/temperature/state";
const B: &str = "zigbee2mqtt/Living Room Motion Sensor/availability";
const C: &str = "zigbee2mqtt/Kitchen Light/state";

fn connect5(addr: SocketAddr, c: &Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    let ack = ConnAck5::parse(first, &body);
    assert_eq!(ack.reason, 0, "CONNACK refused: {ack:?}");
    (cl, ack)
}

fn subscriber(addr: SocketAddr, alias_max: Option<u16>, filter: &str) -> RawClient {
    let mut c = Connect5::new(&unique("alias-sub"));
    if let Some(n) = alias_max {
        c = c.prop(P::U16(prop::TOPIC_ALIAS_MAXIMUM, n));
    }
    let (mut s, _) = connect5(addr, &c);
    s.send(&subscribe5(1, &[(filter, 1)], &[]));
    let (first, body) = s.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![1]);
    s
}

/// The next PUBLISH (acknowledged if QoS 1): its topic as sent, its alias, its payload.
fn recv(c: &mut RawClient) -> (String, Option<u16>, Vec<u8>) {
    let (first, body) = c.read_packet();
    let p = Publish5::parse(first, &body);
    if let Some(id) = p.pkid {
        c.send(&packet(0x40, &id.to_be_bytes()));
    }
    let alias = p.props.iter().find_map(|x| match x {
        P::U16(TOPIC_ALIAS, n) => Some(*n),
        _ => None,
    });
    (p.topic, alias, p.payload)
}

fn send(p: &mut RawClient, topic: &str, payload: &str) {
    p.send(&publish5(topic, payload.as_bytes(), 0, false, 0, &[]));
}

fn got(topic: &str, alias: Option<u16>, payload: &str) -> (String, Option<u16>, Vec<u8>) {
    (topic.to_owned(), alias, payload.as_bytes().to_vec())
}

#[test]
fn mqtt_3_3_2_11_aliases_are_set_used_and_re_mapped_within_the_clients_maximum() {
    let b = start_broker();
    let mut s = subscriber(b.addr(), Some(2), "#");
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("alias-pub")));
    send(&mut p, A, "1");
    assert_eq!(
        recv(&mut s),
        got(A, Some(1), "1"),
        "first send sets alias 1"
    );
    send(&mut p, A, "2");
    assert_eq!(recv(&mut s), got("", Some(1), "2"), "then the alias alone");
    send(&mut p, B, "3");
    assert_eq!(recv(&mut s), got(B, Some(2), "3"));
    send(&mut p, "short/t", "4");
    assert_eq!(
        recv(&mut s),
        got("short/t", None, "4"),
        "short topics keep their name"
    );
    send(&mut p, A, "5");
    assert_eq!(recv(&mut s), got("", Some(1), "5"));
    // Both aliases taken: C must come back before it takes one, then it takes B's (used least
    // recently), sent with its topic.
    send(&mut p, C, "6");
    assert_eq!(recv(&mut s), got(C, None, "6"));
    send(&mut p, C, "7");
    assert_eq!(recv(&mut s), got(C, Some(2), "7"));
    send(&mut p, C, "8");
    assert_eq!(recv(&mut s), got("", Some(2), "8"));
    send(&mut p, B, "9");
    assert_eq!(recv(&mut s), got(B, None, "9"), "B lost its alias");
    send(&mut p, A, "10");
    assert_eq!(recv(&mut s), got("", Some(1), "10"));
}

#[test]
fn mqtt_3_1_2_27_no_aliases_without_a_topic_alias_maximum_or_with_max_topic_alias_out_0() {
    let b = start_broker();
    let mut none = subscriber(b.addr(), None, "#");
    let mut zero = subscriber(b.addr(), Some(0), "#");
    let mut old = RawClient::connected(b.addr(), &unique("alias-311"));
    old.subscribe(1, &[("#", 0)]);
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("alias-pub")));
    for i in 0..3 {
        send(&mut p, A, &i.to_string());
        assert_eq!(recv(&mut none), got(A, None, &i.to_string()));
        assert_eq!(recv(&mut zero), got(A, None, &i.to_string()));
        assert_eq!(old.recv_publish().topic, A);
    }
    let off = start_broker_with(TestConfig {
        tweak: Some(|s| s.limits.max_topic_alias_out = 0),
        ..TestConfig::default()
    });
    let mut s = subscriber(off.addr(), Some(10), "#");
    let (mut p, _) = connect5(off.addr(), &Connect5::new(&unique("alias-pub")));
    for i in 0..3 {
        send(&mut p, A, &i.to_string());
        assert_eq!(recv(&mut s), got(A, None, &i.to_string()));
    }
}

#[test]
fn max_topic_alias_out_caps_what_the_client_allows() {
    let b = start_broker_with(TestConfig {
        tweak: Some(|s| s.limits.max_topic_alias_out = 1),
        ..TestConfig::default()
    });
    let mut s = subscriber(b.addr(), Some(100), "#");
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("alias-pub")));
    send(&mut p, A, "1");
    send(&mut p, B, "2");
    send(&mut p, A, "3");
    assert_eq!(recv(&mut s), got(A, Some(1), "1"));
    assert_eq!(recv(&mut s), got(B, None, "2"));
    assert_eq!(recv(&mut s), got("", Some(1), "3"));
}

#[test]
fn qos_1_retained_and_aliased_deliveries_keep_everything_else() {
    let b = start_broker();
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("alias-pub")));
    p.send(&publish5(A, b"kept", 1, true, 1, &[]));
    p.read_packet();
    let mut s = subscriber(b.addr(), Some(5), "homeassistant/#");
    let (first, body) = s.read_packet();
    let r = Publish5::parse(first, &body);
    assert!(r.retain && r.topic == A && r.payload == b"kept");
    s.send(&packet(0x40, &r.pkid.unwrap().to_be_bytes()));
    let ct = P::Str(prop::CONTENT_TYPE, "text/plain".into());
    p.send(&publish5(
        A,
        b"live",
        1,
        false,
        2,
        std::slice::from_ref(&ct),
    ));
    let (first, body) = s.read_packet();
    let l = Publish5::parse(first, &body);
    assert_eq!(
        (l.topic.as_str(), l.qos, l.payload.as_slice()),
        ("", 1, &b"live"[..])
    );
    assert!(l.props.contains(&ct) && l.props.contains(&P::U16(TOPIC_ALIAS, 1)));
}
