//! Decoding: fixed header, field reader and every packet type except CONNECT
//! (see `decode_connect.rs`).
//!
//! Decoding runs in two steps so that the framing never depends on the packet's content:
//! [`fixed_header`] validates the first byte and reads the Remaining Length from a possibly
//! partial buffer; once the whole packet is buffered, [`packet`] decodes its body from a slice
//! that holds exactly the Remaining Length bytes. Every string and payload is copied out of that
//! slice, so a decoded packet never pins the socket read buffer.
//!
//! Each packet decoder receives the connection's version: 5.0 adds properties (see
//! `properties.rs`) and reason codes (see `reason.rs`) to most packets, in the places §3 fixes.

use super::decode_connect::connect;
use super::error::DecodeError;
use super::packet::*;
use super::properties_io::PropertySet;
use super::reader::Reader;

use bytes::Bytes;

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
/// Inline, as `packet`: the decoder's hot path, kept in its caller's code unit however the
/// crate is split into code units (out of line they cost ~45 more instructions per packet).
#[inline]
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
        // 15 is AUTH in 5.0 (flags 0, below) and reserved before.
        0 => Err(DecodeError::ReservedPacketType { packet_type }),
        15 if version != Some(ProtocolVersion::V5) => {
            Err(DecodeError::ReservedPacketType { packet_type })
        }
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
#[inline]
pub(super) fn packet(
    header: FixedHeader,
    body: &[u8],
    version: Option<ProtocolVersion>,
) -> Result<Packet> {
    if header.packet_type == 1 {
        return Ok(Packet::Connect(Box::new(connect(body)?)));
    }
    let v = version.unwrap_or_default();
    let v5 = v == ProtocolVersion::V5;
    let t = header.packet_type;
    let mut r = Reader::new(body, kind(t));
    let packet = match t {
        2 => Packet::ConnAck(connack(&mut r, v5)?),
        3 => Packet::Publish(publish(&mut r, header.flags, v5)?),
        4 => Packet::PubAck(ack(&mut r, t, v5)?),
        5 => Packet::PubRec(ack(&mut r, t, v5)?),
        6 => Packet::PubRel(ack(&mut r, t, v5)?),
        7 => Packet::PubComp(ack(&mut r, t, v5)?),
        8 => Packet::Subscribe(subscribe(&mut r, v5)?),
        9 => Packet::SubAck(suback(&mut r, v5)?),
        10 => Packet::Unsubscribe(unsubscribe(&mut r, v5)?),
        11 => Packet::UnsubAck(unsuback(&mut r, v5)?),
        12 => empty(&r, Packet::PingReq)?,
        13 => empty(&r, Packet::PingResp)?,
        14 if v5 => Packet::Disconnect(disconnect(&mut r)?),
        14 => empty(&r, Packet::Disconnect(Disconnect::default()))?,
        15 if v5 => Packet::Auth(auth(&mut r)?),
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

/// A reason code that packet type `t` may carry (§2.4).
fn reason(r: &mut Reader<'_>, t: u8) -> Result<ReasonCode> {
    let code = r.u8()?;
    match ReasonCode::from_u8(code) {
        Some(rc) if rc.allowed_in(t) => Ok(rc),
        _ => Err(DecodeError::InvalidReasonCode {
            code,
            packet: kind(t),
        }),
    }
}

/// A property block a 5.0 packet must have (CONNACK, PUBLISH, SUBSCRIBE, ...); none for 3.x.
fn props<P: PropertySet>(r: &mut Reader<'_>, v5: bool) -> Result<Option<Box<P>>> {
    if v5 {
        P::decode_boxed(r, r.packet)
    } else {
        Ok(None)
    }
}

/// PINGREQ, PINGRESP and 3.x DISCONNECT have no variable header or payload.
fn empty(r: &Reader<'_>, packet: Packet) -> Result<Packet> {
    r.expect_len(0)?;
    Ok(packet)
}

/// 3.x: flags and return code. 5.0: flags, reason code, properties (§3.2.2).
fn connack(r: &mut Reader<'_>, v5: bool) -> Result<ConnAck> {
    if !v5 {
        r.expect_len(2)?;
    }
    let flags = r.u8()?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::InvalidConnAckFlags { flags });
    }
    let code = if v5 { reason(r, 2)?.code() } else { r.u8()? };
    let properties = props(r, v5)?;
    r.finish()?;
    Ok(ConnAck {
        session_present: flags & 1 != 0,
        code,
        properties,
    })
}

