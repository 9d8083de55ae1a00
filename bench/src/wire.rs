//! A minimal MQTT 3.1.1 and 5.0 wire format: just what the load generator sends and reads.
//!
//! Deliberately not the broker's codec: the generator must stay much cheaper than the broker it
//! measures, so frames are parsed in place (no copies, no allocation per packet) and only the
//! fields the generator needs are read. The version is settled once, not per packet: PUBLISH
//! frames are encoded from a [`PublishTemplate`] built per publisher (fixed header, topic and,
//! in 5.0, the property block laid out in advance), and the 5.0-only reads are behind a const
//! generic `V5` so the 3.1.1 path compiles to what it was.

use bytes::{BufMut, BytesMut};

pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBACK: u8 = 9;
pub const DISCONNECT: u8 = 14;

/// 5.0 property identifiers the generator writes or looks for [MQTT-2.2.2.2].
const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
const RECEIVE_MAXIMUM: u8 = 0x21;
const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
const MAXIMUM_QOS: u8 = 0x24;
const USER_PROPERTY: u8 = 0x26;

fn put_len(buf: &mut BytesMut, mut len: usize) {
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        buf.put_u8(b);
        if len == 0 {
            break;
        }
    }
}

fn put_str(buf: &mut BytesMut, s: &[u8]) {
    buf.put_u16(s.len() as u16);
    buf.put_slice(s);
}

