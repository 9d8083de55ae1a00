//! MQTT 5.0 PUBLISH, its properties and acknowledgements, SUBSCRIBE/UNSUBSCRIBE reason codes,
//! the client's Maximum Packet Size, message expiry, and 3.1.1 and 5.0 clients side by side,
//! as raw packets (MQTT 5.0 §3.3 to §3.11, §4.7).

mod common;

use common::v5::*;
use common::*;
use std::time::Duration;

fn client5(addr: std::net::SocketAddr, c: Connect5) -> RawClient {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0);
    cl
}

fn sub5(c: &mut RawClient, filters: &[(&str, u8)]) -> Ack5 {
    c.send(&subscribe5(1, filters, &[]));
    let (first, body) = c.read_packet();
    assert_eq!(first, 0x90);
    Ack5::parse(first, &body)
}

fn recv5(c: &mut RawClient) -> Publish5 {
    let (first, body) = c.read_packet();
    Publish5::parse(first, &body)
}

fn all_publish_props() -> Vec<P> {
    vec![
        P::Byte(prop::PAYLOAD_FORMAT_INDICATOR, 1),
        P::Str(prop::CONTENT_TYPE, "application/json".into()),
        P::Str(prop::RESPONSE_TOPIC, "reply/here".into()),
        P::Bin(prop::CORRELATION_DATA, vec![0, 1, 2, 255]),
        P::Pair("b".into(), "2".into()),
        P::Pair("a".into(), "1".into()),
        P::Pair("b".into(), "3".into()),
    ]
}

#[test]
fn mqtt_3_3_2_publish_properties_travel_to_a_5_0_subscriber_unchanged() {
    let b = start_broker();
    let mut s = client5(b.addr(), Connect5::new(&unique("ps")));
    sub5(&mut s, &[("pp/t", 1)]);
    let mut p = client5(b.addr(), Connect5::new(&unique("pp")));
    p.send(&publish5("pp/t", b"{}", 1, false, 9, &all_publish_props()));
    let (first, body) = p.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0]);
    let got = recv5(&mut s);
    assert_eq!(got.payload, b"{}");
    // User properties in the order sent, duplicates kept [MQTT-3.3.2-17], [MQTT-3.3.2-18].
    assert_eq!(got.props, all_publish_props());
}

#[test]
fn versions_mix_3_1_1_and_5_0_clients_exchange_messages() {
    let b = start_broker();
    let mut old_sub = RawClient::connected(b.addr(), &unique("old-sub"));
    old_sub.subscribe(1, &[("mix/#", 1)]);
    let mut new_sub = client5(b.addr(), Connect5::new(&unique("new-sub")));
    sub5(&mut new_sub, &[("mix/#", 1)]);
    // A 5.0 message reaches the 3.1.1 subscriber without its properties.
    let mut new_pub = client5(b.addr(), Connect5::new(&unique("new-pub")));
    new_pub.send(&publish5(
        "mix/a",
        b"five",
        0,
        false,
        0,
        &all_publish_props(),
    ));
    let p = old_sub.recv_publish();
    assert_eq!(
        (p.topic.as_str(), p.payload.as_slice()),
        ("mix/a", &b"five"[..])
    );
    assert_eq!(recv5(&mut new_sub).props, all_publish_props());
    // A 3.1.1 message reaches the 5.0 subscriber, with no properties.
    let mut old_pub = RawClient::connected(b.addr(), &unique("old-pub"));
    old_pub.send(&publish("mix/b", b"four", 0, false, false, 0));
    let got = recv5(&mut new_sub);
    assert_eq!((got.payload.as_slice(), got.props.len()), (&b"four"[..], 0));
    assert_eq!(old_sub.recv_publish().payload, b"four");
}

#[test]
fn retained_messages_cross_versions_with_their_properties() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("rp")));
    let ps = [P::Str(prop::CONTENT_TYPE, "text/plain".into())];
    p.send(&publish5("rx/five", b"5", 1, true, 1, &ps));
    p.read_packet();
    let mut old = RawClient::connected(b.addr(), &unique("rold"));
    old.send(&publish("rx/four", b"4", 1, true, false, 1));
    old.expect(&puback(1));
    old.subscribe(2, &[("rx/five", 0)]);
    let r = old.recv_publish();
    assert!(r.retain && r.payload == b"5");
    let mut new = client5(b.addr(), Connect5::new(&unique("rnew")));
    sub5(&mut new, &[("rx/five", 0)]);
    let r = recv5(&mut new);
    assert!(r.retain);
    assert_eq!(r.props, ps);
    sub5(&mut new, &[("rx/four", 0)]);
    let r = recv5(&mut new);
    assert_eq!((r.payload.as_slice(), r.retain), (&b"4"[..], true));
}

