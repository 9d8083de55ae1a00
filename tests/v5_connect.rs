//! MQTT 5.0 CONNECT, CONNACK, DISCONNECT and session expiry, as raw packets (MQTT 5.0 §3.1,
//! §3.2, §3.14, §4.1).

mod common;

use common::v5::*;
use common::*;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

/// Connects a 5.0 client and returns it with its CONNACK.
fn connect5(addr: std::net::SocketAddr, c: &Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    (cl, ConnAck5::parse(first, &body))
}

fn accepted(addr: std::net::SocketAddr, c: &Connect5) -> (RawClient, ConnAck5) {
    let (cl, ack) = connect5(addr, c);
    assert_eq!(ack.reason, 0, "CONNACK refused: {ack:?}");
    (cl, ack)
}

#[test]
fn mqtt_3_2_2_16_empty_client_id_gets_an_assigned_client_identifier() {
    let b = start_broker();
    let (_c, ack) = accepted(b.addr(), &Connect5::new(""));
    match find(&ack.props, prop::ASSIGNED_CLIENT_IDENTIFIER) {
        Some(P::Str(_, id)) => assert!(!id.is_empty()),
        other => panic!("no assigned client identifier: {other:?} in {ack:?}"),
    }
    // A client that named itself is not assigned one.
    let (_c, ack) = accepted(b.addr(), &Connect5::new(&unique("named")));
    assert!(find(&ack.props, prop::ASSIGNED_CLIENT_IDENTIFIER).is_none());
}

#[test]
fn connack_tells_the_truth_about_what_the_broker_supports() {
    let b = start_broker_with(TestConfig {
        max_packet_size: 10_000,
        ..TestConfig::default()
    });
    let (_c, ack) = accepted(b.addr(), &Connect5::new(&unique("caps")));
    assert!(!ack.session_present);
    assert_eq!(
        find(&ack.props, prop::MAXIMUM_PACKET_SIZE),
        Some(&P::U32(prop::MAXIMUM_PACKET_SIZE, 10_000))
    );
    // Subscription identifiers are available (absent).
    assert!(find(&ack.props, prop::SUBSCRIPTION_IDENTIFIER_AVAILABLE).is_none());
    // Shared subscriptions: `[broker] shared_subscriptions_available`, true by default.
    assert_eq!(
        find(&ack.props, prop::SHARED_SUBSCRIPTION_AVAILABLE),
        Some(&P::Byte(prop::SHARED_SUBSCRIPTION_AVAILABLE, 1))
    );
    // Topic aliases: max_topic_alias, 10 by default (Mosquitto's).
    assert_eq!(
        find(&ack.props, prop::TOPIC_ALIAS_MAXIMUM),
        Some(&P::U16(prop::TOPIC_ALIAS_MAXIMUM, 10))
    );
    // QoS 2, retain and wildcards are available: absent means exactly that.
    assert!(find(&ack.props, prop::MAXIMUM_QOS).is_none());
    assert!(find(&ack.props, prop::RETAIN_AVAILABLE).is_none());
    assert!(find(&ack.props, prop::WILDCARD_SUBSCRIPTION_AVAILABLE).is_none());
}

#[test]
fn server_keep_alive_caps_a_longer_or_absent_keep_alive_at_max_keepalive() {
    let b = start_broker_with(TestConfig {
        max_keepalive: 30,
        ..TestConfig::default()
    });
    let (_c, ack) = accepted(b.addr(), &Connect5::new(&unique("ka")).keep_alive(600));
    assert_eq!(
        find(&ack.props, prop::SERVER_KEEP_ALIVE),
        Some(&P::U16(prop::SERVER_KEEP_ALIVE, 30))
    );
    let (_c, ack) = accepted(b.addr(), &Connect5::new(&unique("ka0")).keep_alive(0));
    assert_eq!(
        find(&ack.props, prop::SERVER_KEEP_ALIVE),
        Some(&P::U16(prop::SERVER_KEEP_ALIVE, 30))
    );
    let (_c, ack) = accepted(b.addr(), &Connect5::new(&unique("ka10")).keep_alive(10));
    assert!(find(&ack.props, prop::SERVER_KEEP_ALIVE).is_none());
    // A 3.1.1 client cannot be told: it is refused, as Mosquitto refuses it.
    let mut old = RawClient::connect(b.addr());
    old.send(&Connect::v311(&unique("ka311")).keep_alive(600).to_bytes());
    assert_eq!(
        old.expect_closed_after_packets(CLOSE),
        vec![(0x20, vec![0, 2])]
    );
}

