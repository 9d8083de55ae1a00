//! Codec tests: round trips, wire fixtures and the encoder's refusals. Streaming and limits are
//! in `tests_stream.rs`, malformed input in `tests_malformed.rs`.

use super::*;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio_util::codec::{Decoder, Encoder};

pub(super) const MAX: u32 = 268_435_455 + 5;

/// `"10 02 ab"` -> bytes. Whitespace is ignored.
pub(super) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}

/// Decodes exactly one packet from `bytes`, requiring the buffer to be consumed.
pub(super) fn decode_one(codec: &mut MqttCodec, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let packet = codec.decode(&mut buf)?.expect("a complete packet");
    assert!(buf.is_empty(), "{} byte(s) left over", buf.len());
    Ok(packet)
}

pub(super) fn encode(codec: &mut MqttCodec, packet: &Packet) -> Vec<u8> {
    let mut buf = BytesMut::new();
    codec.encode(packet, &mut buf).expect("encodable");
    buf.to_vec()
}

pub(super) fn s(v: &str) -> ByteString {
    ByteString::from(v)
}

pub(super) fn connect(protocol: ProtocolVersion, full: bool) -> Packet {
    Packet::Connect(Box::new(Connect {
        bridge: false,
        protocol,
        clean_start: !full,
        keep_alive: if full { 65535 } else { 0 },
        client_id: s(if full { "client-é-1" } else { "" }),
        will: full.then(|| LastWill {
            topic: s("will/topic"),
            payload: Bytes::from_static(b"\x00bye\xff"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: WillProperties::default(),
        }),
        username: full.then(|| s("user")),
        password: full.then(|| Bytes::from_static(b"\xff\x00secret")),
        properties: ConnectProperties::default(),
    }))
}

pub(super) fn publish(
    qos: QoS,
    pkid: Option<u16>,
    dup: bool,
    retain: bool,
    payload: &[u8],
) -> Packet {
    Packet::Publish(Publish {
        dup,
        qos,
        retain,
        topic: s("a/b/c"),
        pkid,
        payload: Bytes::copy_from_slice(payload),
        properties: None,
    })
}

/// One or more of every packet type of 3.x, as the given version can carry them.
pub(super) fn samples(v: ProtocolVersion) -> Vec<Packet> {
    let opts = |qos| SubscriptionOptions {
        qos,
        ..Default::default()
    };
    vec![
        connect(v, true),
        connect(v, false),
        Packet::ConnAck(ConnAck {
            // 3.1 has no session-present flag.
            session_present: v != ProtocolVersion::V31,
            code: connack::NOT_AUTHORIZED,
            properties: None,
        }),
        publish(QoS::AtMostOnce, None, false, false, b"hello"),
        publish(QoS::AtLeastOnce, Some(1), true, true, b""),
        publish(QoS::ExactlyOnce, Some(65535), false, true, &[0u8; 300]),
        Packet::PubAck(Ack::new(7)),
        Packet::PubRec(Ack::new(8)),
        Packet::PubRel(Ack::new(9)),
        Packet::PubComp(Ack::new(10)),
        Packet::Subscribe(Subscribe {
            pkid: 11,
            filters: vec![
                (s("a/+"), opts(QoS::AtMostOnce)),
                (s("#"), opts(QoS::AtLeastOnce)),
                (s("x/y/z"), opts(QoS::ExactlyOnce)),
            ],
            properties: None,
        }),
        Packet::SubAck(SubAck {
            pkid: 11,
            return_codes: vec![
                ReasonCode::Success,
                ReasonCode::GrantedQos1,
                ReasonCode::GrantedQos2,
                ReasonCode::UnspecifiedError,
            ],
            properties: None,
        }),
        Packet::Unsubscribe(Unsubscribe {
            pkid: 12,
            filters: vec![s("a/+"), s("#")],
            properties: None,
        }),
        Packet::UnsubAck(UnsubAck {
            pkid: 12,
            reason_codes: vec![],
            properties: None,
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect(Disconnect::default()),
    ]
}

fn round_trip(v: ProtocolVersion) {
    let all = samples(v);
    let kinds: std::collections::HashSet<_> = all.iter().map(Packet::kind).collect();
    assert_eq!(kinds.len(), 14, "every 3.x packet type is covered");
    for packet in all {
        let bytes = encode(&mut MqttCodec::with_version(v, MAX), &packet);
        let decoded = decode_one(&mut MqttCodec::with_version(v, MAX), &bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", packet.kind()));
        assert_eq!(decoded, packet);
    }
}

#[test]
fn round_trip_every_packet_type_v311() {
    round_trip(ProtocolVersion::V311);
}

#[test]
fn round_trip_every_packet_type_v31() {
    round_trip(ProtocolVersion::V31);
}

/// mosquitto_pub-style CONNECT of 3.1.1: clean session, keep-alive 60, client id only.
const CONNECT_311: &str = "10 1d 00 04 4d 51 54 54 04 02 00 3c
    00 11 6d 6f 73 71 2d 30 31 32 33 34 35 36 37 38 39 61 62";

#[test]
fn connect_fixture_mosquitto_pub_v311() {
    let mut codec = MqttCodec::new(MAX);
    let packet = decode_one(&mut codec, &hex(CONNECT_311)).unwrap();
    let Packet::Connect(c) = &packet else {
        panic!("{packet:?}")
    };
    assert_eq!(c.protocol, ProtocolVersion::V311);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 60);
    assert_eq!(c.client_id, "mosq-0123456789ab");
    assert_eq!((&c.will, &c.username, &c.password), (&None, &None, &None));
    assert_eq!(codec.version(), Some(ProtocolVersion::V311));
    assert_eq!(encode(&mut codec, &packet), hex(CONNECT_311));
}

#[test]
fn connect_fixture_v31_with_will_user_and_password() {
    // Old mosquitto_pub (3.1, "MQIsdp"): will QoS 1 retained, user "u", password "p".
    let bytes = hex(
        "10 22 00 06 4d 51 49 73 64 70 03 ee 00 0a  00 04 6d 6f 73 71
         00 03 77 2f 74 00 03 62 79 65  00 01 75  00 01 70",
    );
    let mut codec = MqttCodec::new(MAX);
    let packet = decode_one(&mut codec, &bytes).unwrap();
    let Packet::Connect(c) = &packet else {
        panic!("{packet:?}")
    };
    assert_eq!(c.protocol, ProtocolVersion::V31);
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 10);
    let will = c.will.as_ref().unwrap();
    assert_eq!((&*will.topic, &will.payload[..]), ("w/t", &b"bye"[..]));
    assert_eq!((will.qos, will.retain), (QoS::AtLeastOnce, true));
    assert_eq!(c.username.as_deref(), Some("u"));
    assert_eq!(c.password.as_deref(), Some(&b"p"[..]));
    assert_eq!(codec.version(), Some(ProtocolVersion::V31));
    assert_eq!(encode(&mut codec, &packet), bytes);
}

#[test]
fn publish_fixtures_qos0_and_qos1() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let qos0 = hex("30 0a 00 03 61 2f 62 68 65 6c 6c 6f");
    let qos1 = hex("3b 0c 00 03 61 2f 62 00 0a 68 65 6c 6c 6f");
    let expect = |qos, pkid, dup, retain| {
        Packet::Publish(Publish {
            dup,
            qos,
            retain,
            topic: s("a/b"),
            pkid,
            payload: Bytes::from_static(b"hello"),
            properties: None,
        })
    };
    let p0 = expect(QoS::AtMostOnce, None, false, false);
    let p1 = expect(QoS::AtLeastOnce, Some(10), true, true);
    assert_eq!(decode_one(&mut codec, &qos0).unwrap(), p0);
    assert_eq!(decode_one(&mut codec, &qos1).unwrap(), p1);
    assert_eq!(encode(&mut codec, &p0), qos0);
    assert_eq!(encode(&mut codec, &p1), qos1);
}

#[test]
fn subscribe_fixture() {
    let bytes = hex("82 0e 00 01 00 03 61 2f 23 01 00 03 62 2f 2b 02");
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let packet = decode_one(&mut codec, &bytes).unwrap();
    let Packet::Subscribe(sub) = &packet else {
        panic!("{packet:?}")
    };
    assert_eq!(sub.pkid, 1);
    let filters: Vec<_> = sub.filters.iter().map(|(f, o)| (&**f, o.qos)).collect();
    assert_eq!(
        filters,
        [("a/#", QoS::AtLeastOnce), ("b/+", QoS::ExactlyOnce)]
    );
    assert_eq!(encode(&mut codec, &packet), bytes);
}

#[test]
fn exact_bytes_of_server_packets() {
    for v in [ProtocolVersion::V31, ProtocolVersion::V311] {
        let mut codec = MqttCodec::with_version(v, MAX);
        let connack = |session_present, code| {
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties: None,
            })
        };
        assert_eq!(encode(&mut codec, &connack(false, 0)), hex("20 02 00 00"));
        assert_eq!(encode(&mut codec, &connack(false, 1)), hex("20 02 00 01"));
        let sp = if v == ProtocolVersion::V31 {
            "00"
        } else {
            "01"
        };
        let expected = hex(&format!("20 02 {sp} 00"));
        assert_eq!(encode(&mut codec, &connack(true, 0)), expected);
        let suback = Packet::SubAck(SubAck {
            pkid: 0x1234,
            return_codes: vec![
                ReasonCode::Success,
                ReasonCode::GrantedQos2,
                ReasonCode::UnspecifiedError,
            ],
            properties: None,
        });
        assert_eq!(encode(&mut codec, &suback), hex("90 05 12 34 00 02 80"));
        assert_eq!(encode(&mut codec, &Packet::PingResp), hex("d0 00"));
        assert_eq!(encode(&mut codec, &Packet::PingReq), hex("c0 00"));
        let disconnect = Packet::Disconnect(Disconnect::default());
        assert_eq!(encode(&mut codec, &disconnect), hex("e0 00"));
        let acks = [
            (Packet::PubAck(Ack::new(5)), "40 02 00 05"),
            (Packet::PubRec(Ack::new(5)), "50 02 00 05"),
            (Packet::PubRel(Ack::new(5)), "62 02 00 05"),
            (Packet::PubComp(Ack::new(5)), "70 02 00 05"),
        ];
        for (packet, bytes) in acks {
            assert_eq!(encode(&mut codec, &packet), hex(bytes));
        }
    }
}

