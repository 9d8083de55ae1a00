//! MQTT 5.0 building blocks on their own: the Variable Byte Integer (§1.5.5), property blocks
//! (§2.2.2) and the reason code table (§2.4).

use super::properties::{decode_vbi, encode_vbi, vbi_len, MAX_VBI};
use super::tests::{hex, s};
use super::tests_v5::{full_connack_properties, full_connect_properties, full_publish_properties};
use super::*;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use std::num::{NonZeroU16, NonZeroU32};

/// The table of §1.5.5: the smallest and largest values of each length.
#[test]
fn vbi_edge_values() {
    let table: [(u32, &str); 8] = [
        (0, "00"),
        (127, "7f"),
        (128, "80 01"),
        (16_383, "ff 7f"),
        (16_384, "80 80 01"),
        (2_097_151, "ff ff 7f"),
        (2_097_152, "80 80 80 01"),
        (268_435_455, "ff ff ff 7f"),
    ];
    for (value, bytes) in table {
        let bytes = hex(bytes);
        let mut buf = BytesMut::new();
        encode_vbi(value, &mut buf);
        assert_eq!(buf.to_vec(), bytes, "{value}");
        assert_eq!(vbi_len(value as usize), bytes.len());
        assert_eq!(decode_vbi(&bytes).unwrap(), Some((value, bytes.len())));
        // Every prefix is incomplete, not an error.
        for cut in 0..bytes.len() {
            assert_eq!(decode_vbi(&bytes[..cut]).unwrap(), None);
        }
    }
    assert_eq!(MAX_VBI, 268_435_455);
}

#[test]
fn vbi_of_five_bytes_is_malformed() {
    let e = decode_vbi(&hex("ff ff ff ff 01")).unwrap_err();
    assert!(
        matches!(e, DecodeError::MalformedVariableByteInteger),
        "{e:?}"
    );
    assert_eq!(e.reason_code(), ReasonCode::MalformedPacket);
    assert!(e.to_string().starts_with("[§1.5.5]"));
}

#[test]
fn vbi_non_minimal_encoding_is_accepted() {
    assert_eq!(decode_vbi(&hex("80 00")).unwrap(), Some((0, 2)));
    assert_eq!(decode_vbi(&hex("ff 80 80 00")).unwrap(), Some((127, 4)));
}

#[test]
fn publish_properties_to_and_from_bytes() {
    let p = full_publish_properties();
    let bytes = p.to_bytes();
    assert_eq!(bytes.len(), p.encoded_len());
    assert_eq!(PublishProperties::from_bytes(&bytes).unwrap(), p);
    // No properties: a single zero length byte.
    let empty = PublishProperties::default();
    assert_eq!(empty.to_bytes().to_vec(), vec![0]);
    assert!(empty.is_empty());
    assert_eq!(PublishProperties::from_bytes(&[0]).unwrap(), empty);
    // Bytes after the block are refused.
    let e = PublishProperties::from_bytes(&[0, 0]).unwrap_err();
    assert!(matches!(e, DecodeError::TrailingBytes { .. }), "{e:?}");
    let e = PublishProperties::from_bytes(&[5, 1]).unwrap_err();
    assert!(matches!(e, DecodeError::PropertiesTooLong { .. }), "{e:?}");
}

#[test]
fn every_property_struct_encodes_as_long_as_it_says() {
    fn check(len: usize, encode: impl Fn(&mut BytesMut)) {
        let mut buf = BytesMut::new();
        encode(&mut buf);
        assert_eq!(buf.len(), len);
    }
    let c = full_connect_properties();
    check(c.encoded_len(), |b| c.encode(b));
    let a = full_connack_properties();
    check(a.encoded_len(), |b| a.encode(b));
    let d = DisconnectProperties::default();
    check(1, |b| d.encode(b));
}

#[test]
fn debug_never_prints_correlation_or_authentication_data() {
    let mut p = full_publish_properties();
    p.correlation_data = Some(Bytes::from_static(b"SECRET-CORR"));
    let mut c = full_connect_properties();
    c.authentication_data = Some(Bytes::from_static(b"SECRET-AUTH"));
    let auth = AuthProperties {
        authentication_data: Some(Bytes::from_static(b"SECRET-AUTH")),
        ..Default::default()
    };
    let text = format!("{p:?} {c:?} {auth:?} {:?}", full_connack_properties());
    assert!(!text.contains("SECRET"), "{text}");
    assert!(text.contains("<11 bytes>"), "{text}");
}

#[test]
fn will_properties_become_the_will_message_properties() {
    let will = WillProperties {
        will_delay_interval: Some(5),
        content_type: Some(s("text/plain")),
        ..Default::default()
    };
    let p = will.into_publish().unwrap();
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    let delay_only = WillProperties {
        will_delay_interval: Some(5),
        ..Default::default()
    };
    assert_eq!(delay_only.into_publish(), None);
}

