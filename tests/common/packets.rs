//! Byte builders for MQTT 3.1/3.1.1 packets, independent of the broker's own codec, plus
//! `hex()`/`unhex()` for writing expectations as text.

/// Parse "10 0c 00 04" style hex (whitespace ignored) into bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits in {s:?}");
    digits
        .chunks(2)
        .map(|p| {
            u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16)
                .unwrap_or_else(|_| panic!("bad hex {s:?}"))
        })
        .collect()
}

/// Bytes as "10 0c 00 04".
pub fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The variable-length "remaining length" encoding.
pub fn encode_remaining_length(mut len: usize) -> Vec<u8> {
    assert!(len <= 268_435_455, "remaining length too large");
    let mut out = Vec::new();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return out;
        }
    }
}

/// Fixed header byte + remaining length + body.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(encode_remaining_length(body.len()));
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string / binary field.
pub fn mqtt_str(s: impl AsRef<[u8]>) -> Vec<u8> {
    let s = s.as_ref();
    let mut out = (s.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

#[derive(Clone, Debug)]
pub struct Will {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// CONNECT fields; every field public so a test can break any of them.
#[derive(Clone, Debug)]
pub struct Connect {
    pub protocol_name: Vec<u8>,
    pub level: u8,
    /// Raw client id bytes (may be invalid UTF-8 on purpose).
    pub client_id: Vec<u8>,
    pub clean_session: bool,
    pub keep_alive: u16,
    pub will: Option<Will>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// Set the reserved bit 0 of the connect flags (a protocol violation).
    pub reserved_flag: bool,
}

impl Connect {
    /// MQTT 3.1.1 ("MQTT", level 4), clean session, keep-alive 60.
    pub fn v311(client_id: &str) -> Self {
        Connect {
            protocol_name: b"MQTT".to_vec(),
            level: 4,
            client_id: client_id.as_bytes().to_vec(),
            clean_session: true,
            keep_alive: 60,
            will: None,
            username: None,
            password: None,
            reserved_flag: false,
        }
    }
    /// MQTT 3.1 ("MQIsdp", level 3).
    pub fn v31(client_id: &str) -> Self {
        Connect {
            protocol_name: b"MQIsdp".to_vec(),
            level: 3,
            ..Connect::v311(client_id)
        }
    }
    pub fn clean(mut self, clean: bool) -> Self {
        self.clean_session = clean;
        self
    }
    pub fn keep_alive(mut self, secs: u16) -> Self {
        self.keep_alive = secs;
        self
    }
    pub fn will(mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) -> Self {
        self.will = Some(Will {
            topic: topic.into(),
            payload: payload.to_vec(),
            qos,
            retain,
        });
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut flags = 0u8;
        if self.reserved_flag {
            flags |= 0x01;
        }
        if self.clean_session {
            flags |= 0x02;
        }
        if let Some(w) = &self.will {
            flags |= 0x04 | (w.qos << 3);
            if w.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        let mut body = mqtt_str(&self.protocol_name);
        body.push(self.level);
        body.push(flags);
        body.extend(self.keep_alive.to_be_bytes());
        body.extend(mqtt_str(&self.client_id));
        if let Some(w) = &self.will {
            body.extend(mqtt_str(&w.topic));
            body.extend(mqtt_str(&w.payload));
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

/// CONNECT 3.1.1 with the given client id and clean-session flag, keep-alive 60.
pub fn connect(client_id: &str, clean: bool) -> Vec<u8> {
    Connect::v311(client_id).clean(clean).to_bytes()
}

/// PUBLISH. `packet_id` is written only for QoS > 0.
pub fn publish(
    topic: impl AsRef<[u8]>,
    payload: &[u8],
    qos: u8,
    retain: bool,
    dup: bool,
    packet_id: u16,
) -> Vec<u8> {
    let first = 0x30 | ((dup as u8) << 3) | (qos << 1) | retain as u8;
    let mut body = mqtt_str(topic);
    if qos > 0 {
        body.extend(packet_id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    packet(first, &body)
}

/// SUBSCRIBE with (filter, requested QoS) pairs.
pub fn subscribe(packet_id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    for (f, q) in filters {
        body.extend(mqtt_str(f));
        body.push(*q);
    }
    packet(0x82, &body)
}

pub fn unsubscribe(packet_id: u16, filters: &[&str]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    for f in filters {
        body.extend(mqtt_str(f));
    }
    packet(0xa2, &body)
}

pub fn puback(id: u16) -> Vec<u8> {
    packet(0x40, &id.to_be_bytes())
}
pub fn pubrec(id: u16) -> Vec<u8> {
    packet(0x50, &id.to_be_bytes())
}
pub fn pubrel(id: u16) -> Vec<u8> {
    packet(0x62, &id.to_be_bytes())
}
pub fn pubcomp(id: u16) -> Vec<u8> {
    packet(0x70, &id.to_be_bytes())
}
pub fn pingreq() -> Vec<u8> {
    vec![0xc0, 0x00]
}
pub fn disconnect() -> Vec<u8> {
    vec![0xe0, 0x00]
}

/// CONNACK bytes for 3.1.1.
pub fn connack(session_present: bool, code: u8) -> Vec<u8> {
    vec![0x20, 0x02, session_present as u8, code]
}

/// SUBACK bytes.
pub fn suback(packet_id: u16, codes: &[u8]) -> Vec<u8> {
    let mut body = packet_id.to_be_bytes().to_vec();
    body.extend_from_slice(codes);
    packet(0x90, &body)
}

/// A PUBLISH as received: decoded from (first byte, body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: u8,
    pub retain: bool,
    pub topic: String,
    pub packet_id: Option<u16>,
    pub payload: Vec<u8>,
}

impl Publish {
    pub fn parse(first: u8, body: &[u8]) -> Option<Publish> {
        if first >> 4 != 3 || body.len() < 2 {
            return None;
        }
        let qos = (first >> 1) & 3;
        let tlen = u16::from_be_bytes([body[0], body[1]]) as usize;
        let topic = String::from_utf8(body.get(2..2 + tlen)?.to_vec()).ok()?;
        let mut rest = &body[2 + tlen..];
        let packet_id = if qos > 0 {
            let id = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
            rest = &rest[2..];
            Some(id)
        } else {
            None
        };
        Some(Publish {
            dup: first & 0x08 != 0,
            qos,
            retain: first & 1 != 0,
            topic,
            packet_id,
            payload: rest.to_vec(),
        })
    }
}

/// Frame one whole packet off the front of `buf` (fixed header + remaining length), leaving the
/// rest; None while the packet is incomplete. Shared by the TCP and WebSocket test clients.
pub fn split_packet(buf: &mut Vec<u8>) -> Option<(u8, Vec<u8>)> {
    let (mut len, mut mult, mut i) = (0usize, 1usize, 1usize);
    loop {
        let byte = *buf.get(i)?;
        len += (byte & 0x7f) as usize * mult;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
        mult *= 128;
        assert!(
            i <= 4,
            "malformed remaining length from broker: {}",
            hex(&buf[..i])
        );
    }
    if buf.len() < i + len {
        return None;
    }
    let packet = (buf[0], buf[i..i + len].to_vec());
    buf.drain(..i + len);
    Some(packet)
}
