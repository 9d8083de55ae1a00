//! MQTT 5.0 reason codes (§2.4): one enum for the whole table.
//!
//! A reason code is one byte; values of 0x80 or more are failures. Each code may only appear in
//! some packet types (the table's "Packets" column, and each packet's own list: CONNACK
//! [MQTT-3.2.2-8], PUBACK [MQTT-3.4.2-1], PUBREC [MQTT-3.5.2-1], PUBREL [MQTT-3.6.2-1], PUBCOMP
//! [MQTT-3.7.2-1], SUBACK [MQTT-3.9.3-2], UNSUBACK [MQTT-3.11.3-2], DISCONNECT [MQTT-3.14.2-1],
//! AUTH [MQTT-3.15.2-1]); [`ReasonCode::allowed_in`] answers that for the decoder and encoder.

use std::fmt;

// Bits of `ReasonCode::packets`, one per packet type number.
const CONNACK: u16 = 1 << 2;
const PUBACK: u16 = 1 << 4;
const PUBREC: u16 = 1 << 5;
const PUBREL: u16 = 1 << 6;
const PUBCOMP: u16 = 1 << 7;
const SUBACK: u16 = 1 << 9;
const UNSUBACK: u16 = 1 << 11;
const DISCONNECT: u16 = 1 << 14;
const AUTH: u16 = 1 << 15;

