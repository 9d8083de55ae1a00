//! Why a connection ends: the one place where errors become reasons and MQTT 5.0 reason codes,
//! and where it is decided whether the Will is published.

use crate::auth::AuthFailure;
use crate::codec::{connack, DecodeError, ProtocolVersion, ReasonCode};
use crate::topic::TopicError;
use std::fmt;

#[derive(Debug, Clone)]
pub enum CloseReason {
    /// The client sent DISCONNECT: the normal end, no Will [MQTT-3.14.4-3], unless a 5.0
    /// client asked for it with reason code 0x04.
    ClientDisconnect { with_will: bool },
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
    /// Bytes the codec refused: the reason code its error maps to (0x81 malformed, 0x82
    /// protocol error, 0x95 too large, ...) and what it said (naming the spec statement).
    Decode { code: ReasonCode, what: String },
    /// Well-formed bytes that break a protocol rule (spec id, what happened).
    Protocol(&'static str, String),
    /// A PUBLISH (or Will) topic that is not a valid topic name.
    InvalidTopic(TopicError),
    /// A 5.0 Topic Alias the broker did not offer or the client never set [MQTT-3.3.2-8].
    TopicAliasInvalid(String),
    /// A 5.0 client sent more unacknowledged QoS 1/2 PUBLISHes than the Receive Maximum the
    /// broker announced [MQTT-3.3.4-7].
    ReceiveMaximumExceeded(u16),
    /// A PUBLISH with RETAIN while `retain_available` is off.
    RetainNotSupported,
    /// Another connection took over the client id [MQTT-3.1.4-2].
    TakenOver,
    /// CONNECT refused with this CONNACK code (3.x return code or 5.0 reason code).
    Refused(u8),
    /// The broker is shutting down.
    ServerShutdown,
    /// The client's credentials were withdrawn by a reload (its user deleted from the
    /// password file, or anonymous access turned off): 5.0 DISCONNECT 0x98 "administrative
    /// action", then closed; no Will, since the client may no longer publish anything.
    Revoked(String),
    /// The session this connection was attached to is gone (broker bug or shutdown race).
    SessionGone,
    /// A 5.0 re-authentication (AUTH 0x19) failed [MQTT-4.12.1-2].
    ReauthFailed(AuthFailure),
    /// An administrator disconnected the client (admin API, `courtier ctl kick`).
    Administrative,
    /// A handler of this client's Connection or Session panicked (supervision.rs): that
    /// client alone is disconnected, its Will published; 5.0 DISCONNECT 0x83.
    InternalError,
    /// The store could not write what this client's packet needs stored before its answer (a
    /// full disk): closed unanswered, so the client sends it again after reconnecting (5.0:
    /// DISCONNECT 0x97 "quota exceeded").
    StoreUnavailable,
}

impl CloseReason {
    /// The metric labels of [`CloseReason::label`], in the order metrics count them.
    pub const LABELS: [&'static str; 21] = [
        "client_disconnect",
        "peer_closed",
        "io_error",
        "keepalive_timeout",
        "connect_timeout",
        "write_timeout",
        "malformed_packet",
        "protocol_error",
        "invalid_topic",
        "topic_alias_invalid",
        "taken_over",
        "refused",
        "server_shutdown",
        "session_gone",
        "reauth_failed",
        "administrative",
        "receive_maximum_exceeded",
        "retain_not_supported",
        "revoked",
        "internal_error",
        "store_unavailable",
    ];

    /// Index in [`CloseReason::LABELS`]: a short, stable name for `courtier_disconnects_total`.
    pub fn label_index(&self) -> usize {
        match self {
            CloseReason::ClientDisconnect { .. } => 0,
            CloseReason::PeerClosed => 1,
            CloseReason::Io(_) => 2,
            CloseReason::KeepAliveTimeout => 3,
            CloseReason::ConnectTimeout => 4,
            CloseReason::WriteTimeout => 5,
            CloseReason::Decode { code, .. } if *code == ReasonCode::ProtocolError => 7,
            CloseReason::Decode { .. } => 6,
            CloseReason::Protocol(..) => 7,
            CloseReason::InvalidTopic(_) => 8,
            CloseReason::TopicAliasInvalid(_) => 9,
            CloseReason::TakenOver => 10,
            CloseReason::Refused(_) => 11,
            CloseReason::ServerShutdown => 12,
            CloseReason::SessionGone => 13,
            CloseReason::ReauthFailed(_) => 14,
            CloseReason::Administrative => 15,
            CloseReason::ReceiveMaximumExceeded(_) => 16,
            CloseReason::RetainNotSupported => 17,
            CloseReason::Revoked(_) => 18,
            CloseReason::InternalError => 19,
            CloseReason::StoreUnavailable => 20,
        }
    }

