//! Decoding errors.
//!
//! One variant per class of malformation, so the connection can react to the class (answer
//! CONNACK 0x01 to an unsupported protocol level, close for anything else) and logs say which
//! rule a client broke. Each message starts with the spec statement it breaks: a normative
//! statement id of MQTT 3.1.1 (`[MQTT-x.y.z-n]`) where one exists, otherwise the section
//! (`[§x.y.z]`) that defines the rule. [`DecodeError::spec_id`] returns only normative ids.

use std::io;

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
    /// The connection answers CONNACK 0x01 ("unacceptable protocol version").
    #[error("[MQTT-3.1.2-2] unsupported protocol level {level}")]
    UnsupportedProtocolLevel { level: u8 },

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
}

impl DecodeError {
    /// The normative statement of MQTT 3.1.1 this error breaks, e.g. `Some("MQTT-3.1.2-1")`;
    /// `None` for I/O errors, local limits and rules the spec states without an id.
    pub fn spec_id(&self) -> Option<&'static str> {
        use DecodeError::*;
        Some(match self {
            Io(_)
            | PacketTooLarge { .. }
            | MalformedRemainingLength
            | ReservedPacketType { .. }
            | InvalidRemainingLength { .. }
            | Truncated { .. }
            | TrailingBytes { .. }
            | InvalidConnAckFlags { .. }
            | InvalidSubAckReturnCode { .. } => return None,
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

    /// True for the one CONNECT error the server must answer (CONNACK 0x01) instead of just
    /// closing the connection [MQTT-3.1.2-2].
    pub fn is_unsupported_protocol_level(&self) -> bool {
        matches!(self, DecodeError::UnsupportedProtocolLevel { .. })
    }
}
