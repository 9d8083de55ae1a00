//! Encoding.
//!
//! Each packet is sized first ([`header`], which also validates), then written straight into
//! the output buffer with one `reserve`: no intermediate buffer, no re-copy of payloads.
//!
//! The encoder refuses (with `InvalidInput`) what the decoder would reject, such as a zero
//! packet id, a QoS 0 PUBLISH with a packet id, or an empty SUBSCRIBE: such a packet is a bug in
//! the caller, and writing it would only make the peer close the connection. 5.0-only fields
//! (properties, ack reason codes, 5.0 subscription options) are not written for 3.x: a 3.x peer
//! has no way to receive them, and dropping them is how a 5.0 message is forwarded to a 3.x
//! subscriber.

use super::decode::MAX_REMAINING_LENGTH;
use super::packet::*;
use bytes::{BufMut, BytesMut};
use std::io;

type Result<T> = io::Result<T>;

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A PUBLISH to encode from borrowed parts: the broker writes the topic and payload of a shared
/// message straight into the socket buffer, without cloning them into a [`Publish`] first (the
/// clones cost ~10 % of the broker's CPU in fan-out, measured; docs/PERFORMANCE.md).
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    pub pkid: Option<u16>,
    pub payload: &'a [u8],
}

impl<'a> From<&'a Publish> for PublishRef<'a> {
    fn from(p: &'a Publish) -> Self {
        PublishRef {
            dup: p.dup,
            qos: p.qos,
            retain: p.retain,
            topic: &p.topic,
            pkid: p.pkid,
            payload: &p.payload,
        }
    }
}

/// Encodes a PUBLISH from parts (3.x; 5.0 properties are not written, as for [`packet`]).
pub(super) fn publish(
    p: &PublishRef<'_>,
    version: Option<ProtocolVersion>,
    dst: &mut BytesMut,
) -> Result<()> {
    supported(version.unwrap_or_default())?;
    let (first, remaining) = publish_header(p)?;
    framed(dst, first, remaining, |dst| put_publish_body(dst, p))
}

/// Refuses to encode for a version this encoder does not write.
fn supported(v: ProtocolVersion) -> Result<()> {
    if v == ProtocolVersion::V5 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "MQTT 5.0 encoding is not implemented",
        ));
    }
    Ok(())
}

/// Writes the fixed header (`first`, Remaining Length) and then the body, with one `reserve`.
fn framed(
    dst: &mut BytesMut,
    first: u8,
    remaining: usize,
    body: impl FnOnce(&mut BytesMut),
) -> Result<()> {
    if remaining > MAX_REMAINING_LENGTH as usize {
        return Err(invalid(
            "packet exceeds the maximum remaining length of 268,435,455",
        ));
    }
    dst.reserve(1 + remaining_length_len(remaining) + remaining);
    dst.put_u8(first);
    put_remaining_length(dst, remaining);
    let start = dst.len();
    body(dst);
    debug_assert_eq!(dst.len() - start, remaining, "size mismatch");
    Ok(())
}

fn put_publish_body(dst: &mut BytesMut, p: &PublishRef<'_>) {
    put_field(dst, p.topic.as_bytes());
    if let Some(pkid) = p.pkid {
        dst.put_u16(pkid);
    }
    dst.put_slice(p.payload);
}

/// Validates a PUBLISH and returns its first byte and Remaining Length.
fn publish_header(p: &PublishRef<'_>) -> Result<(u8, usize)> {
    let pkid_len = match (p.qos, p.pkid) {
        (QoS::AtMostOnce, None) => 0,
        (QoS::AtMostOnce, Some(_)) => return Err(invalid("QoS 0 PUBLISH with a packet id")),
        (_, Some(pkid)) => {
            nonzero(pkid)?;
            2
        }
        (_, None) => return Err(invalid("QoS > 0 PUBLISH without a packet id")),
    };
    if p.dup && p.qos == QoS::AtMostOnce {
        return Err(invalid("QoS 0 PUBLISH with DUP [MQTT-3.3.1-2]"));
    }
    let first = 0x30 | u8::from(p.dup) << 3 | (p.qos as u8) << 1 | u8::from(p.retain);
    Ok((
        first,
        field_len(p.topic.as_bytes())? + pkid_len + p.payload.len(),
    ))
}

/// Encodes `p` into `dst`. `version` is the connection's; `None` encodes as 3.1.1 (the server
/// answering a CONNECT it could not decode). CONNECT uses its own `protocol` instead.
pub(super) fn packet(
    p: &Packet,
    version: Option<ProtocolVersion>,
    dst: &mut BytesMut,
) -> Result<()> {
    let v = match p {
        Packet::Connect(c) => c.protocol,
        _ => version.unwrap_or_default(),
    };
    supported(v)?;
    let (first, remaining) = header(p)?;
    framed(dst, first, remaining, |dst| body(p, v, dst))
}

/// Number of bytes of the Remaining Length encoding of `len`.
fn remaining_length_len(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

fn put_remaining_length(dst: &mut BytesMut, mut len: usize) {
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        dst.put_u8(byte);
        if len == 0 {
            break;
        }
    }
}

/// Size of a length-prefixed string or binary field.
fn field_len(data: &[u8]) -> Result<usize> {
    if data.len() > usize::from(u16::MAX) {
        return Err(invalid("string or binary field longer than 65,535 bytes"));
    }
    Ok(2 + data.len())
}

fn nonzero(pkid: u16) -> Result<u16> {
    if pkid == 0 {
        return Err(invalid("packet identifier 0 [MQTT-2.3.1-1]"));
    }
    Ok(pkid)
}

