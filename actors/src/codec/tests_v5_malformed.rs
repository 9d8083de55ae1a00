//! Malformed MQTT 5.0 input, one test per rule, named after the statement (or section) it
//! breaks; each checks the typed error, its message's leading statement and its reason code.

use super::tests::{decode_one, hex};
use super::*;

const MAX: u32 = 1 << 20;
const V5: Option<ProtocolVersion> = Some(ProtocolVersion::V5);

/// A packet with `first` byte and `body` (given in hex, shorter than 128 bytes).
fn frame(first: u8, body: &str) -> Vec<u8> {
    let body = hex(body);
    assert!(body.len() < 128);
    let mut bytes = vec![first, body.len() as u8];
    bytes.extend_from_slice(&body);
    bytes
}

/// A 5.0 CONNECT (clean start, keep-alive 60) with property block `props` (hex, length
/// included), then `payload` (hex).
fn connect(flags: u8, props: &str, payload: &str) -> Vec<u8> {
    frame(
        0x10,
        &format!("00 04 4d 51 54 54 05 {flags:02x} 00 3c {props} {payload}"),
    )
}

/// Client id "c".
const CID: &str = "00 01 63";

fn decode(version: Option<ProtocolVersion>, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let mut codec = match version {
        Some(v) => MqttCodec::with_version(v, MAX),
        None => MqttCodec::new(MAX),
    };
    decode_one(&mut codec, bytes)
}

fn err(version: Option<ProtocolVersion>, bytes: &[u8]) -> DecodeError {
    match decode(version, bytes) {
        Ok(p) => panic!("decoded {p:?} from {bytes:02x?}"),
        Err(e) => e,
    }
}

/// Checks the error's variant, the statement or section its message starts with, its
/// `spec_id` (the statement, if `lead` is one) and its reason code.
macro_rules! assert_err {
    ($err:expr, $pat:pat $(if $guard:expr)?, $lead:expr, $reason:expr) => {{
        let e = $err;
        let lead: &str = $lead;
        assert!(matches!(e, $pat $(if $guard)?), "got {e:?}");
        assert!(e.to_string().starts_with(&format!("[{lead}]")), "{e}");
        let id = lead.starts_with("MQTT-").then_some(lead);
        assert_eq!(e.spec_id(), id, "{e}");
        assert_eq!(e.reason_code(), $reason, "{e}");
    }};
}

const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;
const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;

#[test]
fn mqtt_3_1_2_11_2_duplicate_session_expiry_is_protocol_error() {
    let e = err(None, &connect(2, "0a 11 00 00 00 01 11 00 00 00 02", CID));
    assert_err!(
        e,
        DecodeError::DuplicateProperty {
            id: 0x11,
            packet: "CONNECT"
        },
        "§2.2.2.2",
        PROTOCOL
    );
}

#[test]
fn mqtt_3_1_2_11_connect_property_values_the_spec_calls_protocol_errors() {
    // Receive Maximum 0 (§3.1.2.11.3), Maximum Packet Size 0 (§3.1.2.11.4), Request Response
    // Information 2 (§3.1.2.11.6), Request Problem Information 2 (§3.1.2.11.7).
    for (props, id) in [
        ("03 21 00 00", 0x21),
        ("05 27 00 00 00 00", 0x27),
        ("02 19 02", 0x19),
        ("02 17 02", 0x17),
    ] {
        let e = err(None, &connect(2, props, CID));
        assert_err!(e, DecodeError::InvalidPropertyValue { id: i, packet: "CONNECT", .. } if i == id, "§2.2.2.2", PROTOCOL);
    }
}

#[test]
fn mqtt_2_2_2_2_property_not_allowed_in_the_packet_is_malformed() {
    // Topic Alias in CONNECT; an unknown identifier; a two-byte identifier (128).
    for (props, id) in [
        ("03 23 00 01", 0x23),
        ("02 7f 00", 0x7f),
        ("02 80 01", 0x80),
    ] {
        let e = err(None, &connect(2, props, CID));
        assert_err!(e, DecodeError::PropertyNotAllowed { id: i, packet: "CONNECT" } if i == id, "§2.2.2.2", MALFORMED);
    }
    // Session Expiry Interval among the Will Properties.
    let will = format!("{CID} 05 11 00 00 00 01 00 01 74 00 00");
    let e = err(None, &connect(0b0110, "00", &will));
    assert_err!(
        e,
        DecodeError::PropertyNotAllowed { id: 0x11, .. },
        "§2.2.2.2",
        MALFORMED
    );
}