    pub fn label(&self) -> &'static str {
        CloseReason::LABELS[self.label_index()]
    }

    /// Whether the Will Message is published (MQTT-3.1.2-8: on any close other than DISCONNECT;
    /// 5.0 lets DISCONNECT ask for it, [MQTT-3.14.4-3]). Shutdown does not publish Wills, as
    /// Mosquitto does not.
    pub fn publishes_will(&self) -> bool {
        match self {
            CloseReason::ClientDisconnect { with_will } => *with_will,
            CloseReason::ServerShutdown | CloseReason::Refused(_) | CloseReason::Revoked(_) => {
                false
            }
            _ => true,
        }
    }

    pub fn from_decode(err: &DecodeError) -> CloseReason {
        match err {
            DecodeError::Io(e) => CloseReason::Io(e.to_string()),
            other => CloseReason::Decode {
                code: other.reason_code(),
                what: other.to_string(),
            },
        }
    }

    /// The reason code of the DISCONNECT the broker sends a 5.0 client before closing
    /// [MQTT-4.13.1-1]; `None` where no packet goes out: the client ended it (DISCONNECT,
    /// closed socket), the socket is broken or stalled, or the connection never got as far as
    /// CONNECT (a refusal answers with CONNACK instead).
    pub fn disconnect_code(&self) -> Option<ReasonCode> {
        Some(match self {
            CloseReason::ClientDisconnect { .. }
            | CloseReason::PeerClosed
            | CloseReason::Io(_)
            | CloseReason::WriteTimeout
            | CloseReason::ConnectTimeout
            | CloseReason::Refused(_) => return None,
            CloseReason::KeepAliveTimeout => ReasonCode::KeepAliveTimeout,
            CloseReason::Decode { code, .. } => *code,
            CloseReason::Protocol(..) => ReasonCode::ProtocolError,
            CloseReason::InvalidTopic(_) => ReasonCode::TopicNameInvalid,
            CloseReason::TopicAliasInvalid(_) => ReasonCode::TopicAliasInvalid,
            CloseReason::ReceiveMaximumExceeded(_) => ReasonCode::ReceiveMaximumExceeded,
            CloseReason::RetainNotSupported => ReasonCode::RetainNotSupported,
            CloseReason::TakenOver => ReasonCode::SessionTakenOver,
            CloseReason::ServerShutdown => ReasonCode::ServerShuttingDown,
            CloseReason::Revoked(_) => ReasonCode::AdministrativeAction,
            CloseReason::SessionGone => ReasonCode::UnspecifiedError,
            // 0x86 exists only in CONNACK: a DISCONNECT says "not authorized" instead.
            CloseReason::ReauthFailed(AuthFailure::BadAuthenticationMethod) => {
                ReasonCode::BadAuthenticationMethod
            }
            CloseReason::ReauthFailed(_) => ReasonCode::NotAuthorized,
            CloseReason::Administrative => ReasonCode::AdministrativeAction,
            CloseReason::InternalError => ReasonCode::ImplementationSpecificError,
            CloseReason::StoreUnavailable => ReasonCode::QuotaExceeded,
        })
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientDisconnect { with_will: false } => {
                f.write_str("client sent DISCONNECT")
            }
            CloseReason::ClientDisconnect { with_will: true } => {
                f.write_str("client sent DISCONNECT with Will Message (0x04)")
            }
            CloseReason::PeerClosed => f.write_str("connection closed by peer"),
            CloseReason::Io(e) => write!(f, "socket error: {e}"),
            CloseReason::KeepAliveTimeout => f.write_str("keep-alive timeout"),
            CloseReason::ConnectTimeout => f.write_str("no CONNECT within connect_timeout"),
            CloseReason::WriteTimeout => f.write_str("peer stopped reading (write_timeout)"),
            CloseReason::Decode { code, what } => match code {
                ReasonCode::PacketTooLarge => write!(f, "packet too large: {what}"),
                ReasonCode::ProtocolError => write!(f, "protocol error: {what}"),
                _ => write!(f, "malformed packet: {what}"),
            },
            CloseReason::Protocol(id, what) => write!(f, "protocol error [{id}]: {what}"),
            CloseReason::InvalidTopic(e) => write!(f, "invalid topic: {e}"),
            CloseReason::TopicAliasInvalid(what) => write!(f, "topic alias invalid: {what}"),
            CloseReason::ReceiveMaximumExceeded(max) => write!(
                f,
                "more than Receive Maximum ({max}) QoS 1/2 PUBLISHes unacknowledged [MQTT-3.3.4-7]"
            ),
            CloseReason::RetainNotSupported => {
                f.write_str("PUBLISH with RETAIN, and retain_available is false [MQTT-3.2.2-14]")
            }
            CloseReason::TakenOver => f.write_str("session taken over by a new connection"),
            CloseReason::Refused(code) => write!(f, "CONNECT refused with CONNACK code {code}"),
            CloseReason::ServerShutdown => f.write_str("broker shutting down"),
            CloseReason::Revoked(why) => write!(f, "access revoked by a reload: {why}"),
            CloseReason::SessionGone => f.write_str("session ended"),
            CloseReason::StoreUnavailable => {
                f.write_str("the store could not write what the packet needed (disk full?)")
            }
            CloseReason::ReauthFailed(e) => write!(f, "re-authentication failed: {}", e.name()),
            CloseReason::Administrative => f.write_str("disconnected by an administrator"),
            CloseReason::InternalError => f.write_str("broker fault (a handler panicked)"),
        }
    }
}

