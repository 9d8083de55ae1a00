//! The connection's protocol state (channel.rs), driven without a runtime.

use super::*;
use crate::codec::{
    Ack, ConnectProperties, Disconnect, DisconnectProperties, Publish, QoS, ReasonCode,
};
use std::time::Instant;

fn connect(protocol: ProtocolVersion) -> Packet {
    Packet::Connect(Box::new(Connect {
        bridge: false,
        protocol,
        clean_start: true,
        keep_alive: 60,
        client_id: "c".into(),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }))
}

fn attached(protocol: ProtocolVersion, connect_expiry_zero: bool) -> Channel {
    let mut ch = Channel::new(false, 10);
    assert!(matches!(
        ch.handle_in(connect(protocol)),
        Effect::Connect(_)
    ));
    ch.attached(Settled {
        protocol,
        connect_expiry_zero,
        problem_information: true,
    });
    ch
}

fn closes_with(effect: Effect) -> CloseReason {
    match effect {
        Effect::Close { reason, .. } => reason,
        other => panic!("expected a close, got {other:?}"),
    }
}

#[test]
fn mqtt_3_1_0_1_the_first_packet_must_be_connect() {
    let mut ch = Channel::new(false, 10);
    let reason = closes_with(ch.handle_in(Packet::PingReq));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-3.1.0-1", _)));
    // Acknowledgements too: their shortcut is for attached clients only.
    let mut ch = Channel::new(false, 10);
    let reason = closes_with(ch.handle_in(Packet::PubAck(Ack::new(1))));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-3.1.0-1", _)));
}

#[test]
fn mqtt_3_1_0_2_a_second_connect_closes() {
    let mut ch = attached(ProtocolVersion::V311, false);
    let reason = closes_with(ch.handle_in(connect(ProtocolVersion::V311)));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-3.1.0-2", _)));
}

#[test]
fn over_max_connections_a_connect_is_answered_busy() {
    let mut ch = Channel::new(true, 10);
    assert!(matches!(
        ch.handle_in(connect(ProtocolVersion::V5)),
        Effect::RefuseBusy(_)
    ));
}

#[test]
fn packets_of_an_attached_client_go_to_its_session() {
    let mut ch = attached(ProtocolVersion::V311, false);
    assert!(matches!(ch.handle_in(Packet::PingReq), Effect::Forward(_)));
    for ack in [
        Packet::PubAck,
        Packet::PubRec,
        Packet::PubRel,
        Packet::PubComp,
    ] {
        assert!(matches!(ch.handle_in(ack(Ack::new(1))), Effect::Forward(_)));
    }
    let reason = closes_with(ch.handle_in(Packet::PingResp));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-4.8.0-1", _)));
}

