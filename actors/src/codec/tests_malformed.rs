//! One test per class of malformed input, named after the spec statement it breaks.

use super::tests::{decode_one, hex};
use super::*;
use bytes::BytesMut;
use tokio_util::codec::Decoder;

const MAX: u32 = 1 << 20;

/// A packet with `first` byte and `body` (shorter than 128 bytes).
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() < 128);
    let mut bytes = vec![first, body.len() as u8];
    bytes.extend_from_slice(body);
    bytes
}

/// A CONNECT body: protocol `name` and `level`, then `flags`, keep-alive 60 and `payload`.
fn connect(name: &[u8], level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut body = vec![0, name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(&[level, flags, 0, 60]);
    body.extend_from_slice(payload);
    frame(0x10, &body)
}

/// Client id "c".
const CID: &[u8] = &[0, 1, b'c'];

fn decode_err(version: Option<ProtocolVersion>, bytes: &[u8]) -> DecodeError {
    let mut codec = match version {
        Some(v) => MqttCodec::with_version(v, MAX),
        None => MqttCodec::new(MAX),
    };
    match decode_one(&mut codec, bytes) {
        Ok(p) => panic!("decoded {p:?} from {bytes:02x?}"),
        Err(e) => e,
    }
}

/// 3.1.1 connection.
fn err(bytes: &[u8]) -> DecodeError {
    decode_err(Some(ProtocolVersion::V311), bytes)
}

macro_rules! assert_err {
    ($err:expr, $pat:pat $(if $guard:expr)?, $id:expr) => {{
        let e = $err;
        let id: Option<&str> = $id;
        assert!(matches!(e, $pat $(if $guard)?), "got {e:?}");
        assert_eq!(e.spec_id(), id);
        if let Some(id) = id {
            assert!(e.to_string().starts_with(&format!("[{id}]")), "{e}");
        }
        e
    }};
}

#[test]
fn mqtt_3_1_2_1_invalid_protocol_name_is_rejected() {
    for name in [&b"MQTX"[..], b"mqtt", b"MQIsdp\0", b""] {
        let e = err(&connect(name, 4, 2, CID));
        assert_err!(e, DecodeError::InvalidProtocolName, Some("MQTT-3.1.2-1"));
    }
}

#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level_is_rejected() {
    for (name, level) in [
        (&b"MQTT"[..], 6),
        (b"MQTT", 3),
        (b"MQIsdp", 4),
        (b"MQIsdp", 5),
        (b"MQTT", 0),
    ] {
        let mut codec = MqttCodec::new(MAX);
        let e = decode_one(&mut codec, &connect(name, level, 2, CID)).unwrap_err();
        assert!(e.is_unsupported_protocol_level());
        assert_eq!(e.is_newer_than_5(), level > 5);
        assert_eq!(e.reason_code(), ReasonCode::UnsupportedProtocolVersion);
        assert_err!(e, DecodeError::UnsupportedProtocolLevel { level: l, .. } if l == level, Some("MQTT-3.1.2-2"));
        assert_eq!(codec.version(), None, "a refused CONNECT sets no version");
    }
}

