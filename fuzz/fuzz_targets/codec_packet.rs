//! One packet, decoded by a server-side codec (version unknown until CONNECT) and by codecs
//! fixed at 3.1, 3.1.1 and 5.0. Whenever decoding succeeds, the packet is encoded again with the
//! same codec state and decoded again: it must decode to an equal packet
//! (decode(encode(p)) == p), the encoding must be as long as `packet_encoded_len` says, and a
//! partial packet (`Ok(None)`) must leave the buffer as it was.
//!
//! One normalization, for a good reason (see `normalize`): MQTT 3.1 has no Session Present flag.
#![no_main]

use bytes::BytesMut;
use courtier_actors::codec::{packet_encoded_len, MqttCodec, Packet, ProtocolVersion};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

const MAX: u32 = 1 << 20;

/// Fields a version cannot carry, set as its encoder writes them.
///
/// - MQTT 3.1 CONNACK: the first byte of the variable header is reserved (3.1 has no Session
///   Present flag), so the encoder writes 0 whatever `session_present` says; the decoder reads
///   bit 0 as is (lenient, as a client of a 3.1 server would be). Re-encoding a 3.1 CONNACK with
///   that bit set therefore gives `session_present: false`.
fn normalize(mut p: Packet, version: ProtocolVersion) -> Packet {
    if let Packet::ConnAck(c) = &mut p {
        if version == ProtocolVersion::V31 {
            c.session_present = false;
        }
    }
    p
}

fuzz_target!(|data: &[u8]| {
    let codecs = [
        MqttCodec::new(MAX),
        MqttCodec::with_version(ProtocolVersion::V31, MAX),
        MqttCodec::with_version(ProtocolVersion::V311, MAX),
        MqttCodec::with_version(ProtocolVersion::V5, MAX),
    ];
    for fresh in codecs {
        let mut codec = fresh.clone();
        let mut buf = BytesMut::from(data);
        let packet = match codec.decode(&mut buf) {
            Ok(Some(p)) => p,
            Ok(None) => {
                assert_eq!(
                    &buf[..],
                    data,
                    "a partial packet must leave the buffer as it was"
                );
                continue;
            }
            Err(_) => continue,
        };
        assert!(buf.len() < data.len(), "a decoded packet consumes bytes");

        // Encode with the codec as it was before decoding (a CONNECT is encoded with its own
        // protocol either way), and decode with another fresh copy.
        let mut out = BytesMut::new();
        fresh
            .clone()
            .encode(&packet, &mut out)
            .unwrap_or_else(|e| panic!("a decoded packet must encode: {e}\n{packet:?}"));
        let version = match &packet {
            Packet::Connect(c) => c.protocol,
            _ => fresh.version().unwrap_or_default(),
        };
        assert_eq!(
            packet_encoded_len(&packet, version).expect("encoded_len"),
            out.len(),
            "packet_encoded_len disagrees with the encoder for {packet:?}"
        );
        let encoded = out.clone();
        let again = fresh
            .clone()
            .decode(&mut out)
            .unwrap_or_else(|e| {
                panic!("re-encoded packet does not decode: {e}\n{packet:?}\n{encoded:02x?}")
            })
            .unwrap_or_else(|| panic!("re-encoded packet is incomplete\n{packet:?}"));
        assert!(out.is_empty(), "re-encoded packet has trailing bytes");
        assert_eq!(
            again,
            normalize(packet, version),
            "decode(encode(p)) != p; encoded {encoded:02x?}"
        );
    }
});
