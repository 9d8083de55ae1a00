//! MQTT 5.0 enhanced authentication (§4.12) on one connection, pure: which AUTH packets a
//! client may send when, what each asks for, and what ends a step of the method's exchange
//! (an AUTH to send, the CONNACK, a refusal, a DISCONNECT). The method itself is behind
//! `auth::AuthMethod`; the Connection actor (auth_exchange.rs) runs its steps and does what
//! this decides.
//!
//! A 3.1.1 client never gets here: AUTH does not decode before 5.0, and without an
//! Authentication Method in the CONNECT nothing starts.

use crate::auth::{AuthFailure, Identity};
use crate::close::CloseReason;
use crate::codec::{Auth, AuthProperties, ConnAckProperties, Packet, ReasonCode};
use bytes::Bytes;
use bytestring::ByteString;

/// Where enhanced authentication stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Phase {
    /// The CONNECT had no Authentication Method: the client may send no AUTH [MQTT-4.12.0-7].
    #[default]
    Off,
    /// The CONNECT's exchange runs; no CONNACK yet.
    Connecting,
    /// Authenticated; the client may re-authenticate (AUTH 0x19) [MQTT-4.12.1-1].
    Authenticated,
    /// A re-authentication runs while the connection carries on.
    Reauthenticating,
}

/// The enhanced authentication state of one connection: a phase, and what a method in use
/// keeps behind one pointer, so a connection that uses none carries one word and a byte.
#[derive(Debug, Default)]
pub struct EnhancedAuth {
    phase: Phase,
    state: Option<Box<InUse>>,
}

#[derive(Debug)]
struct InUse {
    /// The CONNECT's Authentication Method: every AUTH, and the CONNACK, carry it
    /// [MQTT-4.12.0-5].
    method: ByteString,
    /// Who the exchange at CONNECT authenticated: a re-authentication must prove the same user
    /// (the session's authorization was settled for that one).
    user: Option<ByteString>,
    /// The last step's data for the CONNACK (e.g. SCRAM's server signature).
    connack_data: Option<Bytes>,
}

/// What a client's AUTH asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthStep {
    /// The next step of the exchange in progress (AUTH 0x18), with the client's data.
    Continue(Option<Bytes>),
    /// Run the method again (AUTH 0x19) [MQTT-4.12.1-1], with the client's first data.
    Reauthenticate(Option<Bytes>),
}

/// What the connection does when a step of the method's exchange ends.
#[derive(Debug)]
pub enum Reply {
    /// Send this AUTH: 0x18 for more, 0x00 when a re-authentication succeeded.
    Send(Packet),
    /// The CONNECT's exchange succeeded: attach the session as this identity; the CONNACK
    /// carries the method (and data) from [`EnhancedAuth::connack_properties`].
    Attach(Identity),
    /// Refuse the CONNECT with a CONNACK for this failure [MQTT-4.12.0-4].
    Refuse(AuthFailure),
    /// A re-authentication failed: DISCONNECT and close [MQTT-4.12.1-2].
    Close(CloseReason),
}

fn protocol_error(id: &'static str, what: String) -> CloseReason {
    CloseReason::Protocol(id, what)
}

impl EnhancedAuth {
    /// A CONNECT with Authentication Method `method` starts its exchange.
    pub fn begin(&mut self, method: ByteString) {
        self.phase = Phase::Connecting;
        self.state = Some(Box::new(InUse {
            method,
            user: None,
            connack_data: None,
        }));
    }

    pub fn method(&self) -> Option<&ByteString> {
        self.state.as_ref().map(|s| &s.method)
    }

    /// The user the exchange at CONNECT authenticated.
    pub fn user(&self) -> Option<&ByteString> {
        self.state.as_ref().and_then(|s| s.user.as_ref())
    }

    /// Whether the CONNECT's exchange runs: until its CONNACK the client may send only AUTH
    /// or DISCONNECT [MQTT-3.1.2-30].
    pub fn connecting(&self) -> bool {
        self.phase == Phase::Connecting
    }

