//! MQTT 5.0 codec tests: round trips of every packet type (with every property and with none)
//! and streaming. Wire fixtures, short forms and the encoder are in `tests_v5_wire.rs`,
//! property blocks on their own in `tests_v5_props.rs`, malformed input in
//! `tests_v5_malformed.rs`.

use super::tests::{decode_one, encode, s, MAX};
use super::*;
use bytes::{BufMut, Bytes, BytesMut};
use std::num::{NonZeroU16, NonZeroU32};
use tokio_util::codec::Decoder;

pub(super) const V5: ProtocolVersion = ProtocolVersion::V5;

pub(super) fn user() -> UserProperties {
    vec![(s("k"), s("v")), (s("k"), s("v2")), (s(""), s("é"))]
}

pub(super) fn nz16(v: u16) -> NonZeroU16 {
    NonZeroU16::new(v).unwrap()
}

pub(super) fn nz32(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

pub(super) fn full_publish_properties() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(3600),
        topic_alias: Some(nz16(7)),
        response_topic: Some(s("reply/to")),
        correlation_data: Some(Bytes::from_static(b"\x00corr\xff")),
        user_properties: user(),
        subscription_identifiers: vec![nz32(1), nz32(268_435_455)],
        content_type: Some(s("text/plain")),
    }
}

pub(super) fn full_connect_properties() -> ConnectProperties {
    ConnectProperties {
        session_expiry_interval: Some(u32::MAX),
        receive_maximum: Some(nz16(20)),
        maximum_packet_size: Some(nz32(1 << 20)),
        topic_alias_maximum: Some(10),
        request_response_information: Some(true),
        request_problem_information: Some(false),
        user_properties: user(),
        authentication_method: Some(s("SCRAM-SHA-1")),
        authentication_data: Some(Bytes::from_static(b"client-first")),
    }
}

fn full_will_properties() -> WillProperties {
    WillProperties {
        will_delay_interval: Some(30),
        payload_format_indicator: Some(false),
        message_expiry_interval: Some(60),
        content_type: Some(s("application/json")),
        response_topic: Some(s("will/reply")),
        correlation_data: Some(Bytes::from_static(b"42")),
        user_properties: user(),
    }
}

pub(super) fn full_connack_properties() -> ConnAckProperties {
    ConnAckProperties {
        session_expiry_interval: Some(0),
        receive_maximum: Some(nz16(65_535)),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: Some(nz32(268_435_460)),
        assigned_client_identifier: Some(s("auto-1")),
        topic_alias_maximum: Some(0),
        reason_string: Some(s("welcome")),
        user_properties: user(),
        wildcard_subscription_available: Some(true),
        subscription_identifiers_available: Some(false),
        shared_subscription_available: Some(true),
        server_keep_alive: Some(120),
        response_information: Some(s("resp/")),
        server_reference: Some(s("other:1883")),
        authentication_method: Some(s("SCRAM-SHA-1")),
        authentication_data: Some(Bytes::from_static(b"server-final")),
    }
}

pub(super) fn ack_properties() -> Option<Box<AckProperties>> {
    Some(Box::new(AckProperties {
        reason_string: Some(s("because")),
        user_properties: user(),
    }))
}

pub(super) fn ack(pkid: u16, reason: ReasonCode, properties: Option<Box<AckProperties>>) -> Ack {
    Ack {
        pkid,
        reason,
        properties,
    }
}

fn publish(qos: QoS, pkid: Option<u16>, topic: &str, props: Option<PublishProperties>) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: qos == QoS::AtLeastOnce,
        topic: s(topic),
        pkid,
        payload: Bytes::from_static(b"payload"),
        properties: props.map(Box::new),
    })
}

