//! MQTT 5.0 properties (§2.2.2): the Variable Byte Integer (§1.5.5) and the property
//! identifiers. The typed property blocks are in `properties_types.rs` and
//! `properties_connect.rs` (re-exported from `packet`), the decoding and encoding machinery
//! they share in `properties_io.rs`.
//!
//! A property block is a Variable Byte Integer length followed by that many bytes of
//! `(identifier, value)` pairs. Each packet type allows some identifiers (§2.2.2.2, Table 2-4);
//! any other one, or an unknown one, makes the packet malformed. Most properties may appear
//! once: a second copy is a Protocol Error (the sections of §3 say so property by property:
//! "It is a Protocol Error to include ... more than once").

use super::error::DecodeError;
use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

type Result<T> = std::result::Result<T, DecodeError>;

/// User Property pairs (0x26), in the order received; a name may repeat (§3.1.2.11.8).
pub type UserProperties = Vec<(ByteString, ByteString)>;

/// Largest value of a Variable Byte Integer: four bytes of seven bits (§1.5.5).
pub const MAX_VBI: u32 = 268_435_455;

/// Property identifiers (§2.2.2.2, Table 2-4).
pub mod id {
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
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The spec's name of a property, for errors and logs.
pub fn property_name(id: u32) -> &'static str {
    let Ok(id) = u8::try_from(id) else {
        return "unknown property";
    };
    match id {
        id::PAYLOAD_FORMAT_INDICATOR => "Payload Format Indicator",
        id::MESSAGE_EXPIRY_INTERVAL => "Message Expiry Interval",
        id::CONTENT_TYPE => "Content Type",
        id::RESPONSE_TOPIC => "Response Topic",
        id::CORRELATION_DATA => "Correlation Data",
        id::SUBSCRIPTION_IDENTIFIER => "Subscription Identifier",
        id::SESSION_EXPIRY_INTERVAL => "Session Expiry Interval",
        id::ASSIGNED_CLIENT_IDENTIFIER => "Assigned Client Identifier",
        id::SERVER_KEEP_ALIVE => "Server Keep Alive",
        id::AUTHENTICATION_METHOD => "Authentication Method",
        id::AUTHENTICATION_DATA => "Authentication Data",
        id::REQUEST_PROBLEM_INFORMATION => "Request Problem Information",
        id::WILL_DELAY_INTERVAL => "Will Delay Interval",
        id::REQUEST_RESPONSE_INFORMATION => "Request Response Information",
        id::RESPONSE_INFORMATION => "Response Information",
        id::SERVER_REFERENCE => "Server Reference",
        id::REASON_STRING => "Reason String",
        id::RECEIVE_MAXIMUM => "Receive Maximum",
        id::TOPIC_ALIAS_MAXIMUM => "Topic Alias Maximum",
        id::TOPIC_ALIAS => "Topic Alias",
        id::MAXIMUM_QOS => "Maximum QoS",
        id::RETAIN_AVAILABLE => "Retain Available",
        id::USER_PROPERTY => "User Property",
        id::MAXIMUM_PACKET_SIZE => "Maximum Packet Size",
        id::WILDCARD_SUBSCRIPTION_AVAILABLE => "Wildcard Subscription Available",
        id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => "Subscription Identifier Available",
        id::SHARED_SUBSCRIPTION_AVAILABLE => "Shared Subscription Available",
        _ => "unknown property",
    }
}

/// Reads a Variable Byte Integer from the start of `buf`: `Ok(None)` if `buf` ends before its
/// last byte, otherwise the value and the number of bytes it took. A continuation bit on the
/// 4th byte is an error [§1.5.5]; a non-minimal encoding (e.g. `80 00` for 0) is accepted.
pub fn decode_vbi(buf: &[u8]) -> Result<Option<(u32, usize)>> {
    let mut value = 0u32;
    for i in 0..4 {
        let Some(&byte) = buf.get(i) else {
            return Ok(None);
        };
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Err(DecodeError::MalformedVariableByteInteger)
}

/// Bytes of the Variable Byte Integer encoding of `value` (1 to 4; `value` ≤ [`MAX_VBI`]).
pub const fn vbi_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Writes `value` (≤ [`MAX_VBI`]) as a Variable Byte Integer, in the fewest bytes.
pub fn encode_vbi(value: u32, dst: &mut BytesMut) {
    debug_assert!(value <= MAX_VBI);
    let mut v = value;
    loop {
        let mut byte = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            byte |= 0x80;
        }
        dst.put_u8(byte);
        if v == 0 {
            break;
        }
    }
}
