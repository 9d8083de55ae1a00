//! A minimal MQTT 3.1.1 wire format: just what the load generator sends and reads.
//!
//! Deliberately not the broker's codec: the generator must stay much cheaper than the broker it
//! measures, so frames are parsed in place (no copies, no allocation per packet) and only the
//! fields the generator needs are read.

use bytes::{BufMut, BytesMut};

pub const CONNACK: u8 = 2;
pub const PUBLISH: u8 = 3;
pub const PUBACK: u8 = 4;
pub const PUBREC: u8 = 5;
pub const PUBREL: u8 = 6;
pub const PUBCOMP: u8 = 7;
pub const SUBACK: u8 = 9;

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

pub fn connect(buf: &mut BytesMut, client_id: &str, clean: bool, keep_alive: u16) {
    buf.put_u8(0x10);
    put_len(buf, 10 + 2 + client_id.len());
    put_str(buf, b"MQTT");
    buf.put_u8(4);
    buf.put_u8(if clean { 0x02 } else { 0x00 });
    buf.put_u16(keep_alive);
    put_str(buf, client_id.as_bytes());
}

pub fn subscribe(buf: &mut BytesMut, pkid: u16, filters: &[(&str, u8)]) {
    let len = 2 + filters.iter().map(|(f, _)| 3 + f.len()).sum::<usize>();
    buf.put_u8(0x82);
    put_len(buf, len);
    buf.put_u16(pkid);
    for (f, qos) in filters {
        put_str(buf, f.as_bytes());
        buf.put_u8(*qos);
    }
}

pub fn publish(buf: &mut BytesMut, topic: &str, qos: u8, retain: bool, pkid: u16, payload: &[u8]) {
    let len = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + payload.len();
    buf.reserve(len + 5);
    buf.put_u8(0x30 | (qos << 1) | u8::from(retain));
    put_len(buf, len);
    put_str(buf, topic.as_bytes());
    if qos > 0 {
        buf.put_u16(pkid);
    }
    buf.put_slice(payload);
}

/// PUBACK, PUBREC, PUBREL (flags 0b0010 added here) or PUBCOMP.
pub fn ack(buf: &mut BytesMut, kind: u8, pkid: u16) {
    let flags = if kind == PUBREL { 0x02 } else { 0 };
    buf.put_u8(kind << 4 | flags);
    buf.put_u8(2);
    buf.put_u16(pkid);
}

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

    /// (packet id, payload) of a PUBLISH.
    pub fn publish(&self) -> (u16, &[u8]) {
        let tlen = u16::from_be_bytes([self.body[0], self.body[1]]) as usize;
        let mut at = 2 + tlen;
        let mut pkid = 0;
        if self.qos() > 0 {
            pkid = u16::from_be_bytes([self.body[at], self.body[at + 1]]);
            at += 2;
        }
        (pkid, &self.body[at..])
    }
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
mod tests {
    use super::*;

    #[test]
    fn publish_round_trips_through_parse() {
        let mut buf = BytesMut::new();
        let mut payload = vec![0u8; 300];
        stamp(&mut payload, 7, 42, 99);
        publish(&mut buf, "a/b", 1, false, 513, &payload);
        ack(&mut buf, PUBREL, 9);
        let (f, n) = parse(&buf).unwrap();
        assert_eq!((f.kind, f.qos()), (PUBLISH, 1));
        let (pkid, body) = f.publish();
        assert_eq!(pkid, 513);
        assert_eq!(read_stamp(body), Some((7, 42, 99)));
        let (f, m) = parse(&buf[n..]).unwrap();
        assert_eq!(
            (f.kind, f.flags, f.pkid(), n + m),
            (PUBREL, 2, 9, buf.len())
        );
        assert!(parse(&buf[..n - 1]).is_none());
    }
}
