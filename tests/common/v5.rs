//! MQTT 5.0 packets as raw bytes, built and parsed by hand (not with the broker's codec), so a
//! test can send anything and check exactly what the broker wrote.

use super::packets::{mqtt_str, packet};
pub use super::v5_props::*;

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

/// A raw client connected with `c`, whose CONNACK must accept it; the CONNACK.
pub fn connect5(addr: std::net::SocketAddr, c: &Connect5) -> (super::raw::RawClient, ConnAck5) {
    let mut cl = super::raw::RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    let ack = ConnAck5::parse(first, &body);
    assert_eq!(ack.reason, 0, "CONNACK refused: {ack:?}");
    (cl, ack)
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
