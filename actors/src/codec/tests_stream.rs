//! Streaming (partial and concatenated packets), Remaining Length boundaries,
//! `max_packet_size` and the codec's version state.

use super::tests::{connect, decode_one, encode, hex, publish, s, samples, MAX};
use super::*;
use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

fn stream(v: ProtocolVersion) -> (Vec<Packet>, Vec<u8>) {
    let packets = samples(v);
    let mut codec = MqttCodec::with_version(v, MAX);
    let mut bytes = BytesMut::new();
    for p in &packets {
        codec.encode(p, &mut bytes).unwrap();
    }
    (packets, bytes.to_vec())
}

#[test]
fn byte_by_byte_stream_yields_the_same_packets() {
    let (packets, bytes) = stream(ProtocolVersion::V311);
    let mut codec = MqttCodec::new(MAX);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for byte in bytes {
        buf.put_u8(byte);
        while let Some(p) = codec.decode(&mut buf).unwrap() {
            out.push(p);
        }
    }
    assert!(buf.is_empty());
    assert_eq!(out, packets);
}

#[test]
fn whole_stream_in_one_buffer_decodes_one_packet_per_call() {
    let (packets, bytes) = stream(ProtocolVersion::V31);
    let mut codec = MqttCodec::new(MAX);
    let mut buf = BytesMut::from(&bytes[..]);
    for expected in &packets {
        assert_eq!(codec.decode(&mut buf).unwrap().as_ref(), Some(expected));
    }
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.is_empty());
}

#[test]
fn two_packets_in_one_buffer_and_a_packet_split_across_reads() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let mut buf = BytesMut::from(&hex("c0 00 30 0a 00 03 61 2f 62 68 65")[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(Packet::PingReq));
    // The PUBLISH is incomplete: no packet, no error, and room reserved for the rest.
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
    assert!(buf.capacity() >= 12);
    buf.extend_from_slice(&hex("6c 6c 6f e0 00"));
    let Some(Packet::Publish(p)) = codec.decode(&mut buf).unwrap() else {
        panic!("expected PUBLISH")
    };
    assert_eq!(&p.payload[..], b"hello");
    let disconnect = Packet::Disconnect(Disconnect::default());
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(disconnect));
    assert_eq!(codec.decode(&mut buf).unwrap(), None);
}

#[test]
fn decoded_packets_do_not_share_the_read_buffer() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let mut buf = BytesMut::from(&hex("30 0a 00 03 61 2f 62 68 65 6c 6c 6f")[..]);
    let range = buf.as_ptr_range();
    let Some(Packet::Publish(p)) = codec.decode(&mut buf).unwrap() else {
        panic!("expected PUBLISH")
    };
    assert!(!range.contains(&p.payload.as_ptr()));
    assert!(!range.contains(&p.topic.as_bytes().as_ptr()));
}

/// Remaining Length encodings from the table in 3.1.1 §2.2.3.
const BOUNDARIES: [(u32, &str); 8] = [
    (0, "00"),
    (127, "7f"),
    (128, "80 01"),
    (16_383, "ff 7f"),
    (16_384, "80 80 01"),
    (2_097_151, "ff ff 7f"),
    (2_097_152, "80 80 80 01"),
    (268_435_455, "ff ff ff 7f"),
];

#[test]
fn remaining_length_boundaries_parse_from_the_header() {
    for (len, encoded) in BOUNDARIES {
        let mut bytes = hex("30");
        bytes.extend(hex(encoded));
        let header = decode::fixed_header(&bytes, None).unwrap().unwrap();
        assert_eq!(header.remaining, len);
        assert_eq!(header.header_len, bytes.len());
        // One byte short of a header is "need more", not an error.
        assert!(decode::fixed_header(&bytes[..bytes.len() - 1], None)
            .unwrap()
            .is_none());
    }
}

