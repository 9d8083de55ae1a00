//! Streaming input: the same bytes fed to a codec in pieces must give the same sequence of
//! packets and errors as the whole buffer decoded at once, without a panic and without buffering
//! more than `max_packet_size` allows.
//!
//! Input: byte 0 picks the codec (server side or fixed at 3.1 / 3.1.1 / 5.0) and its
//! `max_packet_size` (small ones make the size limit reachable); byte 1 seeds the chunk sizes;
//! the rest is the stream. The stream is fed one byte at a time, in seeded chunks of 1 to 64
//! bytes, and (for short inputs) split in two at every byte boundary.
#![no_main]

use bytes::BytesMut;
use courtier_actors::codec::{DecodeError, MqttCodec, Packet, ProtocolVersion};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

#[derive(Debug, PartialEq)]
enum Event {
    Packet(Packet),
    /// Errors are compared by their message, except the size refusal (see `normalize`).
    Error(String),
}

/// A CONNECT over the limit is `ConnectTooLarge` when its protocol level is already buffered and
/// `PacketTooLarge` when it is not: which one depends on how the bytes arrived, by design (the
/// level is read from what is there, the body is never waited for). Both are the same refusal.
fn normalize(e: &DecodeError) -> String {
    match e {
        DecodeError::PacketTooLarge { size, max }
        | DecodeError::ConnectTooLarge { size, max, .. } => {
            format!("too large: {size} > {max}")
        }
        e => e.to_string(),
    }
}

fn codec_for(b: u8) -> MqttCodec {
    let max = match (b >> 2) & 3 {
        0 => 1 << 20,
        1 => 16,
        2 => 128,
        _ => 1024,
    };
    match b & 3 {
        0 => MqttCodec::new(max),
        1 => MqttCodec::with_version(ProtocolVersion::V31, max),
        2 => MqttCodec::with_version(ProtocolVersion::V311, max),
        _ => MqttCodec::with_version(ProtocolVersion::V5, max),
    }
}

/// What may be buffered: the input itself plus room the codec reserves for one packet, which is
/// at most `max_packet_size`; BytesMut may round a reservation up to twice the capacity.
fn bound(codec: &MqttCodec, input: usize) -> usize {
    2 * (codec.max_packet_size() as usize + input) + 64
}

/// Decodes what `buf` holds; returns false once an error ended the stream (errors are fatal:
/// the connection closes on the first one).
fn drain(codec: &mut MqttCodec, buf: &mut BytesMut, events: &mut Vec<Event>, input: usize) -> bool {
    loop {
        let before = buf.len();
        let r = codec.decode(buf);
        assert!(
            buf.capacity() <= bound(codec, input),
            "buffer grew to {} bytes for {input} bytes of input, max_packet_size {}",
            buf.capacity(),
            codec.max_packet_size()
        );
        match r {
            Ok(Some(p)) => {
                assert!(buf.len() < before, "a packet consumes bytes");
                events.push(Event::Packet(p));
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "a partial packet consumes nothing");
                return true;
            }
            Err(e) => {
                events.push(Event::Error(normalize(&e)));
                return false;
            }
        }
    }
}

fn decode_in_pieces(
    mut codec: MqttCodec,
    pieces: impl Iterator<Item = (usize, usize)>,
    data: &[u8],
) -> Vec<Event> {
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    for (from, to) in pieces {
        buf.extend_from_slice(&data[from..to]);
        if !drain(&mut codec, &mut buf, &mut events, data.len()) {
            break;
        }
    }
    events
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let (cfg, seed, data) = (input[0], input[1], &input[2..]);
    let codec = codec_for(cfg);

    let whole = decode_in_pieces(codec.clone(), std::iter::once((0, data.len())), data);

    let bytewise = decode_in_pieces(codec.clone(), (0..data.len()).map(|i| (i, i + 1)), data);
    assert_eq!(bytewise, whole, "one byte at a time");

    let mut cuts = Vec::new();
    let mut state = u32::from(seed) | 0x100;
    let mut at = 0;
    while at < data.len() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = 1 + ((state >> 16) as usize % 64);
        let to = (at + len).min(data.len());
        cuts.push((at, to));
        at = to;
    }
    let chunked = decode_in_pieces(codec.clone(), cuts.into_iter(), data);
    assert_eq!(chunked, whole, "seeded chunks");

    if data.len() <= 256 {
        for k in 1..data.len() {
            let split =
                decode_in_pieces(codec.clone(), [(0, k), (k, data.len())].into_iter(), data);
            assert_eq!(split, whole, "split at {k}");
        }
    }
});
