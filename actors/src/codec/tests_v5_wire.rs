//! MQTT 5.0 wire fixtures laid out as in §3, the short forms, sizes, `PublishRef`, and how
//! 5.0 fields are dropped for 3.x.

use super::tests::{decode_one, encode, hex, s, MAX};
use super::tests_v5::{ack, ack_properties, full_publish_properties, nz16, nz32, V5};
use super::*;
use bytes::{Bytes, BytesMut};
/// Fixtures laid out field by field as in §3 (fixed header, variable header with properties,
/// payload), checked both ways.
#[test]
fn v5_wire_fixtures() {
    let fixtures: Vec<(&str, Packet)> = vec![
        // CONNECT: "MQTT" level 5, clean start, keep-alive 60, Session Expiry 10, client "c".
        (
            "10 13 00 04 4d 51 54 54 05 02 00 3c 05 11 00 00 00 0a 00 01 63",
            Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol: V5,
                clean_start: true,
                keep_alive: 60,
                client_id: s("c"),
                will: None,
                username: None,
                password: None,
                properties: ConnectProperties {
                    session_expiry_interval: Some(10),
                    ..Default::default()
                },
            })),
        ),
        // CONNACK: session present, Success, Receive Maximum 10.
        (
            "20 06 01 00 03 21 00 0a",
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: 0,
                properties: Some(Box::new(ConnAckProperties {
                    receive_maximum: Some(nz16(10)),
                    ..Default::default()
                })),
            }),
        ),
        // CONNACK without properties still has a property length of 0.
        (
            "20 03 00 87 00",
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: 0x87,
                properties: None,
            }),
        ),
        // PUBLISH QoS 1 "a/b", id 10, Payload Format Indicator 1, Topic Alias 2, "hi".
        ("32 0f 00 03 61 2f 62 00 0a 05 01 01 23 00 02 68 69", {
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: false,
                topic: s("a/b"),
                pkid: Some(10),
                payload: Bytes::from_static(b"hi"),
                properties: Some(Box::new(PublishProperties {
                    payload_format_indicator: Some(true),
                    topic_alias: Some(nz16(2)),
                    ..Default::default()
                })),
            })
        }),
        // PUBACK with reason and Reason String "x".
        (
            "40 08 00 01 10 04 1f 00 01 78",
            Packet::PubAck(Ack {
                pkid: 1,
                reason: ReasonCode::NoMatchingSubscribers,
                properties: Some(Box::new(AckProperties {
                    reason_string: Some(s("x")),
                    user_properties: vec![],
                })),
            }),
        ),
        // SUBSCRIBE: Subscription Identifier 5; "a" with QoS 1, No Local, Retain As
        // Published, Retain Handling 2.
        ("82 09 00 01 02 0b 05 00 01 61 2d", {
            Packet::Subscribe(Subscribe {
                pkid: 1,
                filters: vec![(
                    s("a"),
                    SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        no_local: true,
                        retain_as_published: true,
                        retain_handling: 2,
                    },
                )],
                properties: Some(Box::new(SubscribeProperties {
                    subscription_identifier: Some(nz32(5)),
                    user_properties: vec![],
                })),
            })
        }),
        (
            "90 05 00 01 00 00 a2",
            Packet::SubAck(SubAck {
                pkid: 1,
                return_codes: vec![
                    ReasonCode::Success,
                    ReasonCode::WildcardSubscriptionsNotSupported,
                ],
                properties: None,
            }),
        ),
        (
            "b0 04 00 02 00 11",
            Packet::UnsubAck(UnsubAck {
                pkid: 2,
                reason_codes: vec![ReasonCode::NoSubscriptionExisted],
                properties: None,
            }),
        ),
        // AUTH: Continue authentication, method "m".
        (
            "f0 06 18 04 15 00 01 6d",
            Packet::Auth(Auth {
                reason: ReasonCode::ContinueAuthentication,
                properties: Some(Box::new(AuthProperties {
                    authentication_method: Some(s("m")),
                    ..Default::default()
                })),
            }),
        ),
    ];
    for (bytes, packet) in fixtures {
        let bytes = hex(bytes);
        assert_eq!(
            encode(&mut MqttCodec::with_version(V5, MAX), &packet),
            bytes
        );
        assert_eq!(
            decode_one(&mut MqttCodec::with_version(V5, MAX), &bytes).unwrap(),
            packet
        );
    }
}

/// §3.4.2.1, §3.14.2.1, §3.15.2.1: the reason code and property length are left out when they
/// say nothing, and the decoder accepts every shortened form.
#[test]
fn v5_short_forms_of_acks_disconnect_and_auth() {
    let encoded = [
        (Packet::PubAck(Ack::new(1)), "40 02 00 01"),
        (
            Packet::PubRel(ack(1, ReasonCode::PacketIdentifierNotFound, None)),
            "62 03 00 01 92",
        ),
        // An empty boxed block counts as none.
        (
            Packet::PubComp(ack(1, ReasonCode::Success, Some(Box::default()))),
            "70 02 00 01",
        ),
        (Packet::Disconnect(Disconnect::default()), "e0 00"),
        (
            Packet::Disconnect(Disconnect {
                reason: ReasonCode::KeepAliveTimeout,
                properties: None,
            }),
            "e0 01 8d",
        ),
        (Packet::Auth(Auth::default()), "f0 00"),
        (
            Packet::Auth(Auth {
                reason: ReasonCode::ReAuthenticate,
                properties: None,
            }),
            "f0 02 19 00",
        ),
    ];
    for (packet, bytes) in encoded {
        assert_eq!(
            encode(&mut MqttCodec::with_version(V5, MAX), &packet),
            hex(bytes)
        );
    }
    // Longer forms saying the same decode to the same packets.
    let same = [
        ("40 03 00 01 00", Packet::PubAck(Ack::new(1))),
        ("40 04 00 01 00 00", Packet::PubAck(Ack::new(1))),
        ("e0 01 00", Packet::Disconnect(Disconnect::default())),
        ("e0 02 00 00", Packet::Disconnect(Disconnect::default())),
        ("f0 01 00", Packet::Auth(Auth::default())),
        ("f0 02 00 00", Packet::Auth(Auth::default())),
    ];
    for (bytes, packet) in same {
        assert_eq!(
            decode_one(&mut MqttCodec::with_version(V5, MAX), &hex(bytes)).unwrap(),
            packet
        );
    }
}