#[test]
fn mqtt_3_14_4_3_disconnect_with_0x04_publishes_the_will_and_sets_the_expiry() {
    let mut ch = attached(ProtocolVersion::V5, false);
    let d = Disconnect {
        reason: ReasonCode::DisconnectWithWillMessage,
        properties: Some(Box::new(DisconnectProperties {
            session_expiry_interval: Some(0),
            ..DisconnectProperties::default()
        })),
    };
    match ch.handle_in(Packet::Disconnect(d)) {
        Effect::Close {
            reason: CloseReason::ClientDisconnect { with_will: true },
            expiry: Some(0),
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn mqtt_3_14_2_2_raising_the_expiry_from_0_is_a_protocol_error() {
    let mut ch = attached(ProtocolVersion::V5, true);
    let d = Disconnect {
        reason: ReasonCode::Success,
        properties: Some(Box::new(DisconnectProperties {
            session_expiry_interval: Some(10),
            ..DisconnectProperties::default()
        })),
    };
    let reason = closes_with(ch.handle_in(Packet::Disconnect(d)));
    assert_eq!(reason.disconnect_code(), Some(ReasonCode::ProtocolError));
}

#[test]
fn mqtt_3_1_2_2_an_unknown_level_is_refused_with_a_connack() {
    let mut ch = Channel::new(false, 10);
    let e = DecodeError::UnsupportedProtocolLevel {
        level: 9,
        client_id: None,
    };
    match ch.on_decode_error(&e) {
        Effect::Refuse(ack, ProtocolVersion::V5) => assert_eq!(ack.code, 0x84),
        other => panic!("{other:?}"),
    }
    let reason = closes_with(ch.on_decode_error(&DecodeError::InvalidUtf8));
    assert_eq!(reason.disconnect_code(), Some(ReasonCode::MalformedPacket));
}

#[test]
fn closing_an_attached_5_0_client_sends_disconnect_and_only_once() {
    let mut ch = attached(ProtocolVersion::V5, false);
    match ch.close(&CloseReason::KeepAliveTimeout) {
        Closing::Attached {
            disconnect: Some(Packet::Disconnect(d)),
        } => assert_eq!(d.reason, ReasonCode::KeepAliveTimeout),
        other => panic!("{other:?}"),
    }
    assert_eq!(ch.close(&CloseReason::PeerClosed), Closing::AlreadyClosed);
    assert!(matches!(ch.handle_in(Packet::PingReq), Effect::Ignore));
    let mut old = attached(ProtocolVersion::V311, false);
    assert_eq!(
        old.close(&CloseReason::TakenOver),
        Closing::Attached { disconnect: None }
    );
    let mut fresh = Channel::new(false, 10);
    assert_eq!(
        fresh.close(&CloseReason::ConnectTimeout),
        Closing::Unattached
    );
}

#[test]
fn deadlines_close_only_in_the_stage_they_were_set_for() {
    let now = Instant::now();
    let mut ch = Channel::new(false, 10);
    assert!(matches!(
        ch.deadline_passed(Due::Connect(now)),
        Some(CloseReason::ConnectTimeout)
    ));
    ch.handle_in(connect(ProtocolVersion::V311));
    ch.attached(Settled {
        protocol: ProtocolVersion::V311,
        connect_expiry_zero: false,
        problem_information: true,
    });
    assert!(ch.deadline_passed(Due::Connect(now)).is_none());
    assert!(matches!(
        ch.deadline_passed(Due::KeepAlive(std::time::Duration::from_secs(1))),
        Some(CloseReason::KeepAliveTimeout)
    ));
}

#[test]
fn mqtt_3_3_2_12_a_5_0_client_s_topic_alias_is_resolved_before_the_session_sees_it() {
    let mut ch = attached(ProtocolVersion::V5, false);
    let publish = |topic: &str, alias: u16| {
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            pkid: None,
            payload: bytes::Bytes::new(),
            properties: Some(Box::new(crate::codec::PublishProperties {
                topic_alias: std::num::NonZeroU16::new(alias),
                ..Default::default()
            })),
        })
    };
    assert!(matches!(
        ch.handle_in(publish("a/b", 3)),
        Effect::Forward(_)
    ));
    match ch.handle_in(publish("", 3)) {
        Effect::Forward(Packet::Publish(p)) => {
            assert_eq!((&*p.topic, p.properties), ("a/b", None));
        }
        other => panic!("{other:?}"),
    }
    let reason = closes_with(ch.handle_in(publish("a/b", 11)));
    assert_eq!(
        reason.disconnect_code(),
        Some(ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn a_too_large_5_0_connect_is_answered_0x95_and_a_3_1_1_one_closes() {
    let mut ch = Channel::new(false, 10);
    let big5 = DecodeError::ConnectTooLarge {
        size: 100,
        max: 10,
        level: 5,
    };
    match ch.on_decode_error(&big5) {
        Effect::Refuse(ack, ProtocolVersion::V5) => assert_eq!(ack.code, 0x95),
        other => panic!("{other:?}"),
    }
    let big4 = DecodeError::ConnectTooLarge {
        size: 100,
        max: 10,
        level: 4,
    };
    assert!(matches!(ch.on_decode_error(&big4), Effect::Close { .. }));
}

#[test]
fn mqtt_4_12_0_7_auth_without_a_method_at_connect_closes_with_protocol_error() {
    let mut ch = attached(ProtocolVersion::V5, false);
    let reason = closes_with(ch.handle_in(Packet::Auth(crate::codec::Auth::default())));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-4.12.0-7", _)));
    assert_eq!(reason.disconnect_code(), Some(ReasonCode::ProtocolError));
}

#[test]
fn mqtt_3_1_2_30_only_auth_or_disconnect_before_connack_during_an_exchange() {
    let mut ch = Channel::new(false, 10);
    assert!(matches!(
        ch.handle_in(connect(ProtocolVersion::V5)),
        Effect::Connect(_)
    ));
    ch.auth().begin("SCRAM-SHA-512".into());
    let auth = crate::codec::Auth {
        reason: ReasonCode::ContinueAuthentication,
        properties: Some(Box::new(crate::codec::AuthProperties {
            authentication_method: Some("SCRAM-SHA-512".into()),
            ..Default::default()
        })),
    };
    assert!(matches!(ch.handle_in(Packet::Auth(auth)), Effect::Auth(_)));
    let reason = closes_with(ch.handle_in(Packet::PingReq));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-3.1.2-30", _)));
}

/// An attached client's PUBLISH is judged before the general match (channel.rs): its own
/// checks still close the connection [MQTT-3.3.2-14], and a 3.1.1 PUBLISH, which has no
/// properties, is forwarded as it came.
#[test]
fn mqtt_3_3_2_14_an_attached_client_s_publish_keeps_its_checks() {
    let publish = |response_topic: Option<&str>| {
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b".into(),
            pkid: Some(7),
            payload: bytes::Bytes::from_static(b"x"),
            properties: response_topic.map(|rt| {
                Box::new(crate::codec::PublishProperties {
                    response_topic: Some(rt.into()),
                    ..Default::default()
                })
            }),
        })
    };
    let mut ch = attached(ProtocolVersion::V5, false);
    assert!(matches!(
        ch.handle_in(publish(Some("reply/here"))),
        Effect::Forward(Packet::Publish(_))
    ));
    let reason = closes_with(ch.handle_in(publish(Some("reply/#"))));
    assert!(matches!(reason, CloseReason::Protocol("MQTT-3.3.2-14", _)));
    let mut ch = attached(ProtocolVersion::V311, false);
    match ch.handle_in(publish(None)) {
        Effect::Forward(Packet::Publish(p)) => assert_eq!((&*p.topic, p.pkid), ("a/b", Some(7))),
        other => panic!("{other:?}"),
    }
}