/// Validates `p` and returns its first byte and Remaining Length.
fn header(p: &Packet) -> Result<(u8, usize)> {
    Ok(match p {
        Packet::Connect(c) => (0x10, connect_len(c)?),
        Packet::ConnAck(_) => (0x20, 2),
        Packet::Publish(p) => publish_header(&PublishRef::from(p))?,
        Packet::PubAck(a) => (0x40, ack_len(a)?),
        Packet::PubRec(a) => (0x50, ack_len(a)?),
        Packet::PubRel(a) => (0x62, ack_len(a)?),
        Packet::PubComp(a) => (0x70, ack_len(a)?),
        Packet::Subscribe(s) => {
            nonzero(s.pkid)?;
            if s.filters.is_empty() {
                return Err(invalid("SUBSCRIBE without topic filters [MQTT-3.8.3-3]"));
            }
            let mut len = 2;
            for (filter, _) in &s.filters {
                len += field_len(filter.as_bytes())? + 1;
            }
            (0x82, len)
        }
        Packet::SubAck(s) => {
            nonzero(s.pkid)?;
            if s.return_codes.iter().any(|&c| c > 2 && c != SUBACK_FAILURE) {
                return Err(invalid("SUBACK return code other than 0, 1, 2 or 0x80"));
            }
            (0x90, 2 + s.return_codes.len())
        }
        Packet::Unsubscribe(u) => {
            nonzero(u.pkid)?;
            if u.filters.is_empty() {
                return Err(invalid("UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]"));
            }
            let mut len = 2;
            for filter in &u.filters {
                len += field_len(filter.as_bytes())?;
            }
            (0xA2, len)
        }
        Packet::UnsubAck(u) => {
            nonzero(u.pkid)?;
            (0xB0, 2)
        }
        Packet::PingReq => (0xC0, 0),
        Packet::PingResp => (0xD0, 0),
        Packet::Disconnect(_) => (0xE0, 0),
        // 5.0 will encode AUTH (type 15) here, after its version check in `packet`.
        Packet::Auth { .. } => return Err(invalid("AUTH does not exist before MQTT 5.0")),
    })
}

/// 3.x acks are exactly a packet id (5.0 adds a reason code and properties).
fn ack_len(a: &Ack) -> Result<usize> {
    nonzero(a.pkid)?;
    Ok(2)
}

fn connect_len(c: &Connect) -> Result<usize> {
    if c.password.is_some() && c.username.is_none() {
        return Err(invalid("password without user name [MQTT-3.1.2-22]"));
    }
    let mut len = 2 + c.protocol.name().len() + 1 + 1 + 2;
    len += field_len(c.client_id.as_bytes())?;
    if let Some(w) = &c.will {
        len += field_len(w.topic.as_bytes())? + field_len(&w.payload)?;
    }
    if let Some(u) = &c.username {
        len += field_len(u.as_bytes())?;
    }
    if let Some(p) = &c.password {
        len += field_len(p)?;
    }
    Ok(len)
}

fn put_field(dst: &mut BytesMut, data: &[u8]) {
    // Length checked by `field_len` in `header`.
    dst.put_u16(data.len() as u16);
    dst.put_slice(data);
}

/// Writes the body of a packet that [`header`] validated.
fn body(p: &Packet, v: ProtocolVersion, dst: &mut BytesMut) {
    match p {
        Packet::Connect(c) => connect(c, dst),
        Packet::ConnAck(c) => {
            // 3.1 has no session-present flag: that byte is reserved there.
            let flags = u8::from(c.session_present && v != ProtocolVersion::V31);
            dst.put_u8(flags);
            dst.put_u8(c.code);
        }
        Packet::Publish(p) => put_publish_body(dst, &PublishRef::from(p)),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            dst.put_u16(a.pkid)
        }
        Packet::Subscribe(s) => {
            dst.put_u16(s.pkid);
            for (filter, options) in &s.filters {
                put_field(dst, filter.as_bytes());
                dst.put_u8(options.qos as u8);
            }
        }
        Packet::SubAck(s) => {
            dst.put_u16(s.pkid);
            dst.put_slice(&s.return_codes);
        }
        Packet::Unsubscribe(u) => {
            dst.put_u16(u.pkid);
            for filter in &u.filters {
                put_field(dst, filter.as_bytes());
            }
        }
        Packet::UnsubAck(u) => dst.put_u16(u.pkid),
        Packet::PingReq | Packet::PingResp | Packet::Disconnect(_) | Packet::Auth { .. } => {}
    }
}

fn connect(c: &Connect, dst: &mut BytesMut) {
    put_field(dst, c.protocol.name().as_bytes());
    dst.put_u8(c.protocol.level());
    let mut flags = u8::from(c.clean_start) << 1;
    if let Some(w) = &c.will {
        flags |= 0b100 | (w.qos as u8) << 3 | u8::from(w.retain) << 5;
    }
    if c.password.is_some() {
        flags |= 0b0100_0000;
    }
    if c.username.is_some() {
        flags |= 0b1000_0000;
    }
    dst.put_u8(flags);
    dst.put_u16(c.keep_alive);
    put_field(dst, c.client_id.as_bytes());
    if let Some(w) = &c.will {
        put_field(dst, w.topic.as_bytes());
        put_field(dst, &w.payload);
    }
    if let Some(u) = &c.username {
        put_field(dst, u.as_bytes());
    }
    if let Some(p) = &c.password {
        put_field(dst, p);
    }
}