#[test]
fn mqtt_2_2_2_1_property_length_past_the_packet_is_malformed() {
    let e = err(None, &connect(2, "20 11 00 00 00 01", CID));
    assert_err!(
        e,
        DecodeError::PropertiesTooLong { packet: "CONNECT" },
        "§2.2.2.1",
        MALFORMED
    );
    // A value cut by the end of its block.
    let e = err(V5, &frame(0x30, "00 01 74 03 02 00 00 78"));
    assert_err!(e, DecodeError::Truncated { .. }, "§2.2.3", MALFORMED);
    // A property length of five bytes.
    let e = err(V5, &frame(0x30, "00 01 74 ff ff ff ff 01"));
    assert_err!(
        e,
        DecodeError::MalformedVariableByteInteger,
        "§1.5.5",
        MALFORMED
    );
}

#[test]
fn mqtt_3_3_2_8_topic_alias_0_is_protocol_error() {
    let e = err(V5, &frame(0x30, "00 01 74 03 23 00 00"));
    assert_err!(e, DecodeError::ZeroTopicAlias, "MQTT-3.3.2-8", PROTOCOL);
}

#[test]
fn mqtt_3_3_2_3_publish_property_values_the_spec_calls_protocol_errors() {
    // Subscription Identifier 0 (§3.3.2.3.8), Payload Format Indicator 2 (§3.3.2.3.2).
    for (props, id) in [("02 0b 00", 0x0b), ("02 01 02", 0x01)] {
        let e = err(V5, &frame(0x30, &format!("00 01 74 {props}")));
        assert_err!(e, DecodeError::InvalidPropertyValue { id: i, packet: "PUBLISH", .. } if i == id, "§2.2.2.2", PROTOCOL);
    }
    // Message Expiry Interval twice.
    let e = err(
        V5,
        &frame(0x30, "00 01 74 0a 02 00 00 00 01 02 00 00 00 01"),
    );
    assert_err!(
        e,
        DecodeError::DuplicateProperty { id: 0x02, .. },
        "§2.2.2.2",
        PROTOCOL
    );
}

#[test]
fn mqtt_3_3_2_3_8_subscription_identifier_may_repeat_in_publish_only() {
    let Packet::Publish(p) = decode(V5, &frame(0x30, "00 01 74 04 0b 01 0b 02")).unwrap() else {
        panic!("expected PUBLISH")
    };
    let sids: Vec<u32> = p
        .properties
        .unwrap()
        .subscription_identifiers
        .iter()
        .map(|s| s.get())
        .collect();
    assert_eq!(sids, vec![1, 2]);
    let e = err(V5, &frame(0x82, "00 01 04 0b 01 0b 02 00 01 74 00"));
    assert_err!(
        e,
        DecodeError::DuplicateProperty {
            id: 0x0b,
            packet: "SUBSCRIBE"
        },
        "§2.2.2.2",
        PROTOCOL
    );
}

#[test]
fn mqtt_3_2_2_3_connack_property_values_the_spec_calls_protocol_errors() {
    // Maximum QoS 2 (§3.2.2.3.4), Retain Available 2 (§3.2.2.3.5).
    for (props, id) in [("02 24 02", 0x24), ("02 25 02", 0x25)] {
        let e = err(V5, &frame(0x20, &format!("00 00 {props}")));
        assert_err!(e, DecodeError::InvalidPropertyValue { id: i, packet: "CONNACK", .. } if i == id, "§2.2.2.2", PROTOCOL);
    }
}

#[test]
fn mqtt_2_4_reason_code_not_allowed_in_the_packet_is_malformed() {
    let cases = [
        (frame(0x20, "00 01 00"), "CONNACK", "MQTT-3.2.2-8", 0x01),
        (frame(0x40, "00 01 92"), "PUBACK", "MQTT-3.4.2-1", 0x92),
        (frame(0x50, "00 01 8e"), "PUBREC", "MQTT-3.5.2-1", 0x8e),
        (frame(0x62, "00 01 03"), "PUBREL", "MQTT-3.6.2-1", 0x03),
        (frame(0x70, "00 01 80"), "PUBCOMP", "MQTT-3.7.2-1", 0x80),
        (frame(0x90, "00 01 00 10"), "SUBACK", "MQTT-3.9.3-2", 0x10),
        (
            frame(0xB0, "00 01 00 01"),
            "UNSUBACK",
            "MQTT-3.11.3-2",
            0x01,
        ),
        (frame(0xE0, "01"), "DISCONNECT", "MQTT-3.14.2-1", 0x01),
        (frame(0xF0, "80 00"), "AUTH", "MQTT-3.15.2-1", 0x80),
    ];
    for (bytes, packet, id, code) in cases {
        let e = err(V5, &bytes);
        assert_err!(e, DecodeError::InvalidReasonCode { code: c, packet: p } if c == code && p == packet, id, MALFORMED);
    }
}