/// Why a CONNECT is refused: each becomes the CONNACK code of the client's protocol version
/// in [`Refusal::connack_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    UnsupportedProtocolVersion,
    ClientIdentifierNotValid,
    /// A 3.x keep-alive above `max_keepalive` (Mosquitto answers it with "identifier
    /// rejected"; a 5.0 client is told the Server Keep Alive instead).
    KeepAliveTooLong,
    Auth(AuthFailure),
    ServerUnavailable,
    /// `max_connections` reached.
    ServerBusy,
    /// The CONNECT is larger than `max_packet_size` (5.0 only: 3.x has no code for it).
    PacketTooLarge,
    /// A retained Will while `retain_available` is off (5.0 only: a 3.x client is closed
    /// without CONNACK).
    RetainNotSupported,
}

impl Refusal {
    /// The CONNACK code in the client's protocol version. 3.1/3.1.1 answer 5 (not authorized)
    /// for every authentication failure, as Mosquitto does (code 4 would tell a prober that the
    /// user name exists); 5.0 names the failure.
    pub fn connack_code(self, protocol: ProtocolVersion) -> u8 {
        if protocol == ProtocolVersion::V5 {
            return self.reason_code().code();
        }
        match self {
            Refusal::UnsupportedProtocolVersion => connack::UNACCEPTABLE_PROTOCOL_VERSION,
            Refusal::ClientIdentifierNotValid | Refusal::KeepAliveTooLong => {
                connack::IDENTIFIER_REJECTED
            }
            Refusal::Auth(_) => connack::NOT_AUTHORIZED,
            Refusal::ServerUnavailable
            | Refusal::ServerBusy
            | Refusal::PacketTooLarge
            | Refusal::RetainNotSupported => connack::SERVER_UNAVAILABLE,
        }
    }

    pub fn reason_code(self) -> ReasonCode {
        match self {
            Refusal::UnsupportedProtocolVersion => ReasonCode::UnsupportedProtocolVersion,
            Refusal::ClientIdentifierNotValid | Refusal::KeepAliveTooLong => {
                ReasonCode::ClientIdentifierNotValid
            }
            Refusal::Auth(AuthFailure::BadUserNameOrPassword) => ReasonCode::BadUserNameOrPassword,
            Refusal::Auth(AuthFailure::NotAuthorized) => ReasonCode::NotAuthorized,
            Refusal::Auth(AuthFailure::BadAuthenticationMethod) => {
                ReasonCode::BadAuthenticationMethod
            }
            Refusal::ServerUnavailable => ReasonCode::ServerUnavailable,
            Refusal::ServerBusy => ReasonCode::ServerBusy,
            Refusal::PacketTooLarge => ReasonCode::PacketTooLarge,
            Refusal::RetainNotSupported => ReasonCode::RetainNotSupported,
        }
    }

