//! Why a connection ends: the one place where errors become reasons (and, with MQTT 5.0,
//! reason codes), and where it is decided whether the Will is published.

use crate::auth::AuthFailure;
use crate::codec::{connack, DecodeError, ProtocolVersion};
use crate::topic::TopicError;
use std::fmt;

#[derive(Debug, Clone)]
pub enum CloseReason {
    /// The client sent DISCONNECT: the normal end, no Will [MQTT-3.14.4-3].
    ClientDisconnect,
    /// The peer closed the socket without DISCONNECT.
    PeerClosed,
    /// A read or write failed.
    Io(String),
    /// Nothing received for 1.5 × keep-alive [MQTT-3.1.2-24].
    KeepAliveTimeout,
    /// No CONNECT within connect_timeout.
    ConnectTimeout,
    /// The peer accepted no bytes for write_timeout.
    WriteTimeout,
    /// Malformed bytes (the codec says which spec statement).
    Malformed(String),
    /// Well-formed bytes that break a protocol rule (spec id, what happened).
    Protocol(&'static str, String),
    /// A PUBLISH (or Will) topic that is not a valid topic name.
    InvalidTopic(TopicError),
    /// Another connection took over the client id [MQTT-3.1.4-2].
    TakenOver,
    /// CONNECT refused with a CONNACK code.
    Refused(u8),
    /// The broker is shutting down.
    ServerShutdown,
    /// The session this connection was attached to is gone (broker bug or shutdown race).
    SessionGone,
}

impl CloseReason {
    /// Whether the Will Message is published (MQTT-3.1.2-8: on any close other than DISCONNECT).
    /// Shutdown does not publish Wills, as Mosquitto does not.
    pub fn publishes_will(&self) -> bool {
        !matches!(
            self,
            CloseReason::ClientDisconnect | CloseReason::ServerShutdown | CloseReason::Refused(_)
        )
    }

    pub fn from_decode(err: &DecodeError) -> CloseReason {
        match err {
            DecodeError::Io(e) => CloseReason::Io(e.to_string()),
            other => CloseReason::Malformed(other.to_string()),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientDisconnect => f.write_str("client sent DISCONNECT"),
            CloseReason::PeerClosed => f.write_str("connection closed by peer"),
            CloseReason::Io(e) => write!(f, "socket error: {e}"),
            CloseReason::KeepAliveTimeout => f.write_str("keep-alive timeout"),
            CloseReason::ConnectTimeout => f.write_str("no CONNECT within connect_timeout"),
            CloseReason::WriteTimeout => f.write_str("peer stopped reading (write_timeout)"),
            CloseReason::Malformed(e) => write!(f, "malformed packet: {e}"),
            CloseReason::Protocol(id, what) => write!(f, "protocol error [{id}]: {what}"),
            CloseReason::InvalidTopic(e) => write!(f, "invalid topic: {e}"),
            CloseReason::TakenOver => f.write_str("session taken over by a new connection"),
            CloseReason::Refused(code) => write!(f, "CONNECT refused with CONNACK code {code}"),
            CloseReason::ServerShutdown => f.write_str("broker shutting down"),
            CloseReason::SessionGone => f.write_str("session ended"),
        }
    }
}

/// The CONNACK code that refuses a CONNECT for an authentication failure, in the client's
/// protocol version. 3.1/3.1.1 answer 5 (not authorized) for every failure, as Mosquitto does
/// (code 4 would tell a prober that the user name exists); 5.0 names the failure: 0x86 bad
/// user name or password, 0x87 not authorized, 0x8C bad authentication method.
pub fn refusal_code(failure: AuthFailure, protocol: ProtocolVersion) -> u8 {
    if protocol != ProtocolVersion::V5 {
        return connack::NOT_AUTHORIZED;
    }
    match failure {
        AuthFailure::BadUserNameOrPassword => 0x86,
        AuthFailure::NotAuthorized => 0x87,
        AuthFailure::BadAuthenticationMethod => 0x8C,
    }
}