/// A Variable Byte Integer at the start of `b`: (value, bytes), or `None` if malformed or cut.
pub fn get_len(b: &[u8]) -> Option<(usize, usize)> {
    let mut v = 0usize;
    for (i, &x) in b.iter().take(4).enumerate() {
        v |= ((x & 0x7f) as usize) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// CONNECT. `session_expiry` is for 5.0 only (`None` = 3.1.1, protocol level 4); 3.1.1's clean
/// session 0 maps to Clean Start 0 with a Session Expiry Interval, so the session outlives the
/// connection; 5.0 with `Some(0)` writes an empty property block (the session ends with the
/// connection, as clean session 1 does).
pub fn connect(
    buf: &mut BytesMut,
    client_id: &str,
    clean: bool,
    keep_alive: u16,
    session_expiry: Option<u32>,
    topic_alias_max: u16,
    credentials: Option<(&str, &str)>,
) {
    // 5.0: the property block (Session Expiry Interval when not 0, Topic Alias Maximum when
    // not 0), its length first.
    let mut props = Vec::new();
    if let Some(s) = session_expiry {
        if s > 0 {
            props.push(SESSION_EXPIRY_INTERVAL);
            props.extend(s.to_be_bytes());
        }
        if topic_alias_max > 0 {
            props.push(TOPIC_ALIAS_MAXIMUM);
            props.extend(topic_alias_max.to_be_bytes());
        }
        props.insert(0, props.len() as u8);
    }
    let creds_len = credentials.map_or(0, |(u, p)| 4 + u.len() + p.len());
    buf.put_u8(0x10);
    put_len(buf, 10 + props.len() + 2 + client_id.len() + creds_len);
    put_str(buf, b"MQTT");
    buf.put_u8(if session_expiry.is_some() { 5 } else { 4 });
    let flags = if clean { 0x02 } else { 0x00 } | if credentials.is_some() { 0xC0 } else { 0 };
    buf.put_u8(flags);
    buf.put_u16(keep_alive);
    buf.put_slice(&props);
    put_str(buf, client_id.as_bytes());
    if let Some((user, password)) = credentials {
        put_str(buf, user.as_bytes());
        put_str(buf, password.as_bytes());
    }
}

/// SUBSCRIBE; `v5` adds the (empty) property block. The options byte carries the QoS only:
/// in 5.0 that is No Local 0, Retain As Published 0, Retain Handling 0, as 3.1.1 behaves.
pub fn subscribe(buf: &mut BytesMut, pkid: u16, filters: &[(&str, u8)], v5: bool) {
    let props = usize::from(v5);
    let len = 2 + props + filters.iter().map(|(f, _)| 3 + f.len()).sum::<usize>();
    buf.put_u8(0x82);
    put_len(buf, len);
    buf.put_u16(pkid);
    if v5 {
        buf.put_u8(0);
    }
    for (f, qos) in filters {
        put_str(buf, f.as_bytes());
        buf.put_u8(*qos);
    }
}

/// The PUBLISH property block for 5.0: its length, then `n` small User Properties
/// (`u<i>` = `v<i>`). `None` for 3.1.1 (no block at all).
pub fn publish_properties(v5: bool, user_properties: usize) -> Option<Vec<u8>> {
    if !v5 {
        return None;
    }
    let mut p = BytesMut::new();
    for i in 0..user_properties {
        p.put_u8(USER_PROPERTY);
        put_str(&mut p, format!("u{i}").as_bytes());
        put_str(&mut p, format!("v{i}").as_bytes());
    }
    let mut block = BytesMut::with_capacity(4 + p.len());
    put_len(&mut block, p.len());
    block.put_slice(&p);
    Some(block.to_vec())
}

/// A PUBLISH to one topic with a fixed payload length, laid out once: fixed header, remaining
/// length, topic, packet id slot and property block (5.0). Each message is then one copy of the
/// prefix, the packet id written in place, and the payload.
pub struct PublishTemplate {
    prefix: Vec<u8>,
    /// Offset of the packet id in `prefix` (QoS 1/2).
    pkid_at: Option<usize>,
    payload_len: usize,
}

impl PublishTemplate {
    /// `props`: the 5.0 property block (length included), `None` for 3.1.1.
    pub fn new(
        topic: &str,
        qos: u8,
        retain: bool,
        props: Option<&[u8]>,
        payload_len: usize,
    ) -> PublishTemplate {
        let props = props.unwrap_or(&[]);
        let id_len = if qos > 0 { 2 } else { 0 };
        let len = 2 + topic.len() + id_len + props.len() + payload_len;
        let mut b = BytesMut::with_capacity(5 + len - payload_len);
        b.put_u8(0x30 | (qos << 1) | u8::from(retain));
        put_len(&mut b, len);
        put_str(&mut b, topic.as_bytes());
        let pkid_at = (qos > 0).then_some(b.len());
        b.put_slice(&[0; 2][..id_len]);
        b.put_slice(props);
        PublishTemplate {
            prefix: b.to_vec(),
            pkid_at,
            payload_len,
        }
    }

    #[inline]
    pub fn put(&self, buf: &mut BytesMut, pkid: u16, payload: &[u8]) {
        debug_assert_eq!(payload.len(), self.payload_len);
        buf.reserve(self.prefix.len() + payload.len());
        let start = buf.len();
        buf.put_slice(&self.prefix);
        if let Some(at) = self.pkid_at {
            buf[start + at..start + at + 2].copy_from_slice(&pkid.to_be_bytes());
        }
        buf.put_slice(payload);
    }
}

/// One PUBLISH with its own topic and payload length (set-up and the retained burst; the
/// steady-state publishers use a [`PublishTemplate`]).
pub fn publish(
    buf: &mut BytesMut,
    topic: &str,
    qos: u8,
    retain: bool,
    pkid: u16,
    props: Option<&[u8]>,
    payload: &[u8],
) {
    let props = props.unwrap_or(&[]);
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + props.len() + payload.len();
    buf.reserve(len + 5);
    buf.put_u8(0x30 | (qos << 1) | u8::from(retain));
    put_len(buf, len);
    put_str(buf, topic.as_bytes());
    if qos > 0 {
        buf.put_u16(pkid);
    }
    buf.put_slice(props);
    buf.put_slice(payload);
}

/// PUBACK, PUBREC, PUBREL (flags 0b0010 added here) or PUBCOMP. The 2-byte form is also
/// 5.0's short form (reason code 0x00 Success, no properties) [MQTT-3.4.2.1].
pub fn ack(buf: &mut BytesMut, kind: u8, pkid: u16) {
    let flags = if kind == PUBREL { 0x02 } else { 0 };
    buf.put_u8(kind << 4 | flags);
    buf.put_u8(2);
    buf.put_u16(pkid);
}

/// DISCONNECT; with no body it is 5.0's reason code 0x00 Normal disconnection too.
pub fn disconnect(buf: &mut BytesMut) {
    buf.put_slice(&[0xE0, 0x00]);
}

/// One packet, borrowed from the read buffer.
pub struct Frame<'a> {
    pub kind: u8,
    pub flags: u8,
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// Packet id of an ack (and of SUBACK).
    pub fn pkid(&self) -> u16 {
        u16::from_be_bytes([self.body[0], self.body[1]])
    }

    pub fn qos(&self) -> u8 {
        (self.flags >> 1) & 3
    }

    /// (packet id, payload) of a PUBLISH; `V5` skips the property block after the packet id.
    /// `None` if the frame is too short for what it declares.
    #[inline]
    pub fn publish<const V5: bool>(&self) -> Option<(u16, &[u8])> {
        let tlen = u16::from_be_bytes([*self.body.first()?, *self.body.get(1)?]) as usize;
        let mut at = 2 + tlen;
        let mut pkid = 0;
        if self.qos() > 0 {
            pkid = u16::from_be_bytes([*self.body.get(at)?, *self.body.get(at + 1)?]);
            at += 2;
        }
        if V5 {
            let (plen, n) = get_len(self.body.get(at..)?)?;
            at += n + plen;
        }
        Some((pkid, self.body.get(at..)?))
    }

    /// 5.0 reason code of a PUBACK, PUBREC, PUBREL, PUBCOMP or DISCONNECT: 0x00 (Success,
    /// Normal disconnection) when the short form leaves it out.
    #[inline]
    pub fn ack_reason(&self) -> u8 {
        let at = if self.kind == DISCONNECT { 0 } else { 2 };
        self.body.get(at).copied().unwrap_or(0)
    }

    /// The reason codes (return codes in 3.1.1) of a SUBACK or UNSUBACK: after the packet id
    /// and, in 5.0, the property block.
    pub fn suback_codes(&self, v5: bool) -> &[u8] {
        let mut at = 2;
        if v5 {
            match self.body.get(at..).and_then(get_len) {
                Some((plen, n)) => at += n + plen,
                None => return &[0x80],
            }
        }
        self.body.get(at..).unwrap_or(&[0x80])
    }
}

/// What a 5.0 CONNACK's properties say the client must respect: the broker's Receive Maximum
/// (QoS 1/2 publishes it accepts unacknowledged, 65,535 when absent) and Maximum QoS (2 when
/// absent). `body` is the CONNACK's variable header (flags, reason code, properties).
pub fn connack_limits(body: &[u8]) -> (u16, u8) {
    let (mut receive_max, mut max_qos) = (u16::MAX, 2);
    let Some((plen, n)) = body.get(2..).and_then(get_len) else {
        return (receive_max, max_qos);
    };
    let rest = body.get(2 + n..).unwrap_or(&[]);
    let mut p = &rest[..plen.min(rest.len())];
    while let Some((&id, rest)) = p.split_first() {
        // Value length by property type [MQTT-2.2.2.2]; stop at anything unknown.
        let vlen = match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => 1,
            0x13 | 0x21 | 0x22 | 0x23 => 2,
            0x02 | 0x11 | 0x18 | 0x27 => 4,
            0x0B => get_len(rest).map_or(usize::MAX, |(_, n)| n),
            0x03 | 0x08 | 0x09 | 0x12 | 0x15 | 0x16 | 0x1A | 0x1C | 0x1F => {
                rest.get(..2).map_or(usize::MAX, |l| {
                    2 + u16::from_be_bytes([l[0], l[1]]) as usize
                })
            }
            USER_PROPERTY => rest.get(..2).map_or(usize::MAX, |l| {
                let k = 2 + u16::from_be_bytes([l[0], l[1]]) as usize;
                rest.get(k..k + 2).map_or(usize::MAX, |v| {
                    k + 2 + u16::from_be_bytes([v[0], v[1]]) as usize
                })
            }),
            _ => usize::MAX,
        };
        let Some(v) = rest.get(..vlen) else { break };
        match id {
            RECEIVE_MAXIMUM => receive_max = u16::from_be_bytes([v[0], v[1]]),
            MAXIMUM_QOS => max_qos = v[0],
            _ => {}
        }
        p = &rest[vlen..];
    }
    (receive_max, max_qos)
}

