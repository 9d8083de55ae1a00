//! The MQTT packet model shared by every protocol version.
//!
//! One `Packet` enum serves MQTT 3.1 ("MQIsdp", level 3), 3.1.1 (level 4) and 5.0 (level 5).
//! Fields that only exist in 5.0 (properties, reason codes) stay at their defaults for 3.x
//! (`None` or empty properties, [`ReasonCode::Success`]) and are not written to a 3.x peer.
//!
//! Property blocks that are often absent and large are boxed (`Option<Box<_>>`, `None` when
//! empty), so they cost one pointer in the common case and `Packet` stays small (a size test
//! guards it).
//!
//! Strings are `ByteString` (UTF-8, cheap to clone: one `Bytes` refcount) and payloads are
//! `Bytes`. The decoder copies them out of the read buffer, so a retained or queued message never
//! pins a whole socket read buffer (see ARCHITECTURE.md, "Memory").

use super::error::DecodeError;
pub use super::properties::UserProperties;
pub use super::properties_connect::{ConnAckProperties, ConnectProperties, WillProperties};
pub use super::properties_types::{
    AckProperties, AuthProperties, DisconnectProperties, PublishProperties, SubscribeProperties,
    UnsubscribeProperties,
};
pub use super::reason::ReasonCode;
use bytes::Bytes;
use bytestring::ByteString;
use std::fmt;

/// Protocol version negotiated by CONNECT. Decides how the rest of a connection is coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ProtocolVersion {
    /// MQTT 3.1: protocol name "MQIsdp", level 3.
    V31,
    /// MQTT 3.1.1: protocol name "MQTT", level 4.
    #[default]
    V311,
    /// MQTT 5.0: protocol name "MQTT", level 5.
    V5,
}

impl ProtocolVersion {
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V31 => 3,
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ProtocolVersion::V31 => "MQIsdp",
            _ => "MQTT",
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V31 => "3.1",
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5.0",
        })
    }
}

/// Quality of service. Ordered, so `min` gives the delivered QoS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    #[default]
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    pub fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// The Will (Last Will and Testament) carried in CONNECT.
#[derive(Clone, PartialEq, Eq)]
pub struct LastWill {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// 5.0 only; empty for 3.x.
    pub properties: WillProperties,
}

impl fmt::Debug for LastWill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastWill")
            .field("topic", &self.topic)
            .field("payload_len", &self.payload.len())
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("properties", &self.properties)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Connect {
    pub protocol: ProtocolVersion,
    /// "Clean Session" in 3.x, "Clean Start" in 5.0.
    pub clean_start: bool,
    /// Seconds; 0 disables keep-alive.
    pub keep_alive: u16,
    /// May be empty (3.1.1 with clean session, or 5.0: the server assigns one).
    pub client_id: ByteString,
    pub will: Option<LastWill>,
    pub username: Option<ByteString>,
    pub password: Option<Bytes>,
    /// 5.0 only; empty for 3.x.
    pub properties: ConnectProperties,
    /// 3.1/3.1.1: bit 0x80 of the protocol level, Mosquitto's bridge flag (`try_private`): the
    /// client is a bridge, whose subscriptions are then No Local and Retain As Published, so
    /// what it publishes does not come back to it (loop prevention without 5.0).
    pub bridge: bool,
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the password.
        f.debug_struct("Connect")
            .field("protocol", &self.protocol)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("properties", &self.properties)
            .field("bridge", &self.bridge)
            .finish()
    }
}

/// CONNACK return codes of 3.x (the 5.0 reason codes are a superset with other numbers; the
/// encoder writes `code` as is; [`ReasonCode::to_v311_connack`] maps a 5.0 refusal to these).
pub mod connack {
    pub const ACCEPTED: u8 = 0x00;
    pub const UNACCEPTABLE_PROTOCOL_VERSION: u8 = 0x01;
    pub const IDENTIFIER_REJECTED: u8 = 0x02;
    pub const SERVER_UNAVAILABLE: u8 = 0x03;
    pub const BAD_USERNAME_OR_PASSWORD: u8 = 0x04;
    pub const NOT_AUTHORIZED: u8 = 0x05;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    /// 3.x return code (see [`connack`]) or 5.0 reason code (see [`ConnAck::reason`]).
    pub code: u8,
    /// 5.0 only; `None` for none (and always for 3.x).
    pub properties: Option<Box<ConnAckProperties>>,
}