fn publish(r: &mut Reader<'_>, flags: u8, v5: bool) -> Result<Publish> {
    // QoS 3 and DUP with QoS 0 were rejected with the fixed header.
    let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidPublishQos)?;
    // Wildcards and empty topics are the topic module's business; only UTF-8 rules here.
    let topic = r.string()?;
    let pkid = match qos {
        QoS::AtMostOnce => None,
        _ => Some(r.pkid()?),
    };
    let properties = props(r, v5)?;
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

/// PUBACK, PUBREC, PUBREL, PUBCOMP of packet type `t`. In 3.x exactly a packet id. In 5.0 the
/// reason code may be left out when it is Success and there are no properties (Remaining
/// Length 2), and the property length when there are none (Remaining Length 3) (§3.4.2.1).
fn ack(r: &mut Reader<'_>, t: u8, v5: bool) -> Result<Ack> {
    if !v5 {
        r.expect_len(2)?;
        return Ok(Ack::new(r.pkid()?));
    }
    let mut ack = Ack::new(r.pkid()?);
    if r.remaining() > 0 {
        ack.reason = reason(r, t)?;
    }
    if r.remaining() > 0 {
        ack.properties = AckProperties::decode_boxed(r, kind(t))?;
    }
    r.finish()?;
    Ok(ack)
}

/// 5.0 DISCONNECT: Remaining Length 0 is Normal disconnection; the property length may be left
/// out after the reason code (§3.14.2.1, §3.14.2.2).
fn disconnect(r: &mut Reader<'_>) -> Result<Disconnect> {
    let mut d = Disconnect::default();
    if r.remaining() > 0 {
        d.reason = reason(r, 14)?;
    }
    if r.remaining() > 0 {
        d.properties = DisconnectProperties::decode_boxed(r, "DISCONNECT")?;
    }
    r.finish()?;
    Ok(d)
}

/// AUTH (5.0 only): Remaining Length 0 is Success without properties (§3.15.2.1). A reason code
/// without a property length is accepted as for DISCONNECT.
fn auth(r: &mut Reader<'_>) -> Result<Auth> {
    let mut a = Auth::default();
    if r.remaining() > 0 {
        a.reason = reason(r, 15)?;
    }
    if r.remaining() > 0 {
        a.properties = AuthProperties::decode_boxed(r, "AUTH")?;
    }
    r.finish()?;
    Ok(a)
}

fn subscribe(r: &mut Reader<'_>, v5: bool) -> Result<Subscribe> {
    let pkid = r.pkid()?;
    let properties = props(r, v5)?;
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string()?;
        let byte = r.u8()?;
        let options = if v5 {
            SubscriptionOptions::from_byte(byte)?
        } else {
            // 3.x: only the two QoS bits; the upper six are reserved.
            match QoS::from_u8(byte) {
                Some(qos) => SubscriptionOptions {
                    qos,
                    ..SubscriptionOptions::default()
                },
                None => return Err(DecodeError::InvalidSubscriptionOptions { byte }),
            }
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

fn suback(r: &mut Reader<'_>, v5: bool) -> Result<SubAck> {
    let pkid = r.pkid()?;
    let properties = props(r, v5)?;
    let mut return_codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        if v5 {
            return_codes.push(reason(r, 9)?);
        } else {
            let code = match r.u8()? {
                0 => ReasonCode::Success,
                1 => ReasonCode::GrantedQos1,
                2 => ReasonCode::GrantedQos2,
                SUBACK_FAILURE => ReasonCode::UnspecifiedError,
                code => return Err(DecodeError::InvalidSubAckReturnCode { code }),
            };
            return_codes.push(code);
        }
    }
    Ok(SubAck {
        pkid,
        return_codes,
        properties,
    })
}

fn unsubscribe(r: &mut Reader<'_>, v5: bool) -> Result<Unsubscribe> {
    let pkid = r.pkid()?;
    let properties = props(r, v5)?;
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
fn unsuback(r: &mut Reader<'_>, v5: bool) -> Result<UnsubAck> {
    if !v5 {
        r.expect_len(2)?;
    }
    let pkid = r.pkid()?;
    let properties = props(r, v5)?;
    let mut reason_codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        reason_codes.push(reason(r, 11)?);
    }
    Ok(UnsubAck {
        pkid,
        reason_codes,
        properties,
    })
}