/// Parse one frame at the start of `buf`: the frame and its total length, or `None` if
/// incomplete.
pub fn parse(buf: &[u8]) -> Option<(Frame<'_>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let (mut len, mut mult, mut i) = (0usize, 1usize, 1usize);
    loop {
        let b = *buf.get(i)?;
        len += (b & 0x7f) as usize * mult;
        mult *= 128;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        if i > 4 {
            return None;
        }
    }
    let total = i + len;
    if buf.len() < total {
        return None;
    }
    let frame = Frame {
        kind: buf[0] >> 4,
        flags: buf[0] & 0x0f,
        body: &buf[i..total],
    };
    Some((frame, total))
}

/// The generator's payload header: publisher index, sequence number, send time in ns since the
/// run's clock base. The rest of the payload is padding.
pub const HEADER_LEN: usize = 20;

pub fn stamp(payload: &mut [u8], publisher: u32, seq: u64, t_ns: u64) {
    payload[0..4].copy_from_slice(&publisher.to_be_bytes());
    payload[4..12].copy_from_slice(&seq.to_be_bytes());
    payload[12..20].copy_from_slice(&t_ns.to_be_bytes());
}

pub fn read_stamp(payload: &[u8]) -> Option<(u32, u64, u64)> {
    if payload.len() < HEADER_LEN {
        return None;
    }
    let p = u32::from_be_bytes(payload[0..4].try_into().ok()?);
    let s = u64::from_be_bytes(payload[4..12].try_into().ok()?);
    let t = u64::from_be_bytes(payload[12..20].try_into().ok()?);
    Some((p, s, t))
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
