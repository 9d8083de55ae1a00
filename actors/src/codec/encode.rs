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
//! subscriber. For 5.0, acks, DISCONNECT and AUTH use their short forms when the reason code is
//! Success and there are no properties (an empty boxed block counts as none).

use super::decode::MAX_REMAINING_LENGTH;
use super::encode_publish::PublishRef;
pub(super) use super::encode_publish::{publish, publish_header};
use super::encode_v5::{
    allowed, has_props, props_len, put_props, put_reason_and_props, reason_and_props_len, suback_v3,
};
use super::packet::*;
use super::properties::{encode_vbi, vbi_len};
use bytes::{BufMut, BytesMut};
use std::io;

type Result<T> = io::Result<T>;

pub(super) fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Size of the whole packet (fixed header included) as the encoder would write it for
/// `version` (a CONNECT for its own protocol), or the encoder's refusal.
pub fn packet_encoded_len(p: &Packet, version: ProtocolVersion) -> Result<usize> {
    let v = match p {
        Packet::Connect(c) => c.protocol,
        _ => version,
    };
    let (_, remaining) = header(p, v)?;
    Ok(1 + vbi_len(remaining) + remaining)
}

/// Writes the fixed header (`first`, Remaining Length) and then the body, with one `reserve`.
pub(super) fn framed(
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
    dst.reserve(1 + vbi_len(remaining) + remaining);
    dst.put_u8(first);
    put_remaining_length(dst, remaining);
    let start = dst.len();
    body(dst);
    debug_assert_eq!(dst.len() - start, remaining, "size mismatch");
    Ok(())
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
    if let Packet::Publish(p) = p {
        return publish(&PublishRef::from(p), Some(v), dst);
    }
    let (first, remaining) = header(p, v)?;
    framed(dst, first, remaining, |dst| body(p, v, dst))
}

fn put_remaining_length(dst: &mut BytesMut, len: usize) {
    encode_vbi(len as u32, dst);
}

/// Size of a length-prefixed string or binary field.
pub(super) fn field_len(data: &[u8]) -> Result<usize> {
    if data.len() > usize::from(u16::MAX) {
        return Err(invalid("string or binary field longer than 65,535 bytes"));
    }
    Ok(2 + data.len())
}

pub(super) fn nonzero(pkid: u16) -> Result<u16> {
    if pkid == 0 {
        return Err(invalid("packet identifier 0 [MQTT-2.3.1-1]"));
    }
    Ok(pkid)
}

/// Validates `p` (not a PUBLISH) for version `v` and returns its first byte and Remaining
/// Length.
fn header(p: &Packet, v: ProtocolVersion) -> Result<(u8, usize)> {
    let v5 = v == ProtocolVersion::V5;
    Ok(match p {
        Packet::Connect(c) => (0x10, connect_len(c)?),
        Packet::ConnAck(c) => {
            if v5 {
                match ReasonCode::from_u8(c.code) {
                    Some(rc) => allowed(rc, 2)?,
                    None => return Err(invalid("CONNACK code is not a 5.0 reason code")),
                }
                (0x20, 2 + props_len(c.properties.as_deref())?)
            } else {
                (0x20, 2)
            }
        }
        Packet::Publish(p) => {
            let (first, remaining, _) = publish_header(&PublishRef::from(p), v)?;
            (first, remaining)
        }
        Packet::PubAck(a) => (0x40, ack_len(a, 4, v5)?),
        Packet::PubRec(a) => (0x50, ack_len(a, 5, v5)?),
        Packet::PubRel(a) => (0x62, ack_len(a, 6, v5)?),
        Packet::PubComp(a) => (0x70, ack_len(a, 7, v5)?),
        Packet::Subscribe(s) => {
            nonzero(s.pkid)?;
            if s.filters.is_empty() {
                return Err(invalid("SUBSCRIBE without topic filters [MQTT-3.8.3-3]"));
            }
            let mut len = 2;
            if v5 {
                len += props_len(s.properties.as_deref())?;
            }
            for (filter, _) in &s.filters {
                len += field_len(filter.as_bytes())? + 1;
            }
            (0x82, len)
        }
        Packet::SubAck(s) => {
            nonzero(s.pkid)?;
            let mut len = 2 + s.return_codes.len();
            if v5 {
                for &c in &s.return_codes {
                    allowed(c, 9)?;
                }
                len += props_len(s.properties.as_deref())?;
            } else {
                for &c in &s.return_codes {
                    suback_v3(c)?;
                }
            }
            (0x90, len)
        }
        Packet::Unsubscribe(u) => {
            nonzero(u.pkid)?;
            if u.filters.is_empty() {
                return Err(invalid("UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]"));
            }
            let mut len = 2;
            if v5 {
                len += props_len(u.properties.as_deref())?;
            }
            for filter in &u.filters {
                len += field_len(filter.as_bytes())?;
            }
            (0xA2, len)
        }
        Packet::UnsubAck(u) => {
            nonzero(u.pkid)?;
            if v5 {
                for &c in &u.reason_codes {
                    allowed(c, 11)?;
                }
                let props = props_len(u.properties.as_deref())?;
                (0xB0, 2 + props + u.reason_codes.len())
            } else {
                (0xB0, 2)
            }
        }
        Packet::PingReq => (0xC0, 0),
        Packet::PingResp => (0xD0, 0),
        Packet::Disconnect(d) if v5 => {
            allowed(d.reason, 14)?;
            (0xE0, reason_and_props_len(d.reason, &d.properties, true)?)
        }
        Packet::Disconnect(_) => (0xE0, 0),
        Packet::Auth(a) if v5 => {
            allowed(a.reason, 15)?;
            (0xF0, reason_and_props_len(a.reason, &a.properties, false)?)
        }
        Packet::Auth(_) => return Err(invalid("AUTH does not exist before MQTT 5.0")),
    })
}