#[test]
fn mqtt_3_2_2_22_server_keep_alive_is_enforced() {
    let b = start_broker_with(TestConfig {
        max_keepalive: 1,
        ..TestConfig::default()
    });
    let (mut c, _) = accepted(b.addr(), &Connect5::new(&unique("ka-enf")).keep_alive(0));
    // Silent for 1.5 x 1 s: DISCONNECT 0x8D (keep alive timeout), then close.
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x8D);
}

#[test]
fn mqtt_3_1_2_2_unknown_protocol_level_above_5_gets_connack_0x84_in_the_5_0_form() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut bytes = Connect5::new("future").to_bytes();
    // The level byte follows the length-prefixed "MQTT" (after the 2-byte fixed header).
    assert_eq!(bytes[8], 5);
    bytes[8] = 6;
    c.send(&bytes);
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    let ack = ConnAck5::parse(got[0].0, &got[0].1);
    assert_eq!(ack.reason, 0x84);
}

#[test]
fn mqtt_3_1_2_2_level_2_gets_the_3_1_1_form_connack_1() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut conn = Connect::v311("old");
    conn.level = 2;
    c.send(&conn.to_bytes());
    assert_eq!(
        c.expect_closed_after_packets(CLOSE),
        vec![(0x20, vec![0, 1])]
    );
}

#[test]
fn refusal_has_a_reason_string_unless_problem_information_is_off() {
    let b = start_broker_with(TestConfig {
        allow_anonymous: false,
        ..TestConfig::default()
    });
    let (_c, ack) = connect5(b.addr(), &Connect5::new(&unique("anon")));
    assert_eq!(ack.reason, 0x87, "anonymous: not authorized");
    assert!(find(&ack.props, prop::REASON_STRING).is_some(), "{ack:?}");
    let mut named =
        Connect5::new(&unique("named")).prop(P::Byte(prop::REQUEST_PROBLEM_INFORMATION, 0));
    named.username = Some("nobody".into());
    named.password = Some(b"pw".to_vec());
    let (_c, ack) = connect5(b.addr(), &named);
    assert_eq!(ack.reason, 0x86, "bad user name or password");
    assert!(find(&ack.props, prop::REASON_STRING).is_none(), "{ack:?}");
}

#[test]
fn mqtt_3_1_2_4_session_expiry_0_ends_the_session_at_disconnect() {
    let b = start_broker();
    let id = unique("exp0");
    let (mut c, _) = accepted(b.addr(), &Connect5::new(&id).clean(false));
    c.send(&subscribe5(1, &[("exp0/t", 1)], &[]));
    c.read_packet();
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
    let (_c, ack) = accepted(b.addr(), &Connect5::new(&id).clean(false));
    assert!(
        !ack.session_present,
        "session expiry 0 (absent) ends the session"
    );
}

#[test]
fn mqtt_3_1_2_5_session_with_expiry_outlives_the_connection_and_gets_its_messages() {
    let b = start_broker();
    let id = unique("exp60");
    let (mut c, _) = accepted(
        b.addr(),
        &Connect5::new(&id).clean(false).session_expiry(60),
    );
    c.send(&subscribe5(1, &[("exp60/t", 1)], &[]));
    c.read_packet();
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
    let mut p = RawClient::connected(b.addr(), &unique("pub"));
    p.send(&publish("exp60/t", b"while away", 1, false, false, 7));
    p.expect(&puback(7));
    let (mut c, ack) = accepted(
        b.addr(),
        &Connect5::new(&id).clean(false).session_expiry(60),
    );
    assert!(ack.session_present);
    let (first, body) = c.read_packet();
    assert_eq!(Publish5::parse(first, &body).payload, b"while away");
}

#[test]
fn mqtt_3_14_2_disconnect_can_shorten_the_session_expiry_to_0() {
    let b = start_broker();
    let id = unique("exp-dis");
    let (mut c, _) = accepted(
        b.addr(),
        &Connect5::new(&id).clean(false).session_expiry(300),
    );
    c.send(&disconnect5(0, &[P::U32(prop::SESSION_EXPIRY_INTERVAL, 0)]));
    c.expect_closed(CLOSE);
    let (_c, ack) = accepted(
        b.addr(),
        &Connect5::new(&id).clean(false).session_expiry(300),
    );
    assert!(!ack.session_present);
}