#[test]
fn packet_and_publish_stay_as_small_as_before_5_0() {
    // 104 bytes each before 5.0 (with the opaque `Properties { raw: Bytes }`).
    assert!(
        std::mem::size_of::<Packet>() <= 104,
        "{}",
        std::mem::size_of::<Packet>()
    );
    assert!(
        std::mem::size_of::<Publish>() <= 104,
        "{}",
        std::mem::size_of::<Publish>()
    );
    assert_eq!(std::mem::size_of::<Publish>(), 80);
    assert_eq!(std::mem::size_of::<Packet>(), 80);
    assert_eq!(std::mem::size_of::<ReasonCode>(), 1);
}

#[test]
fn publish_ref_per_delivery_fields_replace_the_message_properties() {
    let props = full_publish_properties();
    let sids = [nz32(99)];
    let p = PublishRef {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "",
        pkid: None,
        payload: b"x",
        properties: Some(&props),
        message_expiry_interval: Some(5),
        subscription_identifiers: &sids,
        topic_alias: Some(nz16(3)),
    };
    let codec = MqttCodec::with_version(V5, MAX);
    let mut buf = BytesMut::new();
    codec.encode_publish(&p, &mut buf).unwrap();
    assert_eq!(codec.publish_encoded_len(&p), buf.len());
    let Packet::Publish(got) = decode_one(&mut MqttCodec::with_version(V5, MAX), &buf).unwrap()
    else {
        panic!("expected PUBLISH")
    };
    let expected = PublishProperties {
        message_expiry_interval: Some(5),
        subscription_identifiers: sids.to_vec(),
        topic_alias: Some(nz16(3)),
        ..props
    };
    assert_eq!(got.properties.as_deref(), Some(&expected));
    assert_eq!(got.topic, "");
}

/// What a 3.x peer gets of a 5.0 packet: the 3.x wire form, every 5.0-only field dropped.
#[test]
fn v5_fields_are_dropped_for_3x() {
    let v311 = ProtocolVersion::V311;
    let props = full_publish_properties();
    let p = PublishRef {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "t",
        pkid: Some(1),
        payload: b"x",
        properties: Some(&props),
        message_expiry_interval: Some(5),
        subscription_identifiers: &[],
        topic_alias: None,
    };
    let codec = MqttCodec::with_version(v311, MAX);
    let mut buf = BytesMut::new();
    codec.encode_publish(&p, &mut buf).unwrap();
    assert_eq!(buf.to_vec(), hex("32 06 00 01 74 00 01 78"));
    assert_eq!(publish_encoded_len(&p, v311), buf.len());
    let dropped = [
        (
            Packet::PubRec(ack(3, ReasonCode::QuotaExceeded, ack_properties())),
            "50 02 00 03",
        ),
        (
            Packet::SubAck(SubAck {
                pkid: 6,
                return_codes: vec![
                    ReasonCode::GrantedQos1,
                    ReasonCode::TopicFilterInvalid,
                    ReasonCode::Success,
                ],
                properties: ack_properties(),
            }),
            "90 05 00 06 01 80 00",
        ),
        (
            Packet::Disconnect(Disconnect {
                reason: ReasonCode::ServerMoved,
                properties: None,
            }),
            "e0 00",
        ),
    ];
    for (packet, bytes) in dropped {
        let mut codec = MqttCodec::with_version(v311, MAX);
        assert_eq!(encode(&mut codec, &packet), hex(bytes));
        assert_eq!(packet_encoded_len(&packet, v311).unwrap(), hex(bytes).len());
    }
}

#[test]
fn v5_encoder_refuses_reason_codes_a_packet_may_not_carry() {
    let bad = [
        Packet::PubAck(ack(1, ReasonCode::PacketIdentifierNotFound, None)),
        Packet::PubRel(ack(1, ReasonCode::NotAuthorized, None)),
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::GrantedQos1,
            properties: None,
        }),
        Packet::Auth(Auth {
            reason: ReasonCode::UnspecifiedError,
            properties: None,
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0x03,
            properties: None,
        }),
        Packet::UnsubAck(UnsubAck {
            pkid: 1,
            reason_codes: vec![ReasonCode::GrantedQos1],
            properties: None,
        }),
    ];
    for packet in bad {
        let mut buf = BytesMut::new();
        let mut codec = MqttCodec::with_version(V5, MAX);
        let err = tokio_util::codec::Encoder::encode(&mut codec, &packet, &mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{packet:?}");
        assert!(buf.is_empty());
    }
}
