//! The protocol rules of protocol.rs, driven without a runtime.

use super::*;
use crate::auth::AuthFailure;
use crate::codec::{ConnectProperties, Publish, PublishProperties, QoS};
use bytes::Bytes;
use std::num::{NonZeroU16, NonZeroU32};

fn connect(protocol: ProtocolVersion, id: &str, keep_alive: u16) -> Connect {
    Connect {
        bridge: false,
        protocol,
        clean_start: true,
        keep_alive,
        client_id: id.into(),
        will: None,
        username: None,
        password: None,
        properties: ConnectProperties::default(),
    }
}

fn cfg(max_keepalive: u16) -> BrokerConfig {
    BrokerConfig {
        max_keepalive,
        ..BrokerConfig::default()
    }
}

fn assign() -> ClientId {
    "auto-1".into()
}

#[test]
fn a_client_id_naming_a_bridge_queue_is_refused() {
    let id = crate::bridge::queue_id("cloud");
    for v in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let r = negotiate(&connect(v, &id, 60), &cfg(u16::MAX), assign);
        assert!(matches!(r, Err(Refusal::ClientIdentifierNotValid)));
    }
    assert!(negotiate(
        &connect(ProtocolVersion::V311, "bridge/cloud", 60),
        &cfg(u16::MAX),
        assign
    )
    .is_ok());
}

#[test]
fn mqtt_3_1_3_6_an_empty_5_0_client_id_is_assigned_and_told() {
    let mut c = connect(ProtocolVersion::V5, "", 60);
    c.clean_start = false;
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert_eq!((n.client_id.as_ref(), n.assigned), ("auto-1", true));
    let props = connack_properties(&n, &BrokerConfig::default()).unwrap();
    assert_eq!(props.assigned_client_identifier.as_deref(), Some("auto-1"));
}

#[test]
fn mqtt_3_1_3_8_an_empty_3_1_1_client_id_needs_a_clean_session() {
    let mut c = connect(ProtocolVersion::V311, "", 60);
    assert!(negotiate(&c, &cfg(u16::MAX), assign).unwrap().assigned);
    c.clean_start = false;
    assert_eq!(
        negotiate(&c, &cfg(u16::MAX), assign),
        Err(Refusal::ClientIdentifierNotValid)
    );
    let v31 = connect(ProtocolVersion::V31, "", 60);
    assert_eq!(
        negotiate(&v31, &cfg(u16::MAX), assign),
        Err(Refusal::ClientIdentifierNotValid)
    );
}

#[test]
fn max_keepalive_becomes_the_server_keep_alive_of_5_0_and_refuses_3_1_1() {
    let n = negotiate(&connect(ProtocolVersion::V5, "a", 600), &cfg(60), assign).unwrap();
    assert_eq!((n.keep_alive, n.server_keep_alive), (60, Some(60)));
    let n = negotiate(&connect(ProtocolVersion::V5, "a", 0), &cfg(60), assign).unwrap();
    assert_eq!((n.keep_alive, n.server_keep_alive), (60, Some(60)));
    let n = negotiate(&connect(ProtocolVersion::V5, "a", 30), &cfg(60), assign).unwrap();
    assert_eq!((n.keep_alive, n.server_keep_alive), (30, None));
    // The default (65535) changes nothing, not even a keep-alive of 0.
    let n = negotiate(
        &connect(ProtocolVersion::V5, "a", 0),
        &cfg(u16::MAX),
        assign,
    )
    .unwrap();
    assert_eq!((n.keep_alive, n.server_keep_alive), (0, None));
    assert_eq!(
        negotiate(&connect(ProtocolVersion::V311, "a", 600), &cfg(60), assign),
        Err(Refusal::KeepAliveTooLong)
    );
    let n = negotiate(&connect(ProtocolVersion::V311, "a", 0), &cfg(60), assign).unwrap();
    assert_eq!(n.keep_alive, 0);
}