#[test]
fn mqtt_3_1_2_2_unsupported_level_carries_the_client_id_when_readable() {
    // Level 4 with name "MQIsdp": read as 3.1.1.
    let e = decode_err(None, &connect(b"MQIsdp", 4, 2, CID));
    assert!(
        matches!(e, DecodeError::UnsupportedProtocolLevel { client_id: Some(ref c), .. } if c == "c")
    );
    // Level 6: read as 5.0 (properties with a session expiry, then client id "c").
    let v6 = hex("10 13 00 04 4d 51 54 54 06 02 00 3c 05 11 00 00 00 0a 00 01 63");
    let e = decode_err(None, &v6);
    assert!(e.is_newer_than_5());
    assert!(
        matches!(e, DecodeError::UnsupportedProtocolLevel { level: 6, client_id: Some(ref c) } if c == "c"),
        "{e:?}"
    );
    // Truncated after the level: still the level error, without a client id.
    let e = decode_err(None, &hex("10 07 00 04 4d 51 54 54 06"));
    assert!(
        matches!(
            e,
            DecodeError::UnsupportedProtocolLevel {
                level: 6,
                client_id: None
            }
        ),
        "{e:?}"
    );
    // The broker answers a level above 5 with a 5.0 CONNACK 0x84 (no properties) ...
    let mut codec = MqttCodec::with_version(ProtocolVersion::V5, MAX);
    let mut out = BytesMut::new();
    let refuse = |code| {
        Packet::ConnAck(ConnAck {
            session_present: false,
            code,
            properties: None,
        })
    };
    let code = ReasonCode::UnsupportedProtocolVersion.code();
    tokio_util::codec::Encoder::encode(&mut codec, refuse(code), &mut out).unwrap();
    assert_eq!(out.to_vec(), hex("20 03 00 84 00"));
    // ... and any other level with a 3.1.1 CONNACK 0x01.
    let mut codec = MqttCodec::new(MAX);
    let mut out = BytesMut::new();
    let code = connack::UNACCEPTABLE_PROTOCOL_VERSION;
    tokio_util::codec::Encoder::encode(&mut codec, refuse(code), &mut out).unwrap();
    assert_eq!(out.to_vec(), hex("20 02 00 01"));
}

#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_is_rejected() {
    let e = decode_err(None, &connect(b"MQTT", 4, 0b11, CID));
    assert_err!(e, DecodeError::ConnectReservedFlag, Some("MQTT-3.1.2-3"));
}

#[test]
fn mqtt_3_1_2_13_will_qos_without_will_flag_is_rejected() {
    for qos in [1, 2, 3] {
        let e = decode_err(None, &connect(b"MQIsdp", 3, 2 | qos << 3, CID));
        assert_err!(e, DecodeError::WillQosWithoutWill, Some("MQTT-3.1.2-13"));
    }
}

#[test]
fn mqtt_3_1_2_15_will_retain_without_will_flag_is_rejected() {
    let e = decode_err(None, &connect(b"MQTT", 4, 0b0010_0010, CID));
    assert_err!(e, DecodeError::WillRetainWithoutWill, Some("MQTT-3.1.2-15"));
}

#[test]
fn mqtt_3_1_2_14_will_qos_3_is_rejected() {
    let payload = [CID, &[0, 1, b't', 0, 0]].concat();
    let e = decode_err(None, &connect(b"MQTT", 4, 0b0001_1110, &payload));
    assert_err!(e, DecodeError::InvalidWillQos, Some("MQTT-3.1.2-14"));
}

#[test]
fn mqtt_3_1_2_22_password_without_username_is_rejected() {
    let payload = [CID, &[0, 1, b'p']].concat();
    let e = decode_err(None, &connect(b"MQTT", 4, 0b0100_0010, &payload));
    assert_err!(
        e,
        DecodeError::PasswordWithoutUsername,
        Some("MQTT-3.1.2-22")
    );
}

#[test]
fn password_is_binary_not_utf8() {
    let payload = [CID, &[0, 1, b'u'], &[0, 3, 0xff, 0, 0xfe]].concat();
    let bytes = connect(b"MQTT", 4, 0b1100_0010, &payload);
    let Packet::Connect(c) = decode_one(&mut MqttCodec::new(MAX), &bytes).unwrap() else {
        panic!()
    };
    assert_eq!(c.password.as_deref(), Some(&[0xff, 0, 0xfe][..]));
}

#[test]
fn mqtt_2_2_2_1_invalid_fixed_header_flags_are_rejected() {
    for first in [
        0x11u8, 0x21, 0x41, 0x51, 0x60, 0x63, 0x71, 0x80, 0x8a, 0x91, 0xa0, 0xb1, 0xc1, 0xd8, 0xe1,
    ] {
        // Rejected from the first byte alone, before the rest of the packet arrives.
        let mut buf = BytesMut::from(&[first][..]);
        let e = MqttCodec::new(MAX).decode(&mut buf).unwrap_err();
        assert_err!(e, DecodeError::InvalidFlags { flags, .. } if flags == first & 0xF, Some("MQTT-2.2.2-1"));
    }
}