#[test]
fn mqtt_3_14_2_19_disconnect_setting_an_expiry_after_connect_had_0_is_a_protocol_error() {
    let b = start_broker();
    let mut w = RawClient::connected(b.addr(), &unique("watch"));
    w.subscribe(1, &[("pe/will", 0)]);
    let (mut c, _) = accepted(
        b.addr(),
        &Connect5::new(&unique("pe")).will("pe/will", b"gone", 0, vec![]),
    );
    c.send(&disconnect5(
        0,
        &[P::U32(prop::SESSION_EXPIRY_INTERVAL, 60)],
    ));
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x82);
    // Not a normal disconnection: the will is published.
    assert_eq!(w.recv_publish().payload, b"gone");
}

#[test]
fn mqtt_3_1_4_3_take_over_sends_disconnect_0x8e_to_the_old_5_0_connection() {
    let b = start_broker();
    let id = unique("to");
    let (mut old, _) = accepted(b.addr(), &Connect5::new(&id));
    let (_new, _) = accepted(b.addr(), &Connect5::new(&id));
    let got = old.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x8E);
}

#[test]
fn mqtt_4_13_1_malformed_packet_gets_disconnect_0x81() {
    let b = start_broker();
    let (mut c, _) = accepted(b.addr(), &Connect5::new(&unique("mal")));
    // A PUBLISH whose topic is not UTF-8.
    let mut body = vec![0x00, 0x02, 0xC3, 0x28];
    body.push(0); // no properties
    c.send(&packet(0x30, &body));
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x81);
}

#[test]
fn duplicate_property_gets_disconnect_0x82_protocol_error() {
    let b = start_broker();
    let (mut c, _) = accepted(b.addr(), &Connect5::new(&unique("dup")));
    let ps = [
        P::Str(prop::CONTENT_TYPE, "a".into()),
        P::Str(prop::CONTENT_TYPE, "b".into()),
    ];
    c.send(&publish5("dup/t", b"x", 0, false, 0, &ps));
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x82);
}

#[test]
fn packet_too_large_gets_disconnect_0x95() {
    let b = start_broker_with(TestConfig {
        max_packet_size: 100,
        ..TestConfig::default()
    });
    let (mut c, _) = accepted(b.addr(), &Connect5::new(&unique("big")));
    c.send(&publish5("big/t", &[0u8; 200], 0, false, 0, &[]));
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x95);
}

/// At `max_connections` a CONNECT is answered "server busy": 0x89 for a 5.0 client, code 3
/// (server unavailable) for 3.1.1, then the connection closes; the clients already connected
/// are not affected.
#[test]
fn max_connections_answers_server_busy() {
    let b = start_broker_with(TestConfig {
        max_connections: Some(2),
        ..TestConfig::default()
    });
    let mut open: Vec<RawClient> = (0..2)
        .map(|i| RawClient::connected(b.addr(), &unique(&format!("busy-{i}"))))
        .collect();
    let mut five = RawClient::connect(b.addr());
    five.send(&Connect5::new(&unique("busy-5")).to_bytes());
    let got = five.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(ConnAck5::parse(got[0].0, &got[0].1).reason, 0x89);
    let mut old = RawClient::connect(b.addr());
    old.send(&connect(&unique("busy-311"), true));
    assert_eq!(
        old.expect_closed_after_packets(CLOSE),
        vec![(0x20, vec![0, 3])]
    );
    for c in open.iter_mut() {
        c.send(&pingreq());
        c.expect_hex("d0 00");
    }
}

/// No enhanced authentication method is offered by default (`auth_methods = []`): a CONNECT
/// naming one is refused with 0x8C (bad authentication method) [MQTT-4.12.0-1].
#[test]
fn mqtt_4_12_0_1_an_unsupported_authentication_method_gets_connack_0x8c() {
    let b = start_broker();
    let c = Connect5::new(&unique("auth"))
        .prop(P::Str(prop::AUTHENTICATION_METHOD, "SCRAM-SHA-1".into()));
    let (mut cl, ack) = connect5(b.addr(), &c);
    assert_eq!(ack.reason, 0x8C);
    cl.expect_closed(CLOSE);
}

/// A CONNECT larger than the broker's maximum packet size from a 5.0 client gets CONNACK 0x95
/// before the close (its level is read from the packet's first bytes).
#[test]
fn a_connect_larger_than_max_packet_size_gets_connack_0x95() {
    let b = start_broker_with(TestConfig {
        max_packet_size: 64,
        ..TestConfig::default()
    });
    let mut cl = RawClient::connect(b.addr());
    let mut c = Connect5::new(&unique("big-connect"));
    c.username = Some("u".repeat(100));
    cl.send(&c.to_bytes());
    let got = cl.expect_closed_after_packets(CLOSE);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(ConnAck5::parse(got[0].0, &got[0].1).reason, 0x95);
}