    /// For logs and the 5.0 Reason String.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::UnsupportedProtocolVersion => "unsupported protocol version",
            Refusal::ClientIdentifierNotValid => "client identifier not valid",
            Refusal::KeepAliveTooLong => "keep alive above the broker's max_keepalive",
            Refusal::Auth(f) => f.name(),
            Refusal::ServerUnavailable => "server unavailable",
            Refusal::ServerBusy => "server busy (max_connections reached)",
            Refusal::PacketTooLarge => "CONNECT larger than max_packet_size",
            Refusal::RetainNotSupported => "retained Will, and retain_available is false",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_use_the_client_version_codes() {
        use ProtocolVersion::*;
        let bad = Refusal::Auth(AuthFailure::BadUserNameOrPassword);
        assert_eq!(bad.connack_code(V311), 5);
        assert_eq!(bad.connack_code(V5), 0x86);
        let anon = Refusal::Auth(AuthFailure::NotAuthorized);
        assert_eq!((anon.connack_code(V31), anon.connack_code(V5)), (5, 0x87));
        let id = Refusal::ClientIdentifierNotValid;
        assert_eq!((id.connack_code(V311), id.connack_code(V5)), (2, 0x85));
        let busy = Refusal::ServerBusy;
        assert_eq!((busy.connack_code(V311), busy.connack_code(V5)), (3, 0x89));
    }

    #[test]
    fn only_the_broker_s_own_closes_send_a_disconnect() {
        assert_eq!(
            CloseReason::TakenOver.disconnect_code(),
            Some(ReasonCode::SessionTakenOver)
        );
        assert_eq!(
            CloseReason::KeepAliveTimeout.disconnect_code(),
            Some(ReasonCode::KeepAliveTimeout)
        );
        assert_eq!(
            CloseReason::ServerShutdown.disconnect_code(),
            Some(ReasonCode::ServerShuttingDown)
        );
        assert_eq!(
            CloseReason::ClientDisconnect { with_will: true }.disconnect_code(),
            None
        );
        assert_eq!(CloseReason::PeerClosed.disconnect_code(), None);
        assert_eq!(CloseReason::Refused(5).disconnect_code(), None);
        let reauth = CloseReason::ReauthFailed(AuthFailure::BadUserNameOrPassword);
        assert_eq!(reauth.disconnect_code(), Some(ReasonCode::NotAuthorized));
        assert_eq!(
            CloseReason::Administrative.disconnect_code(),
            Some(ReasonCode::AdministrativeAction)
        );
    }

    #[test]
    fn decode_errors_keep_their_reason_code_to_the_wire() {
        let too_large = DecodeError::PacketTooLarge { size: 10, max: 5 };
        assert_eq!(
            CloseReason::from_decode(&too_large).disconnect_code(),
            Some(ReasonCode::PacketTooLarge)
        );
        assert_eq!(
            CloseReason::from_decode(&DecodeError::InvalidUtf8).disconnect_code(),
            Some(ReasonCode::MalformedPacket)
        );
    }

    #[test]
    fn metric_labels_are_distinct_and_named_after_the_reason() {
        let mut labels = CloseReason::LABELS.to_vec();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), CloseReason::LABELS.len());
        assert_eq!(CloseReason::KeepAliveTimeout.label(), "keepalive_timeout");
        assert_eq!(CloseReason::Administrative.label(), "administrative");
        let protocol = CloseReason::from_decode(&DecodeError::InvalidUtf8);
        assert_eq!(protocol.label(), "malformed_packet");
    }

    #[test]
    fn the_will_is_published_unless_the_client_ended_normally() {
        assert!(!CloseReason::ClientDisconnect { with_will: false }.publishes_will());
        assert!(CloseReason::ClientDisconnect { with_will: true }.publishes_will());
        assert!(CloseReason::KeepAliveTimeout.publishes_will());
        assert!(!CloseReason::ServerShutdown.publishes_will());
    }
}