impl ConnAck {
    /// `code` read as a 5.0 reason code; meaningful on a 5.0 connection only (the 3.x return
    /// codes 0x01..=0x05 are other numbers than the 5.0 codes). The decoder of a 5.0 CONNACK
    /// has checked that it is a CONNACK reason code.
    pub fn reason(&self) -> Option<ReasonCode> {
        ReasonCode::from_u8(self.code)
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Publish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: ByteString,
    /// Present iff `qos > 0` [MQTT-2.3.1-5].
    pub pkid: Option<u16>,
    pub payload: Bytes,
    /// 5.0 only; `None` for none (and always for 3.x).
    pub properties: Option<Box<PublishProperties>>,
}

impl fmt::Debug for Publish {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads are never printed: they may hold anything a user would not want in a log.
        f.debug_struct("Publish")
            .field("dup", &self.dup)
            .field("qos", &self.qos)
            .field("retain", &self.retain)
            .field("topic", &self.topic)
            .field("pkid", &self.pkid)
            .field("payload_len", &self.payload.len())
            .field("properties", &self.properties)
            .finish()
    }
}

/// PUBACK, PUBREC, PUBREL and PUBCOMP share this shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub pkid: u16,
    /// 5.0 reason code; always `Success` for 3.x (and omitted on the wire).
    pub reason: ReasonCode,
    /// 5.0 only; `None` for none.
    pub properties: Option<Box<AckProperties>>,
}

impl Ack {
    /// Only a packet id: success and no properties, so the id alone says everything (what
    /// the writer and the connection's ack batches carry instead of the packet).
    pub fn is_plain(&self) -> bool {
        self.reason == ReasonCode::Success && self.properties.is_none()
    }

    pub fn new(pkid: u16) -> Ack {
        Ack {
            pkid,
            reason: ReasonCode::Success,
            properties: None,
        }
    }
}

/// Subscription options of one filter. 3.x uses only `qos`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    pub qos: QoS,
    /// 5.0 only.
    pub no_local: bool,
    /// 5.0 only.
    pub retain_as_published: bool,
    /// 5.0 only: 0, 1 or 2.
    pub retain_handling: u8,
}

impl SubscriptionOptions {
    /// The 5.0 options byte (§3.8.3.1): QoS in bits 0-1, No Local bit 2, Retain As Published
    /// bit 3, Retain Handling bits 4-5. 3.x writes only the QoS bits.
    pub fn to_byte(self) -> u8 {
        self.qos as u8
            | u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | (self.retain_handling & 0b11) << 4
    }

    /// Reads a 5.0 options byte: reserved bits 6-7 set are malformed [MQTT-3.8.3-5]; QoS 3 and
    /// Retain Handling 3 are Protocol Errors (§3.8.3.1).
    pub fn from_byte(byte: u8) -> Result<SubscriptionOptions, DecodeError> {
        if byte & 0b1100_0000 != 0 {
            return Err(DecodeError::SubscriptionOptionsReservedBits { byte });
        }
        let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::InvalidSubscriptionQos { byte })?;
        let retain_handling = (byte >> 4) & 0b11;
        if retain_handling == 3 {
            return Err(DecodeError::InvalidRetainHandling { byte });
        }
        Ok(SubscriptionOptions {
            qos,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe {
    pub pkid: u16,
    /// At least one entry [MQTT-3.8.3-3].
    pub filters: Vec<(ByteString, SubscriptionOptions)>,
    /// 5.0 only; `None` for none.
    pub properties: Option<Box<SubscribeProperties>>,
}

/// SUBACK return code byte for a refused filter (3.1.1). 3.1 has no failure code.
pub const SUBACK_FAILURE: u8 = 0x80;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    pub pkid: u16,
    /// One per filter. 3.x has granted QoS 0..=2 (`Success`, `GrantedQos1`, `GrantedQos2`)
    /// and failure 0x80 (`UnspecifiedError`; every failure code is written as 0x80 to 3.x).
    pub return_codes: Vec<ReasonCode>,
    /// 5.0 only; `None` for none.
    pub properties: Option<Box<AckProperties>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe {
    pub pkid: u16,
    pub filters: Vec<ByteString>,
    /// 5.0 only; `None` for none.
    pub properties: Option<Box<UnsubscribeProperties>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck {
    pub pkid: u16,
    /// Empty for 3.x; one reason code per filter in 5.0.
    pub reason_codes: Vec<ReasonCode>,
    /// 5.0 only; `None` for none.
    pub properties: Option<Box<AckProperties>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// 5.0 reason code; `Success` ("Normal disconnection") for 3.x, which has none.
    pub reason: ReasonCode,
    /// 5.0 only; `None` for none.
    pub properties: Option<Box<DisconnectProperties>>,
}

/// AUTH (5.0 only, §3.15): extended authentication exchange.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Auth {
    pub reason: ReasonCode,
    /// `None` for none.
    pub properties: Option<Box<AuthProperties>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    Connect(Box<Connect>),
    ConnAck(ConnAck),
    Publish(Publish),
    PubAck(Ack),
    PubRec(Ack),
    PubRel(Ack),
    PubComp(Ack),
    Subscribe(Subscribe),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe),
    UnsubAck(UnsubAck),
    PingReq,
    PingResp,
    Disconnect(Disconnect),
    /// 5.0 only (type 15). Never produced for 3.x, where type 15 is reserved.
    Auth(Auth),
}

impl Packet {
    /// Name of the packet type, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }
}