#[test]
fn mqtt_3_8_3_5_subscription_options_reserved_bits_are_malformed() {
    for byte in [0x40, 0x80, 0xC1] {
        let e = err(V5, &frame(0x82, &format!("00 01 00 00 01 74 {byte:02x}")));
        assert_err!(e, DecodeError::SubscriptionOptionsReservedBits { byte: b } if b == byte, "MQTT-3.8.3-5", MALFORMED);
    }
}

#[test]
fn mqtt_3_8_3_1_qos_3_and_retain_handling_3_are_protocol_errors() {
    let e = err(V5, &frame(0x82, "00 01 00 00 01 74 03"));
    assert_err!(
        e,
        DecodeError::InvalidSubscriptionQos { byte: 0x03 },
        "§3.8.3.1",
        PROTOCOL
    );
    let e = err(V5, &frame(0x82, "00 01 00 00 01 74 31"));
    assert_err!(
        e,
        DecodeError::InvalidRetainHandling { byte: 0x31 },
        "§3.8.3.1",
        PROTOCOL
    );
}

#[test]
fn mqtt_3_8_3_2_and_3_10_3_2_empty_subscribe_and_unsubscribe_are_protocol_errors() {
    let e = err(V5, &frame(0x82, "00 01 00"));
    assert_err!(e, DecodeError::EmptySubscribe, "MQTT-3.8.3-3", PROTOCOL);
    let e = err(V5, &frame(0xA2, "00 01 00"));
    assert_err!(e, DecodeError::EmptyUnsubscribe, "MQTT-3.10.3-2", PROTOCOL);
}

#[test]
fn mqtt_2_2_1_auth_exists_only_in_5_0_and_has_flags_0() {
    for version in [
        None,
        Some(ProtocolVersion::V311),
        Some(ProtocolVersion::V31),
    ] {
        let e = err(version, &frame(0xF0, ""));
        assert_err!(
            e,
            DecodeError::ReservedPacketType { packet_type: 15 },
            "§2.2.1",
            MALFORMED
        );
    }
    let e = err(V5, &frame(0xF1, ""));
    assert_err!(
        e,
        DecodeError::InvalidFlags {
            packet_type: 15,
            flags: 1
        },
        "MQTT-2.2.2-1",
        MALFORMED
    );
}

#[test]
fn mqtt_3_4_2_bytes_after_the_ack_properties_are_malformed() {
    let e = err(V5, &frame(0x40, "00 01 00 00 00"));
    assert_err!(
        e,
        DecodeError::TrailingBytes {
            packet: "PUBACK",
            extra: 1
        },
        "§2.2.3",
        MALFORMED
    );
}

#[test]
fn packet_too_large_and_io_errors_have_their_reason_codes() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V5, 10);
    let mut buf = bytes::BytesMut::from(&frame(0x30, "00 01 74 00 00 00 00 00 00 00")[..]);
    let e = tokio_util::codec::Decoder::decode(&mut codec, &mut buf).unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::PacketTooLarge);
    let io = DecodeError::from(std::io::Error::other("reset"));
    assert_eq!(io.reason_code(), ReasonCode::UnspecifiedError);
}

#[test]
fn v5_connect_rules_that_differ_from_3_1_1() {
    // A password without a user name is allowed in 5.0 (3.1.1's [MQTT-3.1.2-22] is gone).
    let Packet::Connect(c) = decode(
        None,
        &connect(0b0100_0010, "00", &format!("{CID} 00 02 70 77")),
    )
    .unwrap() else {
        panic!("expected CONNECT")
    };
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    assert_eq!(c.username, None);
    // The 3.1.1 flag rules still hold.
    let e = err(None, &connect(0b11, "00", CID));
    assert_err!(
        e,
        DecodeError::ConnectReservedFlag,
        "MQTT-3.1.2-3",
        MALFORMED
    );
    let e = err(None, &connect(0b0001_1010, "00", CID));
    assert_err!(
        e,
        DecodeError::WillQosWithoutWill,
        "MQTT-3.1.2-13",
        MALFORMED
    );
}