#[test]
fn mqtt_3_1_2_23_session_expiry_decides_persistence_in_5_0() {
    let mut c = connect(ProtocolVersion::V5, "a", 60);
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert_eq!(n.session_expiry, Some(0));
    assert!(
        !n.persistent(false),
        "absent expiry: the session ends with the connection"
    );
    c.properties.session_expiry_interval = Some(300);
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert!(
        n.persistent(true),
        "clean start only discards the old session"
    );
    let old = negotiate(
        &connect(ProtocolVersion::V311, "a", 60),
        &cfg(u16::MAX),
        assign,
    )
    .unwrap();
    assert_eq!(old.session_expiry, None);
    assert!(old.persistent(false) && !old.persistent(true));
}

#[test]
fn connack_properties_say_what_differs_from_the_defaults() {
    let mut c = connect(ProtocolVersion::V5, "a", 60);
    c.properties.maximum_packet_size = NonZeroU32::new(1000);
    c.properties.receive_maximum = NonZeroU16::new(5);
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert_eq!(n.max_packet_size, NonZeroU32::new(1000));
    assert_eq!(n.receive_maximum, NonZeroU16::new(5));
    let limited = BrokerConfig {
        max_packet_size: 4096,
        ..BrokerConfig::default()
    };
    let p = connack_properties(&n, &limited).unwrap();
    assert_eq!(p.maximum_packet_size, NonZeroU32::new(4096));
    assert_eq!(p.subscription_identifiers_available, None);
    assert_eq!(p.shared_subscription_available, Some(true));
    let no_shared = BrokerConfig {
        shared_subscriptions_available: false,
        ..BrokerConfig::default()
    };
    let p_off = connack_properties(&n, &no_shared).unwrap();
    assert_eq!(p_off.shared_subscription_available, Some(false));
    assert_eq!((p.maximum_qos, p.retain_available), (None, None));
    assert_eq!(p.wildcard_subscription_available, None);
    assert_eq!(p.receive_maximum, None, "65535 goes unsaid");
    assert_eq!(
        p.topic_alias_maximum,
        Some(10),
        "max_topic_alias, Mosquitto's default"
    );
    let p = connack_properties(&n, &BrokerConfig::default()).unwrap();
    assert_eq!(
        p.maximum_packet_size, None,
        "the protocol maximum goes unsaid"
    );
    let old = negotiate(
        &connect(ProtocolVersion::V311, "a", 60),
        &cfg(u16::MAX),
        assign,
    )
    .unwrap();
    assert!(connack_properties(&old, &BrokerConfig::default()).is_none());
}

#[test]
fn mqtt_3_1_2_29_a_refusal_has_a_reason_string_unless_problem_information_is_0() {
    let r = Refusal::Auth(AuthFailure::NotAuthorized);
    let ack = refusal_connack(r, ProtocolVersion::V5, true);
    assert_eq!(ack.code, 0x87);
    assert!(ack.properties.unwrap().reason_string.is_some());
    assert!(refusal_connack(r, ProtocolVersion::V5, false)
        .properties
        .is_none());
    let old = refusal_connack(r, ProtocolVersion::V311, true);
    assert_eq!((old.code, old.properties.is_none()), (5, true));
}

#[test]
fn mqtt_3_1_2_2_unknown_levels_get_0x84_above_5_and_0x01_below() {
    let above = DecodeError::UnsupportedProtocolLevel {
        level: 6,
        client_id: None,
    };
    let (ack, v) = unsupported_level(&above);
    assert_eq!((ack.code, v), (0x84, ProtocolVersion::V5));
    let below = DecodeError::UnsupportedProtocolLevel {
        level: 2,
        client_id: None,
    };
    let (ack, v) = unsupported_level(&below);
    assert_eq!((ack.code, v), (0x01, ProtocolVersion::V311));
}

fn disconnect(reason: ReasonCode, expiry: Option<u32>) -> Disconnect {
    Disconnect {
        reason,
        properties: expiry.map(|e| {
            Box::new(DisconnectProperties {
                session_expiry_interval: Some(e),
                ..DisconnectProperties::default()
            })
        }),
    }
}