/// Acks of packet type `t`: 3.x is exactly a packet id; 5.0 adds the reason code unless it is
/// Success without properties, and the property block only if there are properties
/// (§3.4.2.1).
fn ack_len(a: &Ack, t: u8, v5: bool) -> Result<usize> {
    nonzero(a.pkid)?;
    if !v5 {
        return Ok(2);
    }
    allowed(a.reason, t)?;
    Ok(if has_props(&a.properties) {
        3 + props_len(a.properties.as_deref())?
    } else if a.reason != ReasonCode::Success {
        3
    } else {
        2
    })
}

fn connect_len(c: &Connect) -> Result<usize> {
    let v5 = c.protocol == ProtocolVersion::V5;
    if !v5 && c.password.is_some() && c.username.is_none() {
        return Err(invalid("password without user name [MQTT-3.1.2-22]"));
    }
    let mut len = 2 + c.protocol.name().len() + 1 + 1 + 2;
    if v5 {
        len += props_len(Some(&c.properties))?;
    }
    len += field_len(c.client_id.as_bytes())?;
    if let Some(w) = &c.will {
        len += field_len(w.topic.as_bytes())? + field_len(&w.payload)?;
        if v5 {
            len += props_len(Some(&w.properties))?;
        }
    }
    if let Some(u) = &c.username {
        len += field_len(u.as_bytes())?;
    }
    if let Some(p) = &c.password {
        len += field_len(p)?;
    }
    Ok(len)
}

pub(super) fn put_field(dst: &mut BytesMut, data: &[u8]) {
    // Length checked by `field_len` in `header`.
    dst.put_u16(data.len() as u16);
    dst.put_slice(data);
}

/// Writes the body of a packet that [`header`] validated for `v`.
fn body(p: &Packet, v: ProtocolVersion, dst: &mut BytesMut) {
    let v5 = v == ProtocolVersion::V5;
    match p {
        Packet::Connect(c) => connect(c, dst),
        Packet::ConnAck(c) => {
            // 3.1 has no session-present flag: that byte is reserved there.
            let flags = u8::from(c.session_present && v != ProtocolVersion::V31);
            dst.put_u8(flags);
            dst.put_u8(c.code);
            if v5 {
                put_props(c.properties.as_deref(), dst);
            }
        }
        // Encoded by `publish` (see `packet`).
        Packet::Publish(_) => unreachable!("PUBLISH goes through encode::publish"),
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            dst.put_u16(a.pkid);
            if v5 {
                let props = has_props(&a.properties);
                if props || a.reason != ReasonCode::Success {
                    dst.put_u8(a.reason.code());
                }
                if props {
                    put_props(a.properties.as_deref(), dst);
                }
            }
        }
        Packet::Subscribe(s) => {
            dst.put_u16(s.pkid);
            if v5 {
                put_props(s.properties.as_deref(), dst);
            }
            for (filter, options) in &s.filters {
                put_field(dst, filter.as_bytes());
                dst.put_u8(if v5 {
                    options.to_byte()
                } else {
                    options.qos as u8
                });
            }
        }
        Packet::SubAck(s) => {
            dst.put_u16(s.pkid);
            if v5 {
                put_props(s.properties.as_deref(), dst);
            }
            for &c in &s.return_codes {
                // Checked in `header`.
                dst.put_u8(if v5 {
                    c.code()
                } else {
                    suback_v3(c).unwrap_or(SUBACK_FAILURE)
                });
            }
        }
        Packet::Unsubscribe(u) => {
            dst.put_u16(u.pkid);
            if v5 {
                put_props(u.properties.as_deref(), dst);
            }
            for filter in &u.filters {
                put_field(dst, filter.as_bytes());
            }
        }
        Packet::UnsubAck(u) => {
            dst.put_u16(u.pkid);
            if v5 {
                put_props(u.properties.as_deref(), dst);
                for &c in &u.reason_codes {
                    dst.put_u8(c.code());
                }
            }
        }
        Packet::Disconnect(d) if v5 => put_reason_and_props(d.reason, &d.properties, true, dst),
        Packet::Auth(a) if v5 => put_reason_and_props(a.reason, &a.properties, false, dst),
        Packet::PingReq | Packet::PingResp | Packet::Disconnect(_) | Packet::Auth(_) => {}
    }
}

/// Mosquitto's bridge flag in the 3.x protocol level (see [`Connect::bridge`]).
pub(super) const BRIDGE_BIT: u8 = 0x80;

fn connect(c: &Connect, dst: &mut BytesMut) {
    let v5 = c.protocol == ProtocolVersion::V5;
    put_field(dst, c.protocol.name().as_bytes());
    let bridge = if c.bridge && c.protocol != ProtocolVersion::V5 {
        BRIDGE_BIT
    } else {
        0
    };
    dst.put_u8(c.protocol.level() | bridge);
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
    if v5 {
        put_props(Some(&c.properties), dst);
    }
    put_field(dst, c.client_id.as_bytes());
    if let Some(w) = &c.will {
        if v5 {
            put_props(Some(&w.properties), dst);
        }
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
