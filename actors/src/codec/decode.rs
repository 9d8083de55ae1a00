//! Decoding: fixed header, field reader and every packet type except CONNECT
//! (see `decode_connect.rs`).
//!
//! Decoding runs in two steps so that the framing never depends on the packet's content:
//! [`fixed_header`] validates the first byte and reads the Remaining Length from a possibly
//! partial buffer; once the whole packet is buffered, [`packet`] decodes its body from a slice
//! that holds exactly the Remaining Length bytes. Every string and payload is copied out of that
//! slice, so a decoded packet never pins the socket read buffer.
//!
//! 5.0 hooks: each packet decoder receives the connection's version, and the places where 5.0
//! inserts properties call [`read_properties`]; 5.0 becomes a branch there, not a rewrite.

use super::decode_connect::connect;
use super::error::DecodeError;
use super::packet::*;
use bytes::Bytes;
use bytestring::ByteString;

type Result<T> = std::result::Result<T, DecodeError>;

/// Largest value a 4-byte Remaining Length can hold.
pub(super) const MAX_REMAINING_LENGTH: u32 = 268_435_455;

/// A parsed fixed header.
#[derive(Clone, Copy, Debug)]
pub(super) struct FixedHeader {
    /// Packet type (upper nibble of the first byte).
    pub packet_type: u8,
    /// Flags (lower nibble of the first byte).
    pub flags: u8,
    /// Remaining Length: bytes after the fixed header.
    pub remaining: u32,
    /// Length of the fixed header itself (2..=5).
    pub header_len: usize,
}

impl FixedHeader {
    /// Whole packet size, which is what `max_packet_size` limits.
    pub fn total_len(&self) -> usize {
        self.header_len + self.remaining as usize
    }
}

/// Parses the fixed header at the start of `buf`. `Ok(None)` means "need more bytes".
///
/// The first byte is validated as soon as it arrives: a stream starting with a reserved type
/// or invalid flags is rejected without waiting for (and buffering) the rest of the packet.
pub(super) fn fixed_header(
    buf: &[u8],
    version: Option<ProtocolVersion>,
) -> Result<Option<FixedHeader>> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let (packet_type, flags) = (first >> 4, first & 0x0F);
    check_type_and_flags(packet_type, flags, version)?;

    let mut remaining = 0u32;
    for i in 0..4 {
        let Some(&byte) = buf.get(1 + i) else {
            return Ok(None);
        };
        remaining |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some(FixedHeader {
                packet_type,
                flags,
                remaining,
                header_len: 2 + i,
            }));
        }
    }
    // The 4th byte still had its continuation bit: a 5th byte is never valid.
    Err(DecodeError::MalformedRemainingLength)
}

/// Fixed-header rules that depend only on the first byte [MQTT-2.2.2-1], [MQTT-3.3.1-2],
/// [MQTT-3.3.1-4].
fn check_type_and_flags(
    packet_type: u8,
    flags: u8,
    version: Option<ProtocolVersion>,
) -> Result<()> {
    match packet_type {
        // 15 is AUTH in 5.0, which this codec does not decode yet.
        0 | 15 => Err(DecodeError::ReservedPacketType { packet_type }),
        3 => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                Err(DecodeError::InvalidPublishQos)
            } else if qos == 0 && flags & 0b1000 != 0 {
                Err(DecodeError::DupWithQos0)
            } else {
                Ok(())
            }
        }
        // PUBREL, SUBSCRIBE, UNSUBSCRIBE.
        6 | 8 | 10 => {
            // 3.1 described these flags as "QoS 1" plus a DUP bit that a client sets on
            // retransmission; 3.1.1 fixed them to 0b0010. Accept the 3.1 retransmission form
            // only on a connection known to be 3.1.
            let dup_ok = version == Some(ProtocolVersion::V31) && flags == 0b1010;
            if flags == 0b0010 || dup_ok {
                Ok(())
            } else {
                Err(DecodeError::InvalidFlags { packet_type, flags })
            }
        }
        _ if flags == 0 => Ok(()),
        _ => Err(DecodeError::InvalidFlags { packet_type, flags }),
    }
}