fn connect_v5(full: bool) -> Packet {
    Packet::Connect(Box::new(Connect {
        bridge: false,
        protocol: V5,
        clean_start: !full,
        keep_alive: 30,
        client_id: s(if full { "client-5" } else { "" }),
        will: full.then(|| LastWill {
            topic: s("will/t"),
            payload: Bytes::from_static(b"bye"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: full_will_properties(),
        }),
        // 5.0 allows a password without a user name (3.1.1's [MQTT-3.1.2-22] is gone).
        username: None,
        password: full.then(|| Bytes::from_static(b"secret")),
        properties: if full {
            full_connect_properties()
        } else {
            ConnectProperties::default()
        },
    }))
}

/// Every 5.0 packet type, with every property and with none.
pub(super) fn samples_v5() -> Vec<Packet> {
    let opts = |byte| SubscriptionOptions::from_byte(byte).unwrap();
    let codes = vec![
        ReasonCode::Success,
        ReasonCode::GrantedQos1,
        ReasonCode::GrantedQos2,
        ReasonCode::TopicFilterInvalid,
        ReasonCode::WildcardSubscriptionsNotSupported,
    ];
    vec![
        connect_v5(true),
        connect_v5(false),
        Packet::ConnAck(ConnAck {
            session_present: true,
            code: 0,
            properties: Some(Box::new(full_connack_properties())),
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            code: ReasonCode::NotAuthorized.code(),
            properties: None,
        }),
        publish(QoS::AtMostOnce, None, "a/b", None),
        publish(
            QoS::AtLeastOnce,
            Some(1),
            "a/b",
            Some(full_publish_properties()),
        ),
        publish(
            QoS::ExactlyOnce,
            Some(65_535),
            "",
            Some(PublishProperties {
                topic_alias: Some(nz16(1)),
                ..Default::default()
            }),
        ),
        Packet::PubAck(Ack::new(1)),
        Packet::PubAck(ack(2, ReasonCode::NoMatchingSubscribers, None)),
        Packet::PubRec(ack(3, ReasonCode::QuotaExceeded, ack_properties())),
        Packet::PubRel(ack(4, ReasonCode::PacketIdentifierNotFound, None)),
        Packet::PubComp(ack(5, ReasonCode::Success, ack_properties())),
        Packet::Subscribe(Subscribe {
            pkid: 6,
            filters: vec![
                (s("a/+"), opts(0x00)),
                (s("#"), opts(0x2d)),
                (s("x"), opts(0x1a)),
            ],
            properties: Some(Box::new(SubscribeProperties {
                subscription_identifier: Some(nz32(16_384)),
                user_properties: user(),
            })),
        }),
        Packet::Subscribe(Subscribe {
            pkid: 7,
            filters: vec![(s("t"), opts(0x02))],
            properties: None,
        }),
        Packet::SubAck(SubAck {
            pkid: 6,
            return_codes: codes,
            properties: ack_properties(),
        }),
        Packet::Unsubscribe(Unsubscribe {
            pkid: 8,
            filters: vec![s("a/+"), s("#")],
            properties: Some(Box::new(UnsubscribeProperties {
                user_properties: user(),
            })),
        }),
        Packet::UnsubAck(UnsubAck {
            pkid: 8,
            reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
            properties: None,
        }),
        Packet::UnsubAck(UnsubAck {
            pkid: 9,
            reason_codes: vec![ReasonCode::NotAuthorized],
            properties: ack_properties(),
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect::default()),
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::DisconnectWithWillMessage,
            properties: None,
        }),
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::ServerMoved,
            properties: Some(Box::new(DisconnectProperties {
                session_expiry_interval: Some(10),
                reason_string: Some(s("moved")),
                user_properties: user(),
                server_reference: Some(s("elsewhere")),
            })),
        }),
        Packet::Auth(Auth::default()),
        Packet::Auth(Auth {
            reason: ReasonCode::ContinueAuthentication,
            properties: Some(Box::new(AuthProperties {
                authentication_method: Some(s("SCRAM-SHA-1")),
                authentication_data: Some(Bytes::from_static(b"\x01\x02")),
                reason_string: Some(s("more")),
                user_properties: user(),
            })),
        }),
    ]
}

#[test]
fn round_trip_every_packet_type_v5() {
    let all = samples_v5();
    let kinds: std::collections::HashSet<_> = all.iter().map(Packet::kind).collect();
    assert_eq!(kinds.len(), 15, "every 5.0 packet type is covered");
    for packet in all {
        let bytes = encode(&mut MqttCodec::with_version(V5, MAX), &packet);
        let decoded = decode_one(&mut MqttCodec::with_version(V5, MAX), &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", packet.kind()));
        assert_eq!(decoded, packet);
        let len = packet_encoded_len(&packet, V5).unwrap();
        assert_eq!(len, bytes.len(), "{}", packet.kind());
    }
}

#[test]
fn a_v5_connect_sets_the_codec_version() {
    let bytes = encode(&mut MqttCodec::new(MAX), &connect_v5(false));
    let mut server = MqttCodec::new(MAX);
    decode_one(&mut server, &bytes).unwrap();
    assert_eq!(server.version(), Some(V5));
}

/// A packet of each 5.0 type, split at every byte boundary: no packet (and no error) before the
/// last byte, the whole packet after it.
#[test]
fn v5_packets_split_at_every_byte_boundary() {
    for packet in samples_v5() {
        let bytes = encode(&mut MqttCodec::with_version(V5, MAX), &packet);
        for split in 0..bytes.len() {
            let mut codec = MqttCodec::with_version(V5, MAX);
            let mut buf = BytesMut::from(&bytes[..split]);
            assert_eq!(
                codec.decode(&mut buf).unwrap(),
                None,
                "{} at {split}",
                packet.kind()
            );
            buf.put_slice(&bytes[split..]);
            assert_eq!(codec.decode(&mut buf).unwrap().as_ref(), Some(&packet));
            assert!(buf.is_empty());
        }
    }
}
