//! Mosquitto's bridge bit (0x80 in a 3.x CONNECT's protocol level, `try_private`) both ways,
//! and what it means for the bridge's SUBSCRIBE options.

use super::tests::{connect, s};
use super::*;
use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

fn bridge_connect(protocol: ProtocolVersion) -> Packet {
    let mut p = connect(protocol, true);
    if let Packet::Connect(c) = &mut p {
        c.bridge = true;
    }
    p
}

#[test]
fn bridge_bit_is_written_into_the_protocol_level_and_read_back() {
    for (protocol, level) in [(ProtocolVersion::V311, 0x84), (ProtocolVersion::V31, 0x83)] {
        let mut buf = BytesMut::new();
        MqttCodec::new(1 << 20)
            .encode(&bridge_connect(protocol), &mut buf)
            .unwrap();
        let name_len = protocol.name().len();
        assert_eq!(buf[2 + 2 + name_len], level);
        let mut server = MqttCodec::new(1 << 20);
        match server.decode(&mut buf).unwrap() {
            Some(Packet::Connect(c)) => assert!(c.bridge && c.protocol == protocol),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_bridge_subscription_is_no_local_and_retain_as_published_except_shared() {
    let mut buf = BytesMut::new();
    let mut client = MqttCodec::new(1 << 20);
    client
        .encode(&bridge_connect(ProtocolVersion::V311), &mut buf)
        .unwrap();
    let sub = Packet::Subscribe(Subscribe {
        pkid: 1,
        filters: vec![
            (s("a/#"), SubscriptionOptions::default()),
            (s("$share/g/b"), SubscriptionOptions::default()),
        ],
        properties: None,
    });
    client.encode(&sub, &mut buf).unwrap();
    let mut server = MqttCodec::new(1 << 20);
    server.decode(&mut buf).unwrap();
    let Some(Packet::Subscribe(got)) = server.decode(&mut buf).unwrap() else {
        panic!("a SUBSCRIBE");
    };
    let (plain, shared) = (got.filters[0].1, got.filters[1].1);
    assert!(plain.no_local && plain.retain_as_published);
    assert!(!shared.no_local && !shared.retain_as_published);
}

#[test]
fn without_the_bit_subscriptions_keep_their_3_1_1_meaning() {
    let mut buf = BytesMut::new();
    let mut client = MqttCodec::new(1 << 20);
    let plain = connect(ProtocolVersion::V311, true);
    client.encode(&plain, &mut buf).unwrap();
    let sub = Packet::Subscribe(Subscribe {
        pkid: 1,
        filters: vec![(s("a/#"), SubscriptionOptions::default())],
        properties: None,
    });
    client.encode(&sub, &mut buf).unwrap();
    let mut server = MqttCodec::new(1 << 20);
    server.decode(&mut buf).unwrap();
    let Some(Packet::Subscribe(got)) = server.decode(&mut buf).unwrap() else {
        panic!("a SUBSCRIBE");
    };
    assert!(!got.filters[0].1.no_local);
}

#[test]
fn level_5_with_the_bridge_bit_is_an_unsupported_level() {
    // [MQTT-3.1.2-2]: 0x85 is no protocol level Courtier (or Mosquitto) knows.
    let mut buf = BytesMut::new();
    MqttCodec::new(1 << 20)
        .encode(&connect(ProtocolVersion::V5, false), &mut buf)
        .unwrap();
    buf[2 + 2 + 4] |= 0x80;
    let err = MqttCodec::new(1 << 20).decode(&mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::UnsupportedProtocolLevel { level: 0x85, .. }
        ),
        "{err:?}"
    );
}