#[test]
fn reason_code_table() {
    for byte in 0..=255u8 {
        match ReasonCode::from_u8(byte) {
            Some(rc) => {
                assert_eq!(rc.code(), byte);
                assert_eq!(u8::from(rc), byte);
                assert_eq!(rc.is_error(), byte >= 0x80);
                assert!(ReasonCode::ALL.contains(&rc));
            }
            None => assert!(!ReasonCode::ALL.iter().any(|rc| rc.code() == byte)),
        }
    }
    assert_eq!(ReasonCode::ALL.len(), 43);
    assert_eq!(ReasonCode::NotAuthorized.to_string(), "0x87 Not authorized");
    assert_eq!(ReasonCode::Success.name(), "Success");
    assert_eq!(ReasonCode::default(), ReasonCode::Success);
    // Which packets may carry which code: the table's "Packets" column.
    let t = |rc: ReasonCode| (1..16).filter(|&t| rc.allowed_in(t)).collect::<Vec<u8>>();
    assert_eq!(t(ReasonCode::Success), vec![2, 4, 5, 6, 7, 9, 11, 14, 15]);
    assert_eq!(t(ReasonCode::GrantedQos1), vec![9]);
    assert_eq!(t(ReasonCode::NoMatchingSubscribers), vec![4, 5]);
    assert_eq!(t(ReasonCode::PacketIdentifierNotFound), vec![6, 7]);
    assert_eq!(t(ReasonCode::UnsupportedProtocolVersion), vec![2]);
    assert_eq!(t(ReasonCode::ContinueAuthentication), vec![15]);
    assert_eq!(t(ReasonCode::NotAuthorized), vec![2, 4, 5, 9, 11, 14]);
    assert_eq!(t(ReasonCode::MaximumConnectTime), vec![14]);
}

#[test]
fn v5_connack_refusals_map_to_the_nearest_311_return_code() {
    use ReasonCode::*;
    let table = [
        (Success, 0x00),
        (UnsupportedProtocolVersion, 0x01),
        (ClientIdentifierNotValid, 0x02),
        (ServerUnavailable, 0x03),
        (ServerBusy, 0x03),
        (BadUserNameOrPassword, 0x04),
        (NotAuthorized, 0x05),
        (BadAuthenticationMethod, 0x05),
        (Banned, 0x05),
        (UnspecifiedError, 0x03),
        (QuotaExceeded, 0x03),
    ];
    for (rc, code) in table {
        assert_eq!(rc.to_v311_connack(), code, "{rc}");
    }
}

#[test]
fn subscription_options_byte_round_trips() {
    for byte in 0..=0x3Fu8 {
        match SubscriptionOptions::from_byte(byte) {
            Ok(o) => assert_eq!(o.to_byte(), byte),
            Err(_) => assert!(byte & 0b11 == 3 || (byte >> 4) & 0b11 == 3, "{byte:#x}"),
        }
    }
}

fn string() -> impl Strategy<Value = bytestring::ByteString> {
    "[^\u{0}]{0,8}".prop_map(bytestring::ByteString::from)
}

fn binary() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from)
}

fn nz16() -> impl Strategy<Value = NonZeroU16> {
    (1..=u16::MAX).prop_map(|v| NonZeroU16::new(v).unwrap())
}

fn user() -> impl Strategy<Value = UserProperties> {
    proptest::collection::vec((string(), string()), 0..3)
}

prop_compose! {
    fn publish_properties()(
        payload_format_indicator in any::<Option<bool>>(),
        message_expiry_interval in any::<Option<u32>>(),
        topic_alias in proptest::option::of(nz16()),
        response_topic in proptest::option::of(string()),
        correlation_data in proptest::option::of(binary()),
        user_properties in user(),
        subscription_identifiers in proptest::collection::vec(1..=MAX_VBI, 0..3),
        content_type in proptest::option::of(string()),
    ) -> PublishProperties {
        PublishProperties {
            payload_format_indicator,
            message_expiry_interval,
            topic_alias,
            response_topic,
            correlation_data,
            user_properties,
            subscription_identifiers: subscription_identifiers
                .into_iter()
                .filter_map(NonZeroU32::new)
                .collect(),
            content_type,
        }
    }
}

prop_compose! {
    fn connect_properties()(
        session_expiry_interval in any::<Option<u32>>(),
        receive_maximum in proptest::option::of(nz16()),
        maximum_packet_size in proptest::option::of((1..=u32::MAX).prop_map(|v| NonZeroU32::new(v).unwrap())),
        topic_alias_maximum in any::<Option<u16>>(),
        request_response_information in any::<Option<bool>>(),
        request_problem_information in any::<Option<bool>>(),
        user_properties in user(),
        authentication_method in proptest::option::of(string()),
        authentication_data in proptest::option::of(binary()),
    ) -> ConnectProperties {
        ConnectProperties {
            session_expiry_interval,
            receive_maximum,
            maximum_packet_size,
            topic_alias_maximum,
            request_response_information,
            request_problem_information,
            user_properties,
            authentication_method,
            authentication_data,
        }
    }
}

proptest! {
    #[test]
    fn publish_properties_round_trip(p in publish_properties()) {
        let bytes = p.to_bytes();
        prop_assert_eq!(bytes.len(), p.encoded_len());
        prop_assert_eq!(PublishProperties::from_bytes(&bytes).unwrap(), p);
    }

    #[test]
    fn connect_properties_round_trip(p in connect_properties()) {
        let packet = Packet::Connect(Box::new(Connect {
        bridge: false,
            protocol: ProtocolVersion::V5,
            clean_start: true,
            keep_alive: 0,
            client_id: s("c"),
            will: None,
            username: None,
            password: None,
            properties: p,
        }));
        let mut buf = BytesMut::new();
        let mut codec = MqttCodec::new(1 << 20);
        tokio_util::codec::Encoder::encode(&mut codec, &packet, &mut buf).unwrap();
        let decoded = tokio_util::codec::Decoder::decode(&mut MqttCodec::new(1 << 20), &mut buf);
        prop_assert_eq!(decoded.unwrap(), Some(packet));
    }

    #[test]
    fn vbi_round_trip(v in 0..=MAX_VBI) {
        let mut buf = BytesMut::new();
        encode_vbi(v, &mut buf);
        prop_assert_eq!(buf.len(), vbi_len(v as usize));
        prop_assert_eq!(decode_vbi(&buf).unwrap(), Some((v, buf.len())));
    }
}
