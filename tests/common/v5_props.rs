//! MQTT 5.0 properties as raw bytes, written and read by hand for the tests (tests/common/v5.rs
//! builds the packets around them).

use super::packets::mqtt_str;

/// Property identifiers (MQTT 5.0 §2.2.2.2).
pub mod prop {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

pub fn vbi(mut v: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            return out;
        }
    }
}

/// One property, encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum P {
    Byte(u8, u8),
    U16(u8, u16),
    U32(u8, u32),
    Vbi(u8, u32),
    Str(u8, String),
    Bin(u8, Vec<u8>),
    Pair(String, String),
}

impl P {
    pub fn id(&self) -> u8 {
        match self {
            P::Byte(id, _)
            | P::U16(id, _)
            | P::U32(id, _)
            | P::Vbi(id, _)
            | P::Str(id, _)
            | P::Bin(id, _) => *id,
            P::Pair(..) => prop::USER_PROPERTY,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.id());
        match self {
            P::Byte(_, v) => out.push(*v),
            P::U16(_, v) => out.extend(v.to_be_bytes()),
            P::U32(_, v) => out.extend(v.to_be_bytes()),
            P::Vbi(_, v) => out.extend(vbi(*v as usize)),
            P::Str(_, s) => out.extend(mqtt_str(s)),
            P::Bin(_, b) => out.extend(mqtt_str(b)),
            P::Pair(k, v) => {
                out.extend(mqtt_str(k));
                out.extend(mqtt_str(v));
            }
        }
    }
}

/// A property block: its length as a Variable Byte Integer, then the properties.
pub fn props(ps: &[P]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in ps {
        p.encode(&mut body);
    }
    let mut out = vbi(body.len());
    out.extend(body);
    out
}

/// Parses a property block at the start of `buf`; returns the properties and the bytes read.
/// Panics on anything malformed: the broker must never write that.
pub fn parse_props(buf: &[u8]) -> (Vec<P>, usize) {
    let (len, mut i) = read_vbi(buf, 0);
    let end = i + len;
    let mut out = Vec::new();
    let u16_at = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
    let str_at = |i: usize| {
        let n = u16_at(i) as usize;
        (buf[i + 2..i + 2 + n].to_vec(), i + 2 + n)
    };
    while i < end {
        let id = buf[i];
        i += 1;
        let p = match id {
            0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => {
                i += 1;
                P::Byte(id, buf[i - 1])
            }
            0x13 | 0x21 | 0x22 | 0x23 => {
                i += 2;
                P::U16(id, u16_at(i - 2))
            }
            0x02 | 0x11 | 0x18 | 0x27 => {
                i += 4;
                P::U32(id, u32::from_be_bytes(buf[i - 4..i].try_into().unwrap()))
            }
            0x0B => {
                let (v, next) = read_vbi(buf, i);
                i = next;
                P::Vbi(id, v as u32)
            }
            0x03 | 0x08 | 0x12 | 0x15 | 0x1A | 0x1C | 0x1F => {
                let (s, next) = str_at(i);
                i = next;
                P::Str(id, String::from_utf8(s).expect("UTF-8 property"))
            }
            0x09 | 0x16 => {
                let (b, next) = str_at(i);
                i = next;
                P::Bin(id, b)
            }
            0x26 => {
                let (k, next) = str_at(i);
                let (v, next) = str_at(next);
                i = next;
                P::Pair(String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap())
            }
            other => panic!("unknown property id {other:#04x} from the broker"),
        };
        out.push(p);
    }
    assert_eq!(i, end, "property block overran its length");
    (out, end)
}

fn read_vbi(buf: &[u8], mut i: usize) -> (usize, usize) {
    let (mut v, mut mult) = (0usize, 1usize);
    loop {
        let b = buf[i];
        i += 1;
        v += (b & 0x7F) as usize * mult;
        if b & 0x80 == 0 {
            return (v, i);
        }
        mult *= 128;
    }
}

/// The first property with this id.
pub fn find(ps: &[P], id: u8) -> Option<&P> {
    ps.iter().find(|p| p.id() == id)
}