#[test]
fn mqtt_3_14_disconnect_reason_and_session_expiry() {
    assert_eq!(
        on_disconnect(&disconnect(ReasonCode::Success, None), Some(0)).unwrap(),
        (false, None)
    );
    assert_eq!(
        on_disconnect(
            &disconnect(ReasonCode::DisconnectWithWillMessage, None),
            Some(0)
        )
        .unwrap(),
        (true, None)
    );
    assert_eq!(
        on_disconnect(&disconnect(ReasonCode::Success, Some(0)), Some(300)).unwrap(),
        (false, Some(0))
    );
    // [MQTT-3.14.2-2]: CONNECT said 0, DISCONNECT may not raise it.
    assert!(matches!(
        on_disconnect(&disconnect(ReasonCode::Success, Some(60)), Some(0)),
        Err(CloseReason::Protocol("MQTT-3.14.2-2", _))
    ));
    assert!(on_disconnect(&disconnect(ReasonCode::Success, Some(0)), Some(0)).is_ok());
}

fn publish_with(props: PublishProperties) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t".into(),
        pkid: None,
        payload: Bytes::new(),
        properties: Some(Box::new(props)),
    })
}

#[test]
fn mqtt_3_3_2_14_a_response_topic_with_wildcards_is_a_protocol_error() {
    let p = publish_with(PublishProperties {
        response_topic: Some("reply/#".into()),
        ..PublishProperties::default()
    });
    let err = check_inbound(&p).unwrap_err();
    assert_eq!(err.disconnect_code(), Some(ReasonCode::ProtocolError));
    let ok = publish_with(PublishProperties {
        response_topic: Some("reply/here".into()),
        ..PublishProperties::default()
    });
    assert!(check_inbound(&ok).is_ok());
}

#[test]
fn mqtt_4_13_1_1_the_broker_says_why_it_closes_a_5_0_client() {
    let p = disconnect_packet(&CloseReason::TakenOver, ProtocolVersion::V5, true).unwrap();
    let Packet::Disconnect(d) = p else {
        panic!("{p:?}")
    };
    assert_eq!(d.reason, ReasonCode::SessionTakenOver);
    assert!(d.properties.unwrap().reason_string.is_some());
    assert!(disconnect_packet(&CloseReason::TakenOver, ProtocolVersion::V311, true).is_none());
    assert!(disconnect_packet(&CloseReason::PeerClosed, ProtocolVersion::V5, true).is_none());
    let quiet = disconnect_packet(&CloseReason::ServerShutdown, ProtocolVersion::V5, false);
    let Some(Packet::Disconnect(d)) = quiet else {
        panic!("{quiet:?}")
    };
    assert_eq!(
        (d.reason, d.properties),
        (ReasonCode::ServerShuttingDown, None)
    );
}

#[test]
fn connack_says_which_features_the_configuration_turned_off() {
    let n = negotiate(
        &connect(ProtocolVersion::V5, "a", 60),
        &cfg(u16::MAX),
        assign,
    )
    .unwrap();
    let off = BrokerConfig {
        retain_available: false,
        wildcard_subscriptions_available: false,
        subscription_identifiers_available: false,
        receive_maximum: 8,
        ..BrokerConfig::default()
    };
    let p = connack_properties(&n, &off).unwrap();
    assert_eq!(p.retain_available, Some(false));
    assert_eq!(p.wildcard_subscription_available, Some(false));
    assert_eq!(p.subscription_identifiers_available, Some(false));
    assert_eq!(p.receive_maximum, NonZeroU16::new(8));
}

#[test]
fn mqtt_3_1_2_27_broker_aliases_only_up_to_the_clients_topic_alias_maximum() {
    let mut c = connect(ProtocolVersion::V5, "a", 60);
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert_eq!(n.topic_aliases_out, 0, "absent: none");
    c.properties.topic_alias_maximum = Some(3);
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert_eq!(n.topic_aliases_out, 3);
    c.properties.topic_alias_maximum = Some(500);
    let n = negotiate(&c, &cfg(u16::MAX), assign).unwrap();
    assert_eq!(n.topic_aliases_out, 10, "max_topic_alias_out");
}