    /// A client's AUTH: what it asks for, or the protocol error that closes the connection
    /// (DISCONNECT 0x82).
    pub fn on_auth(&mut self, a: &Auth) -> Result<AuthStep, CloseReason> {
        let props = a.properties.as_deref();
        let theirs = props.and_then(|p| p.authentication_method.as_ref());
        let Some(ours) = self.method() else {
            return Err(protocol_error(
                "MQTT-4.12.0-7",
                "AUTH from a client that gave no Authentication Method in CONNECT".into(),
            ));
        };
        if theirs != Some(ours) {
            return Err(protocol_error(
                "MQTT-4.12.0-5",
                format!(
                    "AUTH with Authentication Method {:?}, CONNECT used {:?}",
                    theirs.map(|m| &**m),
                    &**ours
                ),
            ));
        }
        let data = props.and_then(|p| p.authentication_data.clone());
        match (self.phase, a.reason) {
            (Phase::Connecting | Phase::Reauthenticating, ReasonCode::ContinueAuthentication) => {
                Ok(AuthStep::Continue(data))
            }
            (Phase::Authenticated, ReasonCode::ReAuthenticate) => {
                self.phase = Phase::Reauthenticating;
                Ok(AuthStep::Reauthenticate(data))
            }
            (Phase::Authenticated, code) => Err(protocol_error(
                "MQTT-4.12.1-1",
                format!("AUTH {code} with no exchange in progress (re-authenticate is 0x19)"),
            )),
            (_, code) => Err(protocol_error(
                "MQTT-4.12.0-3",
                format!("AUTH {code} during an exchange (continue is 0x18)"),
            )),
        }
    }

    /// The method wants more: AUTH 0x18 with its data [MQTT-4.12.0-2].
    pub fn on_continue(&self, data: Option<Bytes>) -> Reply {
        Reply::Send(self.auth_packet(ReasonCode::ContinueAuthentication, data))
    }

    /// The method authenticated `identity`, with final `data` for the client.
    pub fn on_success(&mut self, identity: Identity, data: Option<Bytes>) -> Reply {
        match (self.phase, self.state.as_deref_mut()) {
            (Phase::Connecting, Some(state)) => {
                self.phase = Phase::Authenticated;
                state.user = identity.username.clone();
                state.connack_data = data;
                Reply::Attach(identity)
            }
            (Phase::Reauthenticating, Some(state)) if identity.username == state.user => {
                self.phase = Phase::Authenticated;
                Reply::Send(self.auth_packet(ReasonCode::Success, data))
            }
            // Another user's credentials would change who the session acts for.
            (Phase::Reauthenticating, _) => {
                Reply::Close(CloseReason::ReauthFailed(AuthFailure::NotAuthorized))
            }
            _ => Reply::Close(protocol_error(
                "MQTT-4.12.0-4",
                "authentication step ended with no exchange in progress".into(),
            )),
        }
    }

    /// The method refused.
    pub fn on_failure(&mut self, failure: AuthFailure) -> Reply {
        match self.phase {
            Phase::Connecting => Reply::Refuse(failure),
            _ => Reply::Close(CloseReason::ReauthFailed(failure)),
        }
    }

    /// Puts the method, and the last step's data, into the CONNACK of a successful exchange
    /// [MQTT-4.12.0-5]; nothing for a CONNECT without a method [MQTT-4.12.0-6].
    pub fn connack_properties(&mut self, p: &mut ConnAckProperties) {
        if let Some(state) = self.state.as_deref_mut() {
            p.authentication_method = Some(state.method.clone());
            p.authentication_data = state.connack_data.take();
        }
    }

    fn auth_packet(&self, reason: ReasonCode, data: Option<Bytes>) -> Packet {
        Packet::Auth(Auth {
            reason,
            properties: Some(Box::new(AuthProperties {
                authentication_method: self.method().cloned(),
                authentication_data: data,
                ..AuthProperties::default()
            })),
        })
    }
}

#[cfg(test)]
#[path = "enhanced_auth_tests.rs"]
mod tests;