#[test]
fn mqtt_2_2_2_1_dup_on_pubrel_subscribe_unsubscribe_is_3_1_only() {
    let pubrel = frame(0x6a, &[0, 1]);
    let Packet::PubRel(ack) = decode_one(
        &mut MqttCodec::with_version(ProtocolVersion::V31, MAX),
        &pubrel,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!(ack.pkid, 1);
    let e = err(&pubrel);
    assert_err!(
        e,
        DecodeError::InvalidFlags {
            packet_type: 6,
            flags: 0xa
        },
        Some("MQTT-2.2.2-1")
    );
}

#[test]
fn reserved_packet_types_0_and_15_are_rejected() {
    for first in [0x00u8, 0xf0] {
        let e = assert_err!(err(&[first, 0]), DecodeError::ReservedPacketType { packet_type } if packet_type == first >> 4, None);
        assert!(e.to_string().starts_with("[§2.2.1]"));
    }
}

#[test]
fn mqtt_3_3_1_4_publish_qos_3_is_rejected() {
    let e = err(&frame(0x36, &[0, 1, b't', 0, 1]));
    assert_err!(e, DecodeError::InvalidPublishQos, Some("MQTT-3.3.1-4"));
}

#[test]
fn mqtt_3_3_1_2_publish_dup_with_qos_0_is_rejected() {
    let e = err(&frame(0x38, &[0, 1, b't']));
    assert_err!(e, DecodeError::DupWithQos0, Some("MQTT-3.3.1-2"));
}

#[test]
fn mqtt_2_3_1_1_zero_packet_id_is_rejected() {
    let cases = [
        frame(0x32, &[0, 1, b't', 0, 0]),
        frame(0x40, &[0, 0]),
        frame(0x50, &[0, 0]),
        frame(0x62, &[0, 0]),
        frame(0x70, &[0, 0]),
        frame(0x82, &[0, 0, 0, 1, b't', 0]),
        frame(0x90, &[0, 0, 0]),
        frame(0xa2, &[0, 0, 0, 1, b't']),
        frame(0xb0, &[0, 0]),
    ];
    for bytes in cases {
        assert_err!(
            err(&bytes),
            DecodeError::ZeroPacketId { .. },
            Some("MQTT-2.3.1-1")
        );
    }
}

#[test]
fn mqtt_1_5_3_1_invalid_utf8_is_rejected() {
    // Lone continuation byte, and an encoded UTF-16 surrogate (U+D800).
    for bad in [&[0x80u8][..], &[0xed, 0xa0, 0x80]] {
        let mut s = vec![0, bad.len() as u8];
        s.extend_from_slice(bad);
        let cases = [
            connect(b"MQTT", 4, 2, &s),                               // client id
            connect(b"MQTT", 4, 0b110, &[CID, &s, &[0, 0]].concat()), // will topic
            connect(b"MQTT", 4, 0b1000_0010, &[CID, &s].concat()),    // user name
            frame(0x30, &s),                                          // topic name
            frame(0x82, &[&[0, 1][..], &s, &[0]].concat()),           // topic filter
            frame(0xa2, &[&[0, 1][..], &s].concat()),                 // topic filter
        ];
        for bytes in cases {
            assert_err!(err(&bytes), DecodeError::InvalidUtf8, Some("MQTT-1.5.3-1"));
        }
    }
}

#[test]
fn mqtt_1_5_3_2_null_character_is_rejected() {
    let s: &[u8] = &[0, 3, b'a', 0, b'b'];
    let cases = [
        connect(b"MQTT", 4, 2, s),
        connect(b"MQTT", 4, 0b1000_0010, &[CID, s].concat()),
        frame(0x30, s),
        frame(0x82, &[&[0, 1][..], s, &[0]].concat()),
        frame(0xa2, &[&[0, 1][..], s].concat()),
    ];
    for bytes in cases {
        assert_err!(
            err(&bytes),
            DecodeError::NullCharacter,
            Some("MQTT-1.5.3-2")
        );
    }
}

#[test]
fn mqtt_3_8_3_3_subscribe_without_filters_is_rejected() {
    let e = err(&frame(0x82, &[0, 1]));
    assert_err!(e, DecodeError::EmptySubscribe, Some("MQTT-3.8.3-3"));
}

#[test]
fn mqtt_3_8_3_4_subscribe_options_reserved_bits_or_qos_3_are_rejected() {
    for byte in [0x04u8, 0x80, 0xfc, 0x03] {
        let e = err(&frame(0x82, &[0, 1, 0, 1, b't', byte]));
        assert_err!(e, DecodeError::InvalidSubscriptionOptions { byte: b } if b == byte, Some("MQTT-3-8.3-4"));
    }
}

#[test]
fn mqtt_3_10_3_2_unsubscribe_without_filters_is_rejected() {
    let e = err(&frame(0xa2, &[0, 1]));
    assert_err!(e, DecodeError::EmptyUnsubscribe, Some("MQTT-3.10.3-2"));
}

#[test]
fn fixed_size_packets_with_another_remaining_length_are_rejected() {
    let cases = [
        (frame(0xc0, &[0]), 0),
        (frame(0xd0, &[0]), 0),
        (frame(0xe0, &[0]), 0),
        (frame(0x20, &[0]), 2),
        (frame(0x20, &[0, 0, 0]), 2),
        (frame(0x40, &[0, 1, 0]), 2),
        (frame(0x50, &[0]), 2),
        (frame(0x62, &[0, 1, 0, 0]), 2),
        (frame(0x70, &[]), 2),
        (frame(0xb0, &[0, 1, 0]), 2),
    ];
    for (bytes, len) in cases {
        let e = err(&bytes);
        assert_err!(e, DecodeError::InvalidRemainingLength { expected, .. } if expected == len, None);
    }
}

#[test]
fn fields_running_past_the_remaining_length_are_rejected() {
    let cases = [
        connect(b"MQTT", 4, 2, &[0, 5, b'c']), // client id
        connect(b"MQTT", 4, 0b110, CID),       // will missing
        connect(b"MQTT", 4, 0b1100_0010, &[CID, &[0, 1, b'u']].concat()), // password missing
        frame(0x10, &[0, 4, b'M', b'Q']),      // protocol name
        frame(0x30, &[0, 9, b't']),            // topic name
        frame(0x32, &[0, 1, b't', 0]),         // packet id
        frame(0x82, &[0, 1, 0, 1, b't']),      // options byte
        frame(0x82, &[0]),                     // packet id
        frame(0xa2, &[0, 1, 0, 2, b't']),      // filter
        frame(0x90, &[0]),                     // packet id
    ];
    for bytes in cases {
        assert_err!(err(&bytes), DecodeError::Truncated { .. }, None);
    }
}

#[test]
fn connect_with_trailing_bytes_is_rejected() {
    let e = err(&connect(b"MQTT", 4, 2, &[CID, &[1, 2]].concat()));
    assert_err!(
        e,
        DecodeError::TrailingBytes {
            packet: "CONNECT",
            extra: 2
        },
        None
    );
}

#[test]
fn connack_reserved_flag_bits_are_rejected() {
    let e = err(&hex("20 02 02 00"));
    assert_err!(e, DecodeError::InvalidConnAckFlags { flags: 2 }, None);
}

#[test]
fn suback_invalid_return_code_is_rejected() {
    let e = err(&hex("90 04 00 01 01 03"));
    assert_err!(e, DecodeError::InvalidSubAckReturnCode { code: 3 }, None);
}

#[test]
fn a_refused_packet_is_consumed_so_the_next_one_is_framed() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let mut buf = BytesMut::from(&[frame(0xc0, &[0]), frame(0xd0, &[])].concat()[..]);
    assert!(codec.decode(&mut buf).is_err());
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Packet::PingResp));
}