/// A reason code of MQTT 5.0 (§2.4, Table 2-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum ReasonCode {
    /// 0x00 "Success" (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK, AUTH); the same byte is
    /// "Normal disconnection" in DISCONNECT and "Granted QoS 0" in SUBACK.
    #[default]
    Success = 0x00,
    /// 0x01 "Granted QoS 1" (SUBACK).
    GrantedQos1 = 0x01,
    /// 0x02 "Granted QoS 2" (SUBACK).
    GrantedQos2 = 0x02,
    /// 0x04 "Disconnect with Will Message" (DISCONNECT).
    DisconnectWithWillMessage = 0x04,
    /// 0x10 "No matching subscribers" (PUBACK, PUBREC).
    NoMatchingSubscribers = 0x10,
    /// 0x11 "No subscription existed" (UNSUBACK).
    NoSubscriptionExisted = 0x11,
    /// 0x18 "Continue authentication" (AUTH).
    ContinueAuthentication = 0x18,
    /// 0x19 "Re-authenticate" (AUTH).
    ReAuthenticate = 0x19,
    /// 0x80 "Unspecified error" (CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT).
    UnspecifiedError = 0x80,
    /// 0x81 "Malformed Packet" (CONNACK, DISCONNECT).
    MalformedPacket = 0x81,
    /// 0x82 "Protocol Error" (CONNACK, DISCONNECT).
    ProtocolError = 0x82,
    /// 0x83 "Implementation specific error" (CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT).
    ImplementationSpecificError = 0x83,
    /// 0x84 "Unsupported Protocol Version" (CONNACK).
    UnsupportedProtocolVersion = 0x84,
    /// 0x85 "Client Identifier not valid" (CONNACK).
    ClientIdentifierNotValid = 0x85,
    /// 0x86 "Bad User Name or Password" (CONNACK).
    BadUserNameOrPassword = 0x86,
    /// 0x87 "Not authorized" (CONNACK, PUBACK, PUBREC, SUBACK, UNSUBACK, DISCONNECT).
    NotAuthorized = 0x87,
    /// 0x88 "Server unavailable" (CONNACK).
    ServerUnavailable = 0x88,
    /// 0x89 "Server busy" (CONNACK, DISCONNECT).
    ServerBusy = 0x89,
    /// 0x8A "Banned" (CONNACK).
    Banned = 0x8A,
    /// 0x8B "Server shutting down" (DISCONNECT).
    ServerShuttingDown = 0x8B,
    /// 0x8C "Bad authentication method" (CONNACK, DISCONNECT).
    BadAuthenticationMethod = 0x8C,
    /// 0x8D "Keep Alive timeout" (DISCONNECT).
    KeepAliveTimeout = 0x8D,
    /// 0x8E "Session taken over" (DISCONNECT).
    SessionTakenOver = 0x8E,
    /// 0x8F "Topic Filter invalid" (SUBACK, UNSUBACK, DISCONNECT).
    TopicFilterInvalid = 0x8F,
    /// 0x90 "Topic Name invalid" (CONNACK, PUBACK, PUBREC, DISCONNECT).
    TopicNameInvalid = 0x90,
    /// 0x91 "Packet Identifier in use" (PUBACK, PUBREC, SUBACK, UNSUBACK).
    PacketIdentifierInUse = 0x91,
    /// 0x92 "Packet Identifier not found" (PUBREL, PUBCOMP).
    PacketIdentifierNotFound = 0x92,
    /// 0x93 "Receive Maximum exceeded" (DISCONNECT).
    ReceiveMaximumExceeded = 0x93,
    /// 0x94 "Topic Alias invalid" (DISCONNECT).
    TopicAliasInvalid = 0x94,
    /// 0x95 "Packet too large" (CONNACK, DISCONNECT).
    PacketTooLarge = 0x95,
    /// 0x96 "Message rate too high" (DISCONNECT).
    MessageRateTooHigh = 0x96,
    /// 0x97 "Quota exceeded" (CONNACK, PUBACK, PUBREC, SUBACK, DISCONNECT).
    QuotaExceeded = 0x97,
    /// 0x98 "Administrative action" (DISCONNECT).
    AdministrativeAction = 0x98,
    /// 0x99 "Payload format invalid" (CONNACK, PUBACK, PUBREC, DISCONNECT).
    PayloadFormatInvalid = 0x99,
    /// 0x9A "Retain not supported" (CONNACK, DISCONNECT).
    RetainNotSupported = 0x9A,
    /// 0x9B "QoS not supported" (CONNACK, DISCONNECT).
    QosNotSupported = 0x9B,
    /// 0x9C "Use another server" (CONNACK, DISCONNECT).
    UseAnotherServer = 0x9C,
    /// 0x9D "Server moved" (CONNACK, DISCONNECT).
    ServerMoved = 0x9D,
    /// 0x9E "Shared Subscriptions not supported" (SUBACK, DISCONNECT).
    SharedSubscriptionsNotSupported = 0x9E,
    /// 0x9F "Connection rate exceeded" (CONNACK, DISCONNECT).
    ConnectionRateExceeded = 0x9F,
    /// 0xA0 "Maximum connect time" (DISCONNECT).
    MaximumConnectTime = 0xA0,
    /// 0xA1 "Subscription Identifiers not supported" (SUBACK, DISCONNECT).
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// 0xA2 "Wildcard Subscriptions not supported" (SUBACK, DISCONNECT).
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// Every code of the table, in order.
    pub const ALL: [ReasonCode; 43] = [
        ReasonCode::Success,
        ReasonCode::GrantedQos1,
        ReasonCode::GrantedQos2,
        ReasonCode::DisconnectWithWillMessage,
        ReasonCode::NoMatchingSubscribers,
        ReasonCode::NoSubscriptionExisted,
        ReasonCode::ContinueAuthentication,
        ReasonCode::ReAuthenticate,
        ReasonCode::UnspecifiedError,
        ReasonCode::MalformedPacket,
        ReasonCode::ProtocolError,
        ReasonCode::ImplementationSpecificError,
        ReasonCode::UnsupportedProtocolVersion,
        ReasonCode::ClientIdentifierNotValid,
        ReasonCode::BadUserNameOrPassword,
        ReasonCode::NotAuthorized,
        ReasonCode::ServerUnavailable,
        ReasonCode::ServerBusy,
        ReasonCode::Banned,
        ReasonCode::ServerShuttingDown,
        ReasonCode::BadAuthenticationMethod,
        ReasonCode::KeepAliveTimeout,
        ReasonCode::SessionTakenOver,
        ReasonCode::TopicFilterInvalid,
        ReasonCode::TopicNameInvalid,
        ReasonCode::PacketIdentifierInUse,
        ReasonCode::PacketIdentifierNotFound,
        ReasonCode::ReceiveMaximumExceeded,
        ReasonCode::TopicAliasInvalid,
        ReasonCode::PacketTooLarge,
        ReasonCode::MessageRateTooHigh,
        ReasonCode::QuotaExceeded,
        ReasonCode::AdministrativeAction,
        ReasonCode::PayloadFormatInvalid,
        ReasonCode::RetainNotSupported,
        ReasonCode::QosNotSupported,
        ReasonCode::UseAnotherServer,
        ReasonCode::ServerMoved,
        ReasonCode::SharedSubscriptionsNotSupported,
        ReasonCode::ConnectionRateExceeded,
        ReasonCode::MaximumConnectTime,
        ReasonCode::SubscriptionIdentifiersNotSupported,
        ReasonCode::WildcardSubscriptionsNotSupported,
    ];

    /// The code for `byte`, if the table has one.
    pub const fn from_u8(byte: u8) -> Option<ReasonCode> {
        Some(match byte {
            0x00 => ReasonCode::Success,
            0x01 => ReasonCode::GrantedQos1,
            0x02 => ReasonCode::GrantedQos2,
            0x04 => ReasonCode::DisconnectWithWillMessage,
            0x10 => ReasonCode::NoMatchingSubscribers,
            0x11 => ReasonCode::NoSubscriptionExisted,
            0x18 => ReasonCode::ContinueAuthentication,
            0x19 => ReasonCode::ReAuthenticate,
            0x80 => ReasonCode::UnspecifiedError,
            0x81 => ReasonCode::MalformedPacket,
            0x82 => ReasonCode::ProtocolError,
            0x83 => ReasonCode::ImplementationSpecificError,
            0x84 => ReasonCode::UnsupportedProtocolVersion,
            0x85 => ReasonCode::ClientIdentifierNotValid,
            0x86 => ReasonCode::BadUserNameOrPassword,
            0x87 => ReasonCode::NotAuthorized,
            0x88 => ReasonCode::ServerUnavailable,
            0x89 => ReasonCode::ServerBusy,
            0x8A => ReasonCode::Banned,
            0x8B => ReasonCode::ServerShuttingDown,
            0x8C => ReasonCode::BadAuthenticationMethod,
            0x8D => ReasonCode::KeepAliveTimeout,
            0x8E => ReasonCode::SessionTakenOver,
            0x8F => ReasonCode::TopicFilterInvalid,
            0x90 => ReasonCode::TopicNameInvalid,
            0x91 => ReasonCode::PacketIdentifierInUse,
            0x92 => ReasonCode::PacketIdentifierNotFound,
            0x93 => ReasonCode::ReceiveMaximumExceeded,
            0x94 => ReasonCode::TopicAliasInvalid,
            0x95 => ReasonCode::PacketTooLarge,
            0x96 => ReasonCode::MessageRateTooHigh,
            0x97 => ReasonCode::QuotaExceeded,
            0x98 => ReasonCode::AdministrativeAction,
            0x99 => ReasonCode::PayloadFormatInvalid,
            0x9A => ReasonCode::RetainNotSupported,
            0x9B => ReasonCode::QosNotSupported,
            0x9C => ReasonCode::UseAnotherServer,
            0x9D => ReasonCode::ServerMoved,
            0x9E => ReasonCode::SharedSubscriptionsNotSupported,
            0x9F => ReasonCode::ConnectionRateExceeded,
            0xA0 => ReasonCode::MaximumConnectTime,
            0xA1 => ReasonCode::SubscriptionIdentifiersNotSupported,
            0xA2 => ReasonCode::WildcardSubscriptionsNotSupported,
            _ => return None,
        })
    }

    /// The table's name for the code (for 0x00: "Success"; DISCONNECT calls it "Normal
    /// disconnection" and SUBACK "Granted QoS 0").
    pub const fn name(self) -> &'static str {
        match self {
            ReasonCode::Success => "Success",
            ReasonCode::GrantedQos1 => "Granted QoS 1",
            ReasonCode::GrantedQos2 => "Granted QoS 2",
            ReasonCode::DisconnectWithWillMessage => "Disconnect with Will Message",
            ReasonCode::NoMatchingSubscribers => "No matching subscribers",
            ReasonCode::NoSubscriptionExisted => "No subscription existed",
            ReasonCode::ContinueAuthentication => "Continue authentication",
            ReasonCode::ReAuthenticate => "Re-authenticate",
            ReasonCode::UnspecifiedError => "Unspecified error",
            ReasonCode::MalformedPacket => "Malformed Packet",
            ReasonCode::ProtocolError => "Protocol Error",
            ReasonCode::ImplementationSpecificError => "Implementation specific error",
            ReasonCode::UnsupportedProtocolVersion => "Unsupported Protocol Version",
            ReasonCode::ClientIdentifierNotValid => "Client Identifier not valid",
            ReasonCode::BadUserNameOrPassword => "Bad User Name or Password",
            ReasonCode::NotAuthorized => "Not authorized",
            ReasonCode::ServerUnavailable => "Server unavailable",
            ReasonCode::ServerBusy => "Server busy",
            ReasonCode::Banned => "Banned",
            ReasonCode::ServerShuttingDown => "Server shutting down",
            ReasonCode::BadAuthenticationMethod => "Bad authentication method",
            ReasonCode::KeepAliveTimeout => "Keep Alive timeout",
            ReasonCode::SessionTakenOver => "Session taken over",
            ReasonCode::TopicFilterInvalid => "Topic Filter invalid",
            ReasonCode::TopicNameInvalid => "Topic Name invalid",
            ReasonCode::PacketIdentifierInUse => "Packet Identifier in use",
            ReasonCode::PacketIdentifierNotFound => "Packet Identifier not found",
            ReasonCode::ReceiveMaximumExceeded => "Receive Maximum exceeded",
            ReasonCode::TopicAliasInvalid => "Topic Alias invalid",
            ReasonCode::PacketTooLarge => "Packet too large",
            ReasonCode::MessageRateTooHigh => "Message rate too high",
            ReasonCode::QuotaExceeded => "Quota exceeded",
            ReasonCode::AdministrativeAction => "Administrative action",
            ReasonCode::PayloadFormatInvalid => "Payload format invalid",
            ReasonCode::RetainNotSupported => "Retain not supported",
            ReasonCode::QosNotSupported => "QoS not supported",
            ReasonCode::UseAnotherServer => "Use another server",
            ReasonCode::ServerMoved => "Server moved",
            ReasonCode::SharedSubscriptionsNotSupported => "Shared Subscriptions not supported",
            ReasonCode::ConnectionRateExceeded => "Connection rate exceeded",
            ReasonCode::MaximumConnectTime => "Maximum connect time",
            ReasonCode::SubscriptionIdentifiersNotSupported => {
                "Subscription Identifiers not supported"
            }
            ReasonCode::WildcardSubscriptionsNotSupported => "Wildcard Subscriptions not supported",
        }
    }

    /// Bit set of the packet types (bit = packet type number) that may carry the code: the
    /// table's "Packets" column.
    const fn packets(self) -> u16 {
        match self {
            ReasonCode::Success => {
                CONNACK | PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBACK | AUTH | DISCONNECT | SUBACK
            }
            ReasonCode::GrantedQos1 => SUBACK,
            ReasonCode::GrantedQos2 => SUBACK,
            ReasonCode::DisconnectWithWillMessage => DISCONNECT,
            ReasonCode::NoMatchingSubscribers => PUBACK | PUBREC,
            ReasonCode::NoSubscriptionExisted => UNSUBACK,
            ReasonCode::ContinueAuthentication => AUTH,
            ReasonCode::ReAuthenticate => AUTH,
            ReasonCode::UnspecifiedError => {
                CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT
            }
            ReasonCode::MalformedPacket => CONNACK | DISCONNECT,
            ReasonCode::ProtocolError => CONNACK | DISCONNECT,
            ReasonCode::ImplementationSpecificError => {
                CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT
            }
            ReasonCode::UnsupportedProtocolVersion => CONNACK,
            ReasonCode::ClientIdentifierNotValid => CONNACK,
            ReasonCode::BadUserNameOrPassword => CONNACK,
            ReasonCode::NotAuthorized => CONNACK | PUBACK | PUBREC | SUBACK | UNSUBACK | DISCONNECT,
            ReasonCode::ServerUnavailable => CONNACK,
            ReasonCode::ServerBusy => CONNACK | DISCONNECT,
            ReasonCode::Banned => CONNACK,
            ReasonCode::ServerShuttingDown => DISCONNECT,
            ReasonCode::BadAuthenticationMethod => CONNACK | DISCONNECT,
            ReasonCode::KeepAliveTimeout => DISCONNECT,
            ReasonCode::SessionTakenOver => DISCONNECT,
            ReasonCode::TopicFilterInvalid => SUBACK | UNSUBACK | DISCONNECT,
            ReasonCode::TopicNameInvalid => CONNACK | PUBACK | PUBREC | DISCONNECT,
            ReasonCode::PacketIdentifierInUse => PUBACK | PUBREC | SUBACK | UNSUBACK,
            ReasonCode::PacketIdentifierNotFound => PUBREL | PUBCOMP,
            ReasonCode::ReceiveMaximumExceeded => DISCONNECT,
            ReasonCode::TopicAliasInvalid => DISCONNECT,
            ReasonCode::PacketTooLarge => CONNACK | DISCONNECT,
            ReasonCode::MessageRateTooHigh => DISCONNECT,
            ReasonCode::QuotaExceeded => CONNACK | PUBACK | PUBREC | SUBACK | DISCONNECT,
            ReasonCode::AdministrativeAction => DISCONNECT,
            ReasonCode::PayloadFormatInvalid => CONNACK | PUBACK | PUBREC | DISCONNECT,
            ReasonCode::RetainNotSupported => CONNACK | DISCONNECT,
            ReasonCode::QosNotSupported => CONNACK | DISCONNECT,
            ReasonCode::UseAnotherServer => CONNACK | DISCONNECT,
            ReasonCode::ServerMoved => CONNACK | DISCONNECT,
            ReasonCode::SharedSubscriptionsNotSupported => SUBACK | DISCONNECT,
            ReasonCode::ConnectionRateExceeded => CONNACK | DISCONNECT,
            ReasonCode::MaximumConnectTime => DISCONNECT,
            ReasonCode::SubscriptionIdentifiersNotSupported => SUBACK | DISCONNECT,
            ReasonCode::WildcardSubscriptionsNotSupported => SUBACK | DISCONNECT,
        }
    }

    /// The byte on the wire.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Failure codes are 0x80 and above (§2.4).
    pub const fn is_error(self) -> bool {
        self as u8 >= 0x80
    }

    /// Whether a packet of type `packet_type` (1..=15) may carry this code.
    pub const fn allowed_in(self, packet_type: u8) -> bool {
        packet_type < 16 && self.packets() & (1 << packet_type) != 0
    }

    /// The SUBACK code granting `qos` (0x00, 0x01 or 0x02).
    pub const fn granted(qos: crate::codec::QoS) -> ReasonCode {
        match qos {
            crate::codec::QoS::AtMostOnce => ReasonCode::Success,
            crate::codec::QoS::AtLeastOnce => ReasonCode::GrantedQos1,
            crate::codec::QoS::ExactlyOnce => ReasonCode::GrantedQos2,
        }
    }

    /// The nearest 3.1.1 CONNACK return code (§3.2.2.3 of 3.1.1) for a 5.0 CONNACK reason, for
    /// answering a 3.x client with a refusal the broker decided in 5.0 terms:
    ///
    /// | 5.0 | 3.1.1 |
    /// | --- | --- |
    /// | 0x00 Success | 0x00 accepted |
    /// | 0x84 Unsupported Protocol Version | 0x01 unacceptable protocol version |
    /// | 0x85 Client Identifier not valid | 0x02 identifier rejected |
    /// | 0x88 Server unavailable, 0x89 Server busy | 0x03 server unavailable |
    /// | 0x86 Bad User Name or Password | 0x04 bad user name or password |
    /// | 0x87 Not authorized, 0x8C Bad authentication method, 0x8A Banned | 0x05 not authorized |
    /// | anything else | 0x03 server unavailable (3.1.1 has no generic failure) |
    pub const fn to_v311_connack(self) -> u8 {
        use crate::codec::connack::*;
        match self {
            ReasonCode::Success => ACCEPTED,
            ReasonCode::UnsupportedProtocolVersion => UNACCEPTABLE_PROTOCOL_VERSION,
            ReasonCode::ClientIdentifierNotValid => IDENTIFIER_REJECTED,
            ReasonCode::BadUserNameOrPassword => BAD_USERNAME_OR_PASSWORD,
            ReasonCode::NotAuthorized
            | ReasonCode::BadAuthenticationMethod
            | ReasonCode::Banned => NOT_AUTHORIZED,
            _ => SERVER_UNAVAILABLE,
        }
    }
}

impl From<ReasonCode> for u8 {
    fn from(code: ReasonCode) -> u8 {
        code as u8
    }
}

impl fmt::Display for ReasonCode {
    /// `0x87 Not authorized`, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} {}", self.code(), self.name())
    }
}