#[test]
fn mqtt_3_4_2_puback_and_pubrec_say_0x10_when_nobody_is_subscribed() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("nm")));
    p.send(&publish5("nobody/listens", b"x", 1, false, 1, &[]));
    let (first, body) = p.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0x10]);
    p.send(&publish5("nobody/listens", b"x", 2, false, 2, &[]));
    let (first, body) = p.read_packet();
    assert_eq!(first, 0x50);
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0x10]);
}

#[test]
fn mqtt_3_3_2_4_payload_not_utf8_with_format_indicator_1_gets_0x99() {
    let b = start_broker();
    let mut s = client5(b.addr(), Connect5::new(&unique("pfs")));
    sub5(&mut s, &[("pf/t", 1)]);
    let mut p = client5(b.addr(), Connect5::new(&unique("pf")));
    let utf8 = [P::Byte(prop::PAYLOAD_FORMAT_INDICATOR, 1)];
    p.send(&publish5("pf/t", &[0xC3, 0x28], 1, false, 1, &utf8));
    let (first, body) = p.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0x99]);
    s.expect_silence(Duration::from_millis(300));
    p.send(&publish5("pf/t", "é".as_bytes(), 1, false, 2, &utf8));
    let (first, body) = p.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0]);
    assert_eq!(recv5(&mut s).payload, "é".as_bytes());
}

#[test]
fn publishing_into_sys_is_not_authorized_for_a_5_0_client() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("sysw")));
    p.send(&publish5("$SYS/broker/fake", b"x", 1, false, 1, &[]));
    let (first, body) = p.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0x87]);
}

#[test]
fn mqtt_3_3_2_14_response_topic_with_wildcards_is_a_protocol_error() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("rt")));
    let ps = [P::Str(prop::RESPONSE_TOPIC, "reply/#".into())];
    p.send(&publish5("rt/t", b"x", 0, false, 0, &ps));
    let got = p.expect_closed_after_packets(Duration::from_secs(5));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x82);
}

#[test]
fn mqtt_3_3_2_12_a_client_s_topic_alias_stands_for_its_topic_and_stays_with_it() {
    let b = start_broker();
    let mut s = client5(b.addr(), Connect5::new(&unique("tas")));
    sub5(&mut s, &[("ta/#", 0)]);
    let mut p = client5(b.addr(), Connect5::new(&unique("ta")));
    let alias = |n| [P::U16(0x23, n)];
    p.send(&publish5(
        "ta/long/topic/name",
        b"1",
        0,
        false,
        0,
        &alias(1),
    ));
    p.send(&publish5("", b"2", 0, false, 0, &alias(1)));
    for want in [&b"1"[..], b"2"] {
        let got = recv5(&mut s);
        // The subscriber gets the topic, never the publisher's alias.
        assert_eq!(
            (got.topic.as_str(), got.payload.as_slice()),
            ("ta/long/topic/name", want)
        );
        assert!(find(&got.props, 0x23).is_none(), "{got:?}");
    }
}

#[test]
fn mqtt_3_3_2_9_topic_alias_beyond_the_maximum_gets_disconnect_0x94() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("ta11")));
    p.send(&publish5("ta/t", b"x", 0, false, 0, &[P::U16(0x23, 11)]));
    let got = p.expect_closed_after_packets(Duration::from_secs(5));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x94);
}

#[test]
fn an_unknown_topic_alias_or_an_empty_topic_without_one_gets_disconnect_0x82() {
    let b = start_broker();
    for (topic, props) in [("", vec![P::U16(0x23, 2)]), ("", vec![])] {
        let mut p = client5(b.addr(), Connect5::new(&unique("ta-bad")));
        p.send(&publish5(topic, b"x", 0, false, 0, &props));
        let got = p.expect_closed_after_packets(Duration::from_secs(5));
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x82);
    }
}

#[test]
fn mqtt_3_9_3_suback_has_a_reason_code_per_filter() {
    let b = start_broker();
    let mut c = client5(b.addr(), Connect5::new(&unique("sa")));
    let ack = sub5(
        &mut c,
        &[
            ("sa/q0", 0),
            ("sa/q1", 1),
            ("sa/q2", 2),
            ("sa/#/bad", 1),
            ("$share/g/sa/t", 1),
        ],
    );
    assert_eq!(ack.reasons, vec![0x00, 0x01, 0x02, 0x8F, 0x01]);
    // 0xA1 and 0xA2 (features turned off by configuration): tests/v5_limits.rs.
}