#[test]
fn remaining_length_boundaries_round_trip_through_the_codec() {
    // 268,435,455 is covered from the header only: a 256 MiB buffer is no unit test.
    for (len, encoded) in &BOUNDARIES[..7] {
        let packet = if *len == 0 {
            Packet::PingReq
        } else {
            // topic "t" (3 bytes) + payload
            let mut payload = vec![0u8; *len as usize - 3];
            payload
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = i as u8);
            let mut p = publish(QoS::AtMostOnce, None, false, false, &payload);
            if let Packet::Publish(p) = &mut p {
                p.topic = s("t");
            }
            p
        };
        let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
        let bytes = encode(&mut codec, &packet);
        let header_len = 1 + hex(encoded).len();
        assert_eq!(&bytes[1..header_len], &hex(encoded)[..], "length {len}");
        assert_eq!(bytes.len(), header_len + *len as usize);
        assert_eq!(decode_one(&mut codec, &bytes).unwrap(), packet);
    }
}

#[test]
fn max_remaining_length_header_waits_for_the_body() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    let mut buf = BytesMut::from(&hex("30 ff ff ff 7f 00 01 74")[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert_eq!(buf.len(), 8, "nothing consumed");
}

#[test]
fn five_byte_remaining_length_is_malformed() {
    let mut codec = MqttCodec::new(MAX);
    // Rejected on the 4th byte's continuation bit, without waiting for a 5th byte.
    for bytes in ["30 ff ff ff ff", "30 80 80 80 80 01"] {
        let err = codec
            .decode(&mut BytesMut::from(&hex(bytes)[..]))
            .unwrap_err();
        assert!(
            matches!(err, DecodeError::MalformedRemainingLength),
            "{err}"
        );
    }
}

#[test]
fn max_packet_size_is_enforced_from_the_fixed_header_alone() {
    let mut codec = MqttCodec::new(1024);
    // Only the fixed header of a 2 MiB PUBLISH: refused without its body.
    let mut buf = BytesMut::from(&hex("30 ff ff 7f")[..]);
    let err = codec.decode(&mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::PacketTooLarge {
                size: 2_097_155,
                max: 1024
            }
        ),
        "{err:?}"
    );
    assert!(buf.capacity() < 4096, "the body was not reserved");
}

#[test]
fn max_packet_size_counts_the_fixed_header() {
    // PUBLISH of 10 bytes: 2 header + 8 remaining.
    let bytes = hex("30 08 00 03 61 2f 62 68 69 21");
    let ok = decode_one(
        &mut MqttCodec::with_version(ProtocolVersion::V311, 10),
        &bytes,
    );
    assert!(ok.is_ok());
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, 9);
    let err = codec.decode(&mut BytesMut::from(&bytes[..2])).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::PacketTooLarge { size: 10, max: 9 }
    ));
}

#[test]
fn version_starts_unknown_and_connect_sets_it() {
    let mut codec = MqttCodec::new(MAX);
    assert_eq!(codec.version(), None);
    assert_eq!(codec.max_packet_size(), MAX);
    decode_one(
        &mut codec,
        &encode(
            &mut MqttCodec::new(MAX),
            &connect(ProtocolVersion::V31, false),
        ),
    )
    .unwrap();
    assert_eq!(codec.version(), Some(ProtocolVersion::V31));
    codec.set_version(ProtocolVersion::V311);
    assert_eq!(codec.version(), Some(ProtocolVersion::V311));
}

#[test]
fn a_large_packet_reserves_room_as_it_arrives_not_as_announced() {
    let mut codec = MqttCodec::with_version(ProtocolVersion::V311, MAX);
    // The fixed header of a 200 MB PUBLISH and 10 bytes of it.
    let mut buf = BytesMut::from(&hex("30 80 80 80 64 00 03 61 2f 62 01 02 03 04 05")[..]);
    assert!(codec.decode(&mut buf).unwrap().is_none());
    assert!(buf.capacity() <= 128 * 1024, "reserved {}", buf.capacity());
}
