//! Sans-IO MQTT codec: bytes in, [`Packet`]s out, and back.
//!
//! The codec knows the wire format only. It enforces the spec's well-formedness rules (see
//! [`DecodeError`]) but no session rules: which packet may arrive in which direction or state is
//! the connection's job, so a test client can use the same codec as the server.
//!
//! Errors are meant to be fatal: the spec says to close the connection on a malformed packet
//! [MQTT-4.8.0-1]. Still, a packet whose body is refused is consumed from the buffer, so the
//! stream stays framed; an error in a fixed header leaves the buffer as it was.

pub mod packet;
pub mod properties;
pub mod reason;

mod decode;
mod decode_connect;
mod encode;
mod encode_publish;
mod encode_v5;
pub mod error;
mod properties_connect;
mod properties_io;
mod properties_types;
mod reader;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bridge;
#[cfg(test)]
mod tests_malformed;
#[cfg(test)]
mod tests_stream;
#[cfg(test)]
mod tests_v5;
#[cfg(test)]
mod tests_v5_malformed;
#[cfg(test)]
mod tests_v5_props;
#[cfg(test)]
mod tests_v5_wire;

pub use encode::packet_encoded_len;
pub use encode_publish::{publish_encoded_len, PublishRef};
pub use error::DecodeError;
pub use packet::*;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// MQTT 3.1 / 3.1.1 / 5.0 codec for `tokio_util::codec::Framed`.
#[derive(Debug, Clone)]
pub struct MqttCodec {
    /// `None` until CONNECT is seen: the first packet decides how the rest is coded.
    version: Option<ProtocolVersion>,
    /// Largest accepted packet, fixed header included.
    max_packet_size: u32,
    /// The peer's CONNECT carried Mosquitto's bridge bit (3.x): its SUBSCRIBE options are read
    /// as No Local and Retain As Published (see [`Connect::bridge`]).
    bridge: bool,
}

/// Room reserved at most, ahead of the bytes, for the rest of a packet whose fixed header is
/// read: the buffer grows with what arrives (doubling), not with what a header announces.
const RESERVE_AHEAD: usize = 64 * 1024;

impl MqttCodec {
    /// Server side: version unknown until CONNECT is decoded; then set from it.
    pub fn new(max_packet_size: u32) -> Self {
        MqttCodec {
            version: None,
            max_packet_size,
            bridge: false,
        }
    }

    /// Client side / tests: fixed version.
    pub fn with_version(version: ProtocolVersion, max_packet_size: u32) -> Self {
        MqttCodec {
            version: Some(version),
            max_packet_size,
            bridge: false,
        }
    }

    pub fn version(&self) -> Option<ProtocolVersion> {
        self.version
    }

    pub fn set_version(&mut self, v: ProtocolVersion) {
        self.version = Some(v);
    }

    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// On the encoding side: the largest packet the peer accepts (its MQTT 5.0 Maximum Packet
    /// Size), which the caller keeps to; the encoder itself does not check it.
    pub fn set_max_packet_size(&mut self, max: u32) {
        self.max_packet_size = max;
    }
}

impl Decoder for MqttCodec {
    type Item = Packet;
    type Error = DecodeError;

    /// Decodes one packet. A partial packet is `Ok(None)` after reserving room for (part of)
    /// the rest; a packet larger than `max_packet_size` is refused from its fixed header
    /// alone, before its body is buffered.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let Some(header) = decode::fixed_header(src, self.version)? else {
            // A fixed header is 2 to 5 bytes; ask for the smallest.
            src.reserve(2);
            return Ok(None);
        };
        let total = header.total_len();
        if total as u64 > u64::from(self.max_packet_size) {
            let (size, max) = (total as u64, self.max_packet_size);
            return Err(match connect_level(&header, src) {
                Some(level) => DecodeError::ConnectTooLarge { size, max, level },
                None => DecodeError::PacketTooLarge { size, max },
            });
        }
        if src.len() < total {
            src.reserve((total - src.len()).min(RESERVE_AHEAD));
            return Ok(None);
        }
        // The body is decoded from a slice and copied out; the frame is dropped from the
        // buffer whether or not it was valid.
        let result = decode::packet(header, &src[header.header_len..total], self.version);
        src.advance(total);
        let mut packet = result?;
        match &mut packet {
            Packet::Connect(c) => {
                self.version = Some(c.protocol);
                self.bridge = c.bridge;
            }
            Packet::Subscribe(s) if self.bridge => bridge_options(s),
            _ => {}
        }
        Ok(Some(packet))
    }
}

/// A 3.x bridge's subscriptions, as Mosquitto reads them (`handle_subscribe.c`, `is_bridge`):
/// No Local and Retain As Published, so that what the bridge publishes is not sent back to it
/// and retained flags cross the bridge. Not for shared subscriptions, where No Local is a
/// protocol error [MQTT-3.8.3-4].
fn bridge_options(s: &mut Subscribe) {
    for (filter, o) in &mut s.filters {
        if !filter.starts_with(crate::topic::SHARE_PREFIX) {
            o.no_local = true;
            o.retain_as_published = true;
        }
    }
}

/// The protocol level of a CONNECT whose first bytes are buffered (after the length-prefixed
/// protocol name "MQTT" or "MQIsdp"); `None` for other packets or when not yet readable.
fn connect_level(header: &decode::FixedHeader, src: &[u8]) -> Option<u8> {
    if header.packet_type != 1 {
        return None;
    }
    let body = src.get(header.header_len..)?;
    let name_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    matches!(body.get(2..2 + name_len)?, b"MQTT" | b"MQIsdp")
        .then(|| body.get(2 + name_len).copied())
        .flatten()
}

impl Encoder<&Packet> for MqttCodec {
    type Error = std::io::Error;

    /// Encodes with the codec's version (3.1.1 while unknown). A CONNECT is encoded with its
    /// own `protocol` and, like a decoded one, sets the codec's version.
    fn encode(&mut self, item: &Packet, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        encode::packet(item, self.version, dst)?;
        if let Packet::Connect(c) = item {
            self.version = Some(c.protocol);
        }
        Ok(())
    }
}

impl MqttCodec {
    /// Encodes a PUBLISH from borrowed parts (see [`PublishRef`]) with the codec's version.
    pub fn encode_publish(&self, p: &PublishRef<'_>, dst: &mut BytesMut) -> std::io::Result<()> {
        encode::publish(p, self.version, dst)
    }

    /// Size of the whole PUBLISH as [`MqttCodec::encode_publish`] would write it (see
    /// [`publish_encoded_len`]).
    pub fn publish_encoded_len(&self, p: &PublishRef<'_>) -> usize {
        publish_encoded_len(p, self.version.unwrap_or_default())
    }

    /// Size of the whole packet as this codec would encode it (see [`packet_encoded_len`]).
    pub fn packet_encoded_len(&self, p: &Packet) -> std::io::Result<usize> {
        packet_encoded_len(p, self.version.unwrap_or_default())
    }
}

impl Encoder<Packet> for MqttCodec {
    type Error = std::io::Error;

    fn encode(&mut self, item: Packet, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        Encoder::<&Packet>::encode(self, &item, dst)
    }
}