/// Decodes one packet body. `body` holds exactly `header.remaining` bytes.
///
/// `version` is the connection's version; `None` (server side, before CONNECT) decodes with
/// 3.1.1 rules. CONNECT carries its own version and ignores it.
pub(super) fn packet(
    header: FixedHeader,
    body: &[u8],
    version: Option<ProtocolVersion>,
) -> Result<Packet> {
    if header.packet_type == 1 {
        return Ok(Packet::Connect(Box::new(connect(body)?)));
    }
    let v = version.unwrap_or_default();
    if v == ProtocolVersion::V5 {
        return Err(DecodeError::UnsupportedProtocolLevel { level: 5 });
    }
    let kind = kind(header.packet_type);
    let mut r = Reader::new(body, kind);
    let packet = match header.packet_type {
        2 => Packet::ConnAck(connack(&mut r)?),
        3 => Packet::Publish(publish(&mut r, header.flags, v)?),
        4 => Packet::PubAck(ack(&mut r)?),
        5 => Packet::PubRec(ack(&mut r)?),
        6 => Packet::PubRel(ack(&mut r)?),
        7 => Packet::PubComp(ack(&mut r)?),
        8 => Packet::Subscribe(subscribe(&mut r, v)?),
        9 => Packet::SubAck(suback(&mut r, v)?),
        10 => Packet::Unsubscribe(unsubscribe(&mut r, v)?),
        11 => Packet::UnsubAck(unsuback(&mut r)?),
        12 => empty(&r, Packet::PingReq)?,
        13 => empty(&r, Packet::PingResp)?,
        14 => empty(&r, Packet::Disconnect(Disconnect::default()))?,
        packet_type => return Err(DecodeError::ReservedPacketType { packet_type }),
    };
    Ok(packet)
}

/// Packet name for error messages.
fn kind(packet_type: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "RESERVED",
        "CONNECT",
        "CONNACK",
        "PUBLISH",
        "PUBACK",
        "PUBREC",
        "PUBREL",
        "PUBCOMP",
        "SUBSCRIBE",
        "SUBACK",
        "UNSUBSCRIBE",
        "UNSUBACK",
        "PINGREQ",
        "PINGRESP",
        "DISCONNECT",
        "AUTH",
    ];
    NAMES[usize::from(packet_type & 0x0F)]
}

/// The 5.0 properties hook: 3.x has none, so nothing is read. 5.0 will read a Variable Byte
/// Integer length and the property bytes here.
pub(super) fn read_properties(_r: &mut Reader<'_>, v: ProtocolVersion) -> Result<Properties> {
    match v {
        ProtocolVersion::V31 | ProtocolVersion::V311 => Ok(Properties::default()),
        ProtocolVersion::V5 => Err(DecodeError::UnsupportedProtocolLevel { level: 5 }),
    }
}

/// PINGREQ, PINGRESP and 3.x DISCONNECT have no variable header or payload.
fn empty(r: &Reader<'_>, packet: Packet) -> Result<Packet> {
    r.expect_len(0)?;
    Ok(packet)
}

fn connack(r: &mut Reader<'_>) -> Result<ConnAck> {
    r.expect_len(2)?;
    let flags = r.u8()?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::InvalidConnAckFlags { flags });
    }
    Ok(ConnAck {
        session_present: flags & 1 != 0,
        code: r.u8()?,
        properties: Properties::default(),
    })
}

