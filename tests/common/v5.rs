//! MQTT 5.0 packets as raw bytes, built and parsed by hand (not with the broker's codec), so a
//! test can send anything and check exactly what the broker wrote.

use super::packets::{mqtt_str, packet};

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

/// A Will: topic, payload, QoS, retain, will properties.
pub type Will5 = (String, Vec<u8>, u8, bool, Vec<P>);

/// An MQTT 5.0 CONNECT.
#[derive(Clone, Debug)]
pub struct Connect5 {
    pub client_id: String,
    pub clean_start: bool,
    pub keep_alive: u16,
    pub props: Vec<P>,
    pub will: Option<Will5>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

impl Connect5 {
    pub fn new(client_id: &str) -> Connect5 {
        Connect5 {
            client_id: client_id.into(),
            clean_start: true,
            keep_alive: 60,
            props: Vec::new(),
            will: None,
            username: None,
            password: None,
        }
    }
    pub fn clean(mut self, clean: bool) -> Self {
        self.clean_start = clean;
        self
    }
    pub fn keep_alive(mut self, secs: u16) -> Self {
        self.keep_alive = secs;
        self
    }
    pub fn prop(mut self, p: P) -> Self {
        self.props.push(p);
        self
    }
    pub fn session_expiry(self, secs: u32) -> Self {
        self.prop(P::U32(prop::SESSION_EXPIRY_INTERVAL, secs))
    }
    pub fn will(mut self, topic: &str, payload: &[u8], qos: u8, props: Vec<P>) -> Self {
        self.will = Some((topic.into(), payload.to_vec(), qos, false, props));
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut flags = u8::from(self.clean_start) << 1;
        if let Some((_, _, qos, retain, _)) = &self.will {
            flags |= 0x04 | qos << 3 | u8::from(*retain) << 5;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        let mut body = mqtt_str("MQTT");
        body.push(5);
        body.push(flags);
        body.extend(self.keep_alive.to_be_bytes());
        body.extend(props(&self.props));
        body.extend(mqtt_str(&self.client_id));
        if let Some((topic, payload, _, _, wprops)) = &self.will {
            body.extend(props(wprops));
            body.extend(mqtt_str(topic));
            body.extend(mqtt_str(payload));
        }
        if let Some(u) = &self.username {
            body.extend(mqtt_str(u));
        }
        if let Some(p) = &self.password {
            body.extend(mqtt_str(p));
        }
        packet(0x10, &body)
    }
}

/// A CONNACK of 5.0, parsed.
#[derive(Clone, Debug)]
pub struct ConnAck5 {
    pub session_present: bool,
    pub reason: u8,
    pub props: Vec<P>,
}

impl ConnAck5 {
    pub fn parse(first: u8, body: &[u8]) -> ConnAck5 {
        assert_eq!(first, 0x20, "expected CONNACK, got {first:#04x}");
        let (props, used) = parse_props(&body[2..]);
        assert_eq!(
            2 + used,
            body.len(),
            "CONNACK has bytes after its properties"
        );
        ConnAck5 {
            session_present: body[0] & 1 == 1,
            reason: body[1],
            props,
        }
    }
}

/// PUBLISH 5.0 (packet id only for QoS > 0).
pub fn publish5(
    topic: &str,
    payload: &[u8],
    qos: u8,
    retain: bool,
    pkid: u16,
    ps: &[P],
) -> Vec<u8> {
    let first = 0x30 | (qos << 1) | u8::from(retain);
    let mut body = mqtt_str(topic);
    if qos > 0 {
        body.extend(pkid.to_be_bytes());
    }
    body.extend(props(ps));
    body.extend_from_slice(payload);
    packet(first, &body)
}

/// A PUBLISH 5.0 as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish5 {
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub topic: String,
    pub pkid: Option<u16>,
    pub props: Vec<P>,
    pub payload: Vec<u8>,
}

impl Publish5 {
    pub fn parse(first: u8, body: &[u8]) -> Publish5 {
        assert_eq!(first >> 4, 3, "expected PUBLISH, got {first:#04x}");
        let qos = (first >> 1) & 3;
        let tlen = u16::from_be_bytes([body[0], body[1]]) as usize;
        let topic = String::from_utf8(body[2..2 + tlen].to_vec()).unwrap();
        let mut i = 2 + tlen;
        let pkid = (qos > 0).then(|| {
            i += 2;
            u16::from_be_bytes([body[i - 2], body[i - 1]])
        });
        let (props, used) = parse_props(&body[i..]);
        Publish5 {
            qos,
            retain: first & 1 == 1,
            dup: first & 8 == 8,
            topic,
            pkid,
            props,
            payload: body[i + used..].to_vec(),
        }
    }
}

/// SUBSCRIBE 5.0 with (filter, options byte) pairs and properties.
pub fn subscribe5(pkid: u16, filters: &[(&str, u8)], ps: &[P]) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    body.extend(props(ps));
    for (f, o) in filters {
        body.extend(mqtt_str(f));
        body.push(*o);
    }
    packet(0x82, &body)
}

pub fn unsubscribe5(pkid: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = pkid.to_be_bytes().to_vec();
    body.push(0);
    for f in filters {
        body.extend(mqtt_str(f));
    }
    packet(0xA2, &body)
}

/// An ack of 5.0 (PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70, SUBACK 0x90, UNSUBACK
/// 0xB0) as received: packet id, reason code(s), properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack5 {
    pub first: u8,
    pub pkid: u16,
    /// One for PUBACK-family packets (0 when the short form was used), one per filter for
    /// SUBACK and UNSUBACK.
    pub reasons: Vec<u8>,
    pub props: Vec<P>,
}

impl Ack5 {
    pub fn parse(first: u8, body: &[u8]) -> Ack5 {
        let pkid = u16::from_be_bytes([body[0], body[1]]);
        let many = matches!(first, 0x90 | 0xB0);
        if !many && body.len() == 2 {
            return Ack5 {
                first,
                pkid,
                reasons: vec![0],
                props: Vec::new(),
            };
        }
        if many {
            let (props, used) = parse_props(&body[2..]);
            return Ack5 {
                first,
                pkid,
                reasons: body[2 + used..].to_vec(),
                props,
            };
        }
        let (props, used) = if body.len() > 3 {
            parse_props(&body[3..])
        } else {
            (Vec::new(), 0)
        };
        assert_eq!(3 + used, body.len().max(3));
        Ack5 {
            first,
            pkid,
            reasons: vec![body[2]],
            props,
        }
    }
}

/// DISCONNECT 5.0 with a reason code and properties.
pub fn disconnect5(reason: u8, ps: &[P]) -> Vec<u8> {
    let mut body = vec![reason];
    body.extend(props(ps));
    packet(0xE0, &body)
}

/// A DISCONNECT as received: (reason code, properties).
pub fn parse_disconnect(first: u8, body: &[u8]) -> (u8, Vec<P>) {
    assert_eq!(first, 0xE0, "expected DISCONNECT, got {first:#04x}");
    match body.len() {
        0 => (0, Vec::new()),
        1 => (body[0], Vec::new()),
        _ => (body[0], parse_props(&body[1..]).0),
    }
}