#[test]
fn mqtt_3_11_3_unsuback_says_0x11_for_a_filter_never_subscribed() {
    let b = start_broker();
    let mut c = client5(b.addr(), Connect5::new(&unique("ua")));
    sub5(&mut c, &[("ua/yes", 1)]);
    c.send(&unsubscribe5(3, &["ua/yes", "ua/no"]));
    let (first, body) = c.read_packet();
    let ack = Ack5::parse(first, &body);
    assert_eq!((ack.first, ack.pkid), (0xB0, 3));
    assert_eq!(ack.reasons, vec![0x00, 0x11]);
}

#[test]
fn mqtt_3_1_2_24_no_packet_larger_than_the_client_maximum_is_sent() {
    let b = start_broker();
    let mut s = client5(
        b.addr(),
        Connect5::new(&unique("mps")).prop(P::U32(prop::MAXIMUM_PACKET_SIZE, 64)),
    );
    sub5(&mut s, &[("mps/t", 1)]);
    let mut p = client5(b.addr(), Connect5::new(&unique("mpp")));
    p.send(&publish5("mps/t", &[7u8; 100], 1, false, 1, &[]));
    p.read_packet();
    p.send(&publish5("mps/t", b"small", 1, false, 2, &[]));
    p.read_packet();
    // The large one is dropped for this client; the small one after it arrives.
    let got = recv5(&mut s);
    assert_eq!(got.payload, b"small");
}

#[test]
fn mqtt_3_3_2_5_expired_retained_message_is_not_delivered() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("me")));
    let short = [P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 1)];
    let long = [P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 100)];
    p.send(&publish5("me/short", b"s", 1, true, 1, &short));
    p.read_packet();
    p.send(&publish5("me/long", b"l", 1, true, 2, &long));
    p.read_packet();
    std::thread::sleep(Duration::from_millis(2100));
    let mut s = client5(b.addr(), Connect5::new(&unique("mes")));
    sub5(&mut s, &[("me/#", 0)]);
    let got = recv5(&mut s);
    assert_eq!(got.payload, b"l");
    // The remaining lifetime is sent, not the original [MQTT-3.3.2-6].
    match find(&got.props, prop::MESSAGE_EXPIRY_INTERVAL) {
        Some(P::U32(_, left)) => assert!(*left <= 98, "{left}"),
        other => panic!("no message expiry interval: {other:?}"),
    }
    s.expect_silence(Duration::from_millis(300));
}

#[test]
fn expired_queued_message_is_not_delivered_to_a_returning_session() {
    let b = start_broker();
    let id = unique("meq");
    let mut c = client5(b.addr(), Connect5::new(&id).clean(false).session_expiry(60));
    sub5(&mut c, &[("meq/t", 1)]);
    c.send(&disconnect5(0, &[]));
    c.expect_closed(Duration::from_secs(5));
    let mut p = client5(b.addr(), Connect5::new(&unique("meqp")));
    let short = [P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 1)];
    p.send(&publish5("meq/t", b"stale", 1, false, 1, &short));
    p.read_packet();
    p.send(&publish5("meq/t", b"fresh", 1, false, 2, &[]));
    p.read_packet();
    std::thread::sleep(Duration::from_millis(2100));
    let mut c = client5(b.addr(), Connect5::new(&id).clean(false).session_expiry(60));
    assert_eq!(recv5(&mut c).payload, b"fresh");
}

#[test]
fn mqtt_3_5_2_a_new_qos_2_publish_reusing_an_unreleased_id_gets_pubrec_0x91() {
    let b = start_broker();
    let mut p = client5(b.addr(), Connect5::new(&unique("pid")));
    p.send(&publish5("pid/t", b"1", 2, false, 5, &[]));
    let (first, body) = p.read_packet();
    assert_eq!((first, Ack5::parse(first, &body).reasons[0]), (0x50, 0x10));
    // Same id, no DUP, before PUBREL: a new message on an id still in use.
    p.send(&publish5("pid/t", b"2", 2, false, 5, &[]));
    let (first, body) = p.read_packet();
    assert_eq!((first, Ack5::parse(first, &body).reasons[0]), (0x50, 0x91));
    // PUBREL releases it; a PUBREL for an id never received gets PUBCOMP 0x92.
    p.send(&pubrel(5));
    let (first, body) = p.read_packet();
    assert_eq!((first, Ack5::parse(first, &body).reasons[0]), (0x70, 0x00));
    p.send(&pubrel(6));
    let (first, body) = p.read_packet();
    assert_eq!((first, Ack5::parse(first, &body).reasons[0]), (0x70, 0x92));
}