#[test]
fn encode_by_value_matches_encode_by_reference() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let mut by_value = BytesMut::new();
    codec
        .encode(Packet::PubAck(Ack::new(3)), &mut by_value)
        .unwrap();
    assert_eq!(
        by_value.to_vec(),
        encode(&mut codec, &Packet::PubAck(Ack::new(3)))
    );
}

#[test]
fn encoding_a_connect_sets_the_version() {
    let mut codec = MqttCodec::new(MAX);
    encode(&mut codec, &connect(ProtocolVersion::V31, false));
    assert_eq!(codec.version(), Some(ProtocolVersion::V31));
}

#[test]
fn encoder_refuses_packets_the_decoder_would_reject() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let mut no_user = connect(ProtocolVersion::V311, true);
    if let Packet::Connect(c) = &mut no_user {
        c.username = None;
    }
    let bad = [
        Packet::PubAck(Ack::new(0)),
        publish(QoS::AtMostOnce, Some(1), false, false, b""),
        publish(QoS::AtLeastOnce, None, false, false, b""),
        publish(QoS::AtMostOnce, None, true, false, b""),
        Packet::Subscribe(Subscribe {
            pkid: 1,
            filters: vec![],
            properties: None,
        }),
        Packet::Unsubscribe(Unsubscribe {
            pkid: 1,
            filters: vec![],
            properties: None,
        }),
        Packet::SubAck(SubAck {
            pkid: 1,
            return_codes: vec![ReasonCode::DisconnectWithWillMessage],
            properties: None,
        }),
        no_user,
        Packet::Auth(Auth::default()),
    ];
    for packet in bad {
        let mut buf = BytesMut::new();
        let err = codec.encode(&packet, &mut buf).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
            ),
            "{packet:?}: {err}"
        );
        assert!(buf.is_empty(), "{packet:?} wrote bytes");
    }
    let long = publish(QoS::AtMostOnce, None, false, false, b"");
    let Packet::Publish(mut long) = long else {
        unreachable!()
    };
    long.topic = ByteString::from("x".repeat(65_536));
    assert!(codec
        .encode(Packet::Publish(long), &mut BytesMut::new())
        .is_err());
}
