//! Decoding errors.
//!
//! One variant per class of malformation, so the connection can react to the class (answer
//! CONNACK 0x01 to an unsupported protocol level, close for anything else) and logs say which
//! rule a client broke. Each message starts with the spec statement it breaks: a normative
//! statement id (`[MQTT-x.y.z-n]`) where one exists, otherwise the section (`[§x.y.z]`) that
//! defines the rule. The variants shared by 3.x and 5.0 name the 3.1.1 statement (the ids are
//! the same in 5.0 for most of them); the 5.0-only variants name 5.0 statements and sections.
//! [`DecodeError::spec_id`] returns only normative ids, and [`DecodeError::reason_code`] is the
//! one place a decode error becomes a 5.0 reason code.

use super::properties::property_name;
use super::reason::ReasonCode;
use bytestring::ByteString;
use std::io;

fn name8(id: &u8) -> &'static str {
    property_name(u32::from(*id))
}

/// The statement of 5.0 that lists the reason codes a packet type may carry.
fn reason_code_statement(packet: &str) -> &'static str {
    match packet {
        "CONNACK" => "MQTT-3.2.2-8",
        "PUBACK" => "MQTT-3.4.2-1",
        "PUBREC" => "MQTT-3.5.2-1",
        "PUBREL" => "MQTT-3.6.2-1",
        "PUBCOMP" => "MQTT-3.7.2-1",
        "SUBACK" => "MQTT-3.9.3-2",
        "UNSUBACK" => "MQTT-3.11.3-2",
        "DISCONNECT" => "MQTT-3.14.2-1",
        _ => "MQTT-3.15.2-1",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Required by `tokio_util::codec::Decoder` (the framed reader's socket errors).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// The fixed header announces more than the configured `max_packet_size` (fixed header
    /// included). Raised before the body is buffered, so a hostile length cannot make us
    /// allocate.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge { size: u64, max: u32 },

    /// A CONNECT over `max_packet_size`, whose protocol level could be read from its first
    /// bytes, so that a 5.0 client can be answered with CONNACK 0x95 before the close.
    #[error("CONNECT (protocol level {level}) of {size} bytes exceeds the maximum packet size of {max} bytes")]
    ConnectTooLarge { size: u64, max: u32, level: u8 },

    /// The Remaining Length has a continuation bit on its 4th byte (more than 268,435,455).
    #[error("[§2.2.3] malformed remaining length: more than 4 bytes")]
    MalformedRemainingLength,

    /// Packet type 0 or 15 (15 is AUTH in 5.0 only).
    #[error("[§2.2.1] reserved packet type {packet_type}")]
    ReservedPacketType { packet_type: u8 },

    /// Fixed-header flags differ from the values the spec fixes for this packet type.
    #[error(
        "[MQTT-2.2.2-1] invalid fixed header flags {flags:#06b} for packet type {packet_type}"
    )]
    InvalidFlags { packet_type: u8, flags: u8 },

    #[error("[MQTT-3.1.2-1] invalid protocol name")]
    InvalidProtocolName,

    /// Known protocol name but a level this codec does not speak (or a name/level mismatch).
    /// The connection answers with a CONNACK refusal [MQTT-3.1.2-2]: 0x84 in the 5.0 form for
    /// a level above 5 ([`DecodeError::is_newer_than_5`]), 0x01 in the 3.1.1 form otherwise.
    /// `client_id` is the Client Identifier when the rest could be read (as 5.0 for a level
    /// above 5, as 3.1.1 otherwise), for the log.
    #[error("[MQTT-3.1.2-2] unsupported protocol level {level}")]
    UnsupportedProtocolLevel {
        level: u8,
        client_id: Option<ByteString>,
    },

    #[error("[MQTT-3.1.2-3] CONNECT reserved flag is set")]
    ConnectReservedFlag,

    #[error("[MQTT-3.1.2-13] will QoS is non-zero but the will flag is 0 (MQTT-3.1.2-11)")]
    WillQosWithoutWill,

    #[error("[MQTT-3.1.2-15] will retain is set but the will flag is 0 (MQTT-3.1.2-11)")]
    WillRetainWithoutWill,

    #[error("[MQTT-3.1.2-14] will QoS 3 is invalid")]
    InvalidWillQos,

    #[error("[MQTT-3.1.2-22] password flag set without the user name flag")]
    PasswordWithoutUsername,

    #[error("[MQTT-3.3.1-4] PUBLISH with QoS 3")]
    InvalidPublishQos,

    #[error("[MQTT-3.3.1-2] PUBLISH with DUP set and QoS 0")]
    DupWithQos0,

    #[error("[MQTT-2.3.1-1] {packet} with packet identifier 0")]
    ZeroPacketId { packet: &'static str },

    #[error("[MQTT-1.5.3-1] string is not well-formed UTF-8")]
    InvalidUtf8,

    #[error("[MQTT-1.5.3-2] string contains U+0000")]
    NullCharacter,

    #[error("[MQTT-3.8.3-3] SUBSCRIBE without any topic filter")]
    EmptySubscribe,

    /// Requested-QoS byte with reserved bits set or QoS 3. (The spec's id really is spelled
    /// "MQTT-3-8.3-4".)
    #[error("[MQTT-3-8.3-4] invalid subscription options byte {byte:#04x}")]
    InvalidSubscriptionOptions { byte: u8 },

    #[error("[MQTT-3.10.3-2] UNSUBSCRIBE without any topic filter")]
    EmptyUnsubscribe,

    /// A fixed-size packet (PINGREQ, CONNACK, the acks in 3.x, ...) with another length.
    #[error("[§2.2.3] {packet} must have remaining length {expected}, got {actual}")]
    InvalidRemainingLength {
        packet: &'static str,
        expected: u32,
        actual: u32,
    },

    /// A field runs past the end given by the Remaining Length.
    #[error("[§2.2.3] {packet} is shorter than its fields")]
    Truncated { packet: &'static str },

    /// Bytes left over after the last field where the spec allows none.
    #[error("[§2.2.3] {packet} has {extra} unexpected byte(s) after its last field")]
    TrailingBytes { packet: &'static str, extra: usize },

    #[error("[§3.2.2.1] CONNACK acknowledge flags have reserved bits set: {flags:#04x}")]
    InvalidConnAckFlags { flags: u8 },

    #[error("[§3.9.3] invalid SUBACK return code {code:#04x}")]
    InvalidSubAckReturnCode { code: u8 },

    /// A Variable Byte Integer inside a packet (a property length, a Subscription Identifier)
    /// with a continuation bit on its 4th byte.
    #[error("[§1.5.5] malformed Variable Byte Integer: more than 4 bytes")]
    MalformedVariableByteInteger,

    /// The Property Length runs past the end of the packet.
    #[error("[§2.2.2.1] {packet} property length runs past the end of the packet")]
    PropertiesTooLong { packet: &'static str },

    /// A property identifier this packet type does not allow, or an unknown one: a Malformed
    /// Packet (§2.2.2.2).
    #[error("[§2.2.2.2] property {id:#04x} ({}) is not allowed in {packet}", property_name(*.id))]
    PropertyNotAllowed { id: u32, packet: &'static str },

    /// A property that may appear once appears again: "It is a Protocol Error to include ...
    /// more than once" (each property's section of §3).
    #[error("[§2.2.2.2] {packet} carries {} ({id:#04x}) more than once", name8(.id))]
    DuplicateProperty { id: u8, packet: &'static str },

    /// A property value the spec calls a Protocol Error: Receive Maximum 0, Maximum Packet
    /// Size 0, Subscription Identifier 0, Maximum QoS other than 0 or 1, or a 0/1 flag byte
    /// with another value (Payload Format Indicator, Request Problem/Response Information,
    /// Retain/Wildcard/Subscription Identifier/Shared Subscription Available).
    #[error("[§2.2.2.2] {packet}: invalid value {value} for {}", name8(.id))]
    InvalidPropertyValue {
        id: u8,
        packet: &'static str,
        value: u32,
    },

    /// A Topic Alias of 0 [MQTT-3.3.2-8].
    #[error("[MQTT-3.3.2-8] PUBLISH with Topic Alias 0")]
    ZeroTopicAlias,

    /// A reason code that the packet type may not carry (or no packet may): each packet's
    /// sender "MUST use one of" its reason codes (§2.4; e.g. [MQTT-3.4.2-1] for PUBACK).
    #[error("[{}] reason code {code:#04x} is not allowed in {packet}", reason_code_statement(.packet))]
    InvalidReasonCode { code: u8, packet: &'static str },

    /// 5.0 subscription options with reserved bits 6-7 set [MQTT-3.8.3-5].
    #[error("[MQTT-3.8.3-5] subscription options byte {byte:#04x} has reserved bits set")]
    SubscriptionOptionsReservedBits { byte: u8 },

    /// 5.0 subscription options with Maximum QoS 3: a Protocol Error (§3.8.3.1).
    #[error("[§3.8.3.1] subscription options byte {byte:#04x} has QoS 3")]
    InvalidSubscriptionQos { byte: u8 },

    /// 5.0 subscription options with Retain Handling 3: a Protocol Error (§3.8.3.1).
    #[error("[§3.8.3.1] subscription options byte {byte:#04x} has Retain Handling 3")]
    InvalidRetainHandling { byte: u8 },
}

impl DecodeError {
    /// The normative statement of MQTT 3.1.1 this error breaks, e.g. `Some("MQTT-3.1.2-1")`;
    /// `None` for I/O errors, local limits and rules the spec states without an id.
    pub fn spec_id(&self) -> Option<&'static str> {
        use DecodeError::*;
        Some(match self {
            Io(_)
            | PacketTooLarge { .. }
            | ConnectTooLarge { .. }
            | MalformedRemainingLength
            | ReservedPacketType { .. }
            | InvalidRemainingLength { .. }
            | Truncated { .. }
            | TrailingBytes { .. }
            | InvalidConnAckFlags { .. }
            | InvalidSubAckReturnCode { .. }
            | MalformedVariableByteInteger
            | PropertiesTooLong { .. }
            | PropertyNotAllowed { .. }
            | DuplicateProperty { .. }
            | InvalidPropertyValue { .. }
            | InvalidSubscriptionQos { .. }
            | InvalidRetainHandling { .. } => return None,
            ZeroTopicAlias => "MQTT-3.3.2-8",
            InvalidReasonCode { packet, .. } => reason_code_statement(packet),
            SubscriptionOptionsReservedBits { .. } => "MQTT-3.8.3-5",
            InvalidFlags { .. } => "MQTT-2.2.2-1",
            InvalidProtocolName => "MQTT-3.1.2-1",
            UnsupportedProtocolLevel { .. } => "MQTT-3.1.2-2",
            ConnectReservedFlag => "MQTT-3.1.2-3",
            WillQosWithoutWill => "MQTT-3.1.2-13",
            WillRetainWithoutWill => "MQTT-3.1.2-15",
            InvalidWillQos => "MQTT-3.1.2-14",
            PasswordWithoutUsername => "MQTT-3.1.2-22",
            InvalidPublishQos => "MQTT-3.3.1-4",
            DupWithQos0 => "MQTT-3.3.1-2",
            ZeroPacketId { .. } => "MQTT-2.3.1-1",
            InvalidUtf8 => "MQTT-1.5.3-1",
            NullCharacter => "MQTT-1.5.3-2",
            EmptySubscribe => "MQTT-3.8.3-3",
            InvalidSubscriptionOptions { .. } => "MQTT-3-8.3-4",
            EmptyUnsubscribe => "MQTT-3.10.3-2",
        })
    }

    /// True for the one CONNECT error the server must answer (CONNACK 0x01 or 0x84) instead of
    /// just closing the connection [MQTT-3.1.2-2].
    pub fn is_unsupported_protocol_level(&self) -> bool {
        matches!(self, DecodeError::UnsupportedProtocolLevel { .. })
    }

    /// An unsupported protocol level above 5: the client speaks something newer than 5.0, so
    /// the refusal is a 5.0-form CONNACK with 0x84 (Unsupported Protocol Version); any other
    /// unsupported level gets the 3.1.1 form with 0x01.
    pub fn is_newer_than_5(&self) -> bool {
        matches!(self, DecodeError::UnsupportedProtocolLevel { level, .. } if *level > 5)
    }

    /// The 5.0 reason code for this error, for a CONNACK or DISCONNECT sent before closing:
    /// 0x95 Packet too large, 0x84 Unsupported Protocol Version, 0x82 Protocol Error for what
    /// the spec calls a Protocol Error (a duplicate or invalid property value, QoS 3 or Retain
    /// Handling 3 in subscription options, a SUBSCRIBE or UNSUBSCRIBE without topic filters
    /// [MQTT-3.8.3-2] [MQTT-3.10.3-2]), 0x80 Unspecified error for I/O errors, and 0x81
    /// Malformed Packet for everything else.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError::*;
        match self {
            Io(_) => ReasonCode::UnspecifiedError,
            PacketTooLarge { .. } | ConnectTooLarge { .. } => ReasonCode::PacketTooLarge,
            UnsupportedProtocolLevel { .. } => ReasonCode::UnsupportedProtocolVersion,
            DuplicateProperty { .. }
            | InvalidPropertyValue { .. }
            | ZeroTopicAlias
            | InvalidSubscriptionQos { .. }
            | InvalidRetainHandling { .. }
            | EmptySubscribe
            | EmptyUnsubscribe => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}