fn publish(r: &mut Reader<'_>, flags: u8, v: ProtocolVersion) -> Result<Publish> {
    // QoS 3 and DUP with QoS 0 were rejected with the fixed header.
    let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidPublishQos)?;
    // Wildcards and empty topics are the topic module's business; only UTF-8 rules here.
    let topic = r.string()?;
    let pkid = match qos {
        QoS::AtMostOnce => None,
        _ => Some(r.pkid()?),
    };
    let properties = read_properties(r, v)?;
    Ok(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 1 != 0,
        topic,
        pkid,
        payload: Bytes::copy_from_slice(r.rest()),
        properties,
    })
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP. In 3.x exactly a packet id; 5.0 adds an optional reason
/// code and properties after it (a `match` on the version here).
fn ack(r: &mut Reader<'_>) -> Result<Ack> {
    r.expect_len(2)?;
    Ok(Ack::new(r.pkid()?))
}

fn subscribe(r: &mut Reader<'_>, v: ProtocolVersion) -> Result<Subscribe> {
    let pkid = r.pkid()?;
    let properties = read_properties(r, v)?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string()?;
        let byte = r.u8()?;
        // 3.x: only the two QoS bits; the upper six are reserved. 5.0 gives them meaning.
        let qos = match QoS::from_u8(byte) {
            Some(qos) => qos,
            None => return Err(DecodeError::InvalidSubscriptionOptions { byte }),
        };
        let options = SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        };
        filters.push((filter, options));
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptySubscribe);
    }
    Ok(Subscribe {
        pkid,
        filters,
        properties,
    })
}

fn suback(r: &mut Reader<'_>, v: ProtocolVersion) -> Result<SubAck> {
    let pkid = r.pkid()?;
    let properties = read_properties(r, v)?;
    let return_codes = r.rest().to_vec();
    if let Some(&code) = return_codes.iter().find(|&&c| c > 2 && c != SUBACK_FAILURE) {
        return Err(DecodeError::InvalidSubAckReturnCode { code });
    }
    Ok(SubAck {
        pkid,
        return_codes,
        properties,
    })
}

fn unsubscribe(r: &mut Reader<'_>, v: ProtocolVersion) -> Result<Unsubscribe> {
    let pkid = r.pkid()?;
    let properties = read_properties(r, v)?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        filters.push(r.string()?);
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptyUnsubscribe);
    }
    Ok(Unsubscribe {
        pkid,
        filters,
        properties,
    })
}

/// 3.x UNSUBACK is exactly a packet id; 5.0 adds properties and one reason code per filter.
fn unsuback(r: &mut Reader<'_>) -> Result<UnsubAck> {
    r.expect_len(2)?;
    Ok(UnsubAck {
        pkid: r.pkid()?,
        reason_codes: Vec::new(),
        properties: Properties::default(),
    })
}

/// Reads fields from a packet body, turning every overrun into [`DecodeError::Truncated`].
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    packet: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], packet: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            packet,
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// For fixed-size packets: the whole Remaining Length must be exactly `len`.
    pub fn expect_len(&self, expected: u32) -> Result<()> {
        if self.buf.len() == expected as usize {
            Ok(())
        } else {
            Err(DecodeError::InvalidRemainingLength {
                packet: self.packet,
                expected,
                actual: self.buf.len() as u32,
            })
        }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                packet: self.packet,
            });
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A non-zero Packet Identifier [MQTT-2.3.1-1].
    pub fn pkid(&mut self) -> Result<u16> {
        match self.u16()? {
            0 => Err(DecodeError::ZeroPacketId {
                packet: self.packet,
            }),
            id => Ok(id),
        }
    }

    /// Length-prefixed binary data, borrowed: the caller copies what it keeps.
    pub fn binary(&mut self) -> Result<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// Length-prefixed UTF-8 string, validated [MQTT-1.5.3-1], [MQTT-1.5.3-2] and copied.
    pub fn string(&mut self) -> Result<ByteString> {
        let raw = self.binary()?;
        let s = std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8)?;
        if raw.contains(&0) {
            return Err(DecodeError::NullCharacter);
        }
        Ok(ByteString::from(s))
    }

    /// Everything left (PUBLISH payload, SUBACK codes).
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }

    /// Rejects bytes left after the last field.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes {
                packet: self.packet,
                extra,
            }),
        }
    }
}
