//! The authentication and authorization seam: traits the protocol layer consults, so that who
//! may connect and what a client may publish, subscribe to or receive is decided in one place,
//! by whatever the broker is configured with (today the built-in [`BasicAuth`]; password files,
//! ACL files and enhanced authentication methods plug in behind the same traits).
//!
//! The shape follows Mosquitto's plugin events that users know: `BASIC_AUTH` becomes
//! [`Authenticator::authenticate`] (allow, or deny with a reason), `EXT_AUTH_START/CONTINUE`
//! become an [`AuthMethod`] the authenticator offers by name and the [`Exchange`] it starts
//! (MQTT 5.0 enhanced authentication, §4.12), `ACL_CHECK` becomes [`Authorizer`]'s per-action
//! checks.
//!
//! Threads: a check that needs I/O or CPU-heavy hashing (PBKDF2 of a `$7$` password) must not
//! run on an actor thread, where it would stall every client that thread serves. So
//! [`Authenticator::authenticate`] answers either at once ([`AuthCheck::Done`], the common
//! case, no allocation) or with a future ([`AuthCheck::Pending`]) that the implementation
//! resolves off the actor threads (e.g. `tokio::task::spawn_blocking`) and the connection
//! awaits without blocking. Authorization is called per message, so it is synchronous and must
//! be cheap: an implementation precomputes (ACL tries, cached lookups) instead of doing I/O.

use crate::codec::{ProtocolVersion, QoS};
use crate::message::ClientId;
use crate::metrics::DropReason;
use crate::topic;
use bytes::Bytes;
use bytestring::ByteString;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a CONNECT (or a re-authentication AUTH) asks for: everything an authenticator or an
/// authentication method may base its decision on.
#[derive(Clone)]
pub struct ConnectRequest {
    /// The client id the session will have (an assigned one for an empty CONNECT id).
    pub client_id: ClientId,
    pub username: Option<ByteString>,
    pub password: Option<Bytes>,
    /// The peer's address as the listener saw it.
    pub peer: String,
    /// "tcp" or "websocket" (and their TLS variants once listeners have them).
    pub transport: &'static str,
    pub protocol: ProtocolVersion,
    /// MQTT 5.0 enhanced authentication: the method and the client's first data.
    pub auth_method: Option<ByteString>,
    pub auth_data: Option<Bytes>,
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password or authentication data.
        f.debug_struct("ConnectRequest")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("peer", &self.peer)
            .field("transport", &self.transport)
            .field("protocol", &self.protocol)
            .field("auth_method", &self.auth_method)
            .finish()
    }
}

/// Who a client is once authenticated: what authorization checks are made against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The user name the checks use (the CONNECT's, or one an authenticator derives, e.g.
    /// from a client certificate).
    pub username: Option<ByteString>,
}

/// Why a CONNECT is refused by authentication. `close.rs` turns it into the CONNACK code of
/// the client's protocol version (3.1.1 return code 4 or 5; 5.0 reason code 0x86, 0x87, 0x8C).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// Unknown user or wrong password.
    BadUserNameOrPassword,
    /// The credentials may be fine but this client may not connect (e.g. anonymous clients
    /// while `allow_anonymous = false`).
    NotAuthorized,
    /// MQTT 5.0: the authentication method is not supported.
    BadAuthenticationMethod,
}

impl AuthFailure {
    pub fn name(self) -> &'static str {
        match self {
            AuthFailure::BadUserNameOrPassword => "bad user name or password",
            AuthFailure::NotAuthorized => "not authorized",
            AuthFailure::BadAuthenticationMethod => "bad authentication method",
        }
    }
}

/// An authenticator's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Allow(Identity),
    Deny(AuthFailure),
}

/// A decision now, or one being computed off the actor threads.
pub enum AuthCheck {
    Done(AuthOutcome),
    Pending(Pin<Box<dyn Future<Output = AuthOutcome> + Send>>),
}

/// Decides whether a client may connect.
pub trait Authenticator: Send + Sync + 'static {
    /// Called for every CONNECT without an Authentication Method.
    fn authenticate(&self, req: &ConnectRequest) -> AuthCheck;

    /// The enhanced authentication method of this name, if it is offered (MQTT 5.0 §4.12).
    /// A CONNECT naming a method that is not offered is refused with CONNACK 0x8C.
    fn method(&self, _name: &str) -> Option<Arc<dyn AuthMethod>> {
        None
    }
}

/// An enhanced authentication method (e.g. SCRAM-SHA-512): what a CONNECT with an
/// Authentication Method, or a re-authentication AUTH 0x19, starts.
pub trait AuthMethod: Send + Sync + 'static {
    /// Begins an exchange; `req.auth_data` is the client's first data (absent when the method
    /// lets the server speak first).
    fn start(&self, req: &ConnectRequest) -> ExchangeCheck;
}

/// One exchange in progress: what a method keeps between the client's AUTH packets. Taken by
/// value, so a step may run off the actor threads and hand the next state back.
pub trait Exchange: Send + 'static {
    /// The client's next AUTH 0x18 with its Authentication Data.
    fn step(self: Box<Self>, data: Option<Bytes>) -> ExchangeCheck;
}

/// Where an exchange stands after a step.
pub enum ExchangeStep {
    /// Send AUTH 0x18 with `data` and wait for the client's answer, which goes to `next`.
    Continue {
        data: Option<Bytes>,
        next: Box<dyn Exchange>,
    },
    /// Authenticated as `identity`; `data` (e.g. SCRAM's server signature) goes to the client
    /// in the CONNACK or the AUTH 0x00 that ends a re-authentication.
    Success {
        identity: Identity,
        data: Option<Bytes>,
    },
    /// Refused: CONNACK with this failure's code, or DISCONNECT when re-authenticating.
    Failure(AuthFailure),
}

impl std::fmt::Debug for ExchangeStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExchangeStep::Continue { .. } => f.write_str("Continue"),
            ExchangeStep::Success { identity, .. } => write!(f, "Success({identity:?})"),
            ExchangeStep::Failure(e) => write!(f, "Failure({e:?})"),
        }
    }
}

/// A step's result now, or one being computed off the actor threads (as [`AuthCheck`]).
pub enum ExchangeCheck {
    Done(ExchangeStep),
    Pending(Pin<Box<dyn Future<Output = ExchangeStep> + Send>>),
}

/// What a client wants to do with a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Publish {
        qos: QoS,
        retain: bool,
    },
    Subscribe {
        qos: QoS,
    },
    /// A message matched one of the client's subscriptions: may it be delivered?
    Receive,
}

/// Why an action is refused; each is counted and traced under its own name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Clients may not write into `$SYS` [MQTT-4.7.2-1 gives `$` topics to the server].
    SysTopicReadOnly,
    /// The authorizer's rules (an ACL) do not allow it.
    NotAuthorized,
}

impl Denial {
    pub fn drop_reason(self) -> DropReason {
        match self {
            Denial::SysTopicReadOnly => DropReason::SysTopicDenied,
            Denial::NotAuthorized => DropReason::NotAuthorized,
        }
    }
}

/// The client an authorization check is made for.
#[derive(Clone, Copy, Debug)]
pub struct ClientRef<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
}

/// Decides what an authenticated client may do. Called on the hot path: keep it cheap.
pub trait Authorizer: Send + Sync + 'static {
    /// May `client` do `action` on `topic` (a topic name, or a filter for `Subscribe`)?
    fn check(&self, client: ClientRef<'_>, action: Action, topic: &str) -> Result<(), Denial>;

    /// Whether deliveries need a `Receive` check at all: when false (no read rules), the
    /// delivery path skips the call entirely.
    fn checks_receive(&self) -> bool {
        false
    }

    /// Changes whenever the answers of `check` may change (a reload), so that a connection
    /// may reuse its last answer for the same action and topic while it stays the same;
    /// `None` (the default): answers are not reused.
    fn generation(&self) -> Option<u64> {
        None
    }
}

/// The broker's built-in rules, used when nothing else is configured: anonymous clients are
/// admitted or not by `allow_anonymous`; with no password source, a client that is not
/// anonymous cannot prove who it is, so it is refused as Mosquitto refuses it (admitting any
/// user name with any password would make `allow_anonymous = false` protect nothing).
/// `$SYS` is read-only for clients.
#[derive(Clone, Copy, Debug)]
pub struct BasicAuth {
    pub allow_anonymous: bool,
}

impl Authenticator for BasicAuth {
    fn authenticate(&self, req: &ConnectRequest) -> AuthCheck {
        AuthCheck::Done(if req.auth_method.is_some() {
            AuthOutcome::Deny(AuthFailure::BadAuthenticationMethod)
        } else if !self.allow_anonymous {
            // No password file: no credentials can be checked, so none are accepted.
            AuthOutcome::Deny(if req.username.is_some() {
                AuthFailure::BadUserNameOrPassword
            } else {
                AuthFailure::NotAuthorized
            })
        } else {
            AuthOutcome::Allow(Identity {
                username: req.username.clone(),
            })
        })
    }
}

impl Authorizer for BasicAuth {
    fn check(&self, _client: ClientRef<'_>, action: Action, topic: &str) -> Result<(), Denial> {
        match action {
            Action::Publish { .. } if topic::is_sys_topic(topic) => Err(Denial::SysTopicReadOnly),
            _ => Ok(()),
        }
    }
}

/// The pair the broker consults, shared by every connection and session.
#[derive(Clone)]
pub struct Security {
    pub authenticator: Arc<dyn Authenticator>,
    pub authorizer: Arc<dyn Authorizer>,
}

impl Security {
    /// The built-in rules ([`BasicAuth`]).
    pub fn basic(allow_anonymous: bool) -> Security {
        let basic = Arc::new(BasicAuth { allow_anonymous });
        Security {
            authenticator: basic.clone(),
            authorizer: basic,
        }
    }
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Security")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(username: Option<&str>, password: Option<&[u8]>) -> ConnectRequest {
        ConnectRequest {
            client_id: ClientId::from("c"),
            username: username.map(ByteString::from),
            password: password.map(Bytes::copy_from_slice),
            peer: "127.0.0.1:1".into(),
            transport: "tcp",
            protocol: ProtocolVersion::V311,
            auth_method: None,
            auth_data: None,
        }
    }

    fn outcome(a: &dyn Authenticator, r: &ConnectRequest) -> AuthOutcome {
        match a.authenticate(r) {
            AuthCheck::Done(o) => o,
            AuthCheck::Pending(_) => panic!("the basic rules answer at once"),
        }
    }

    #[test]
    fn anonymous_allowed_admits_everyone_with_their_user_name() {
        let a = BasicAuth {
            allow_anonymous: true,
        };
        assert_eq!(
            outcome(&a, &req(None, None)),
            AuthOutcome::Allow(Identity { username: None })
        );
        assert_eq!(
            outcome(&a, &req(Some("u"), Some(b"p"))),
            AuthOutcome::Allow(Identity {
                username: Some("u".into())
            })
        );
    }

    #[test]
    fn anonymous_off_without_a_password_source_refuses_every_client() {
        let a = BasicAuth {
            allow_anonymous: false,
        };
        assert_eq!(
            outcome(&a, &req(None, None)),
            AuthOutcome::Deny(AuthFailure::NotAuthorized)
        );
        // A user name with any password proves nothing when there is nothing to check it
        // against (Mosquitto refuses it too).
        assert_eq!(
            outcome(&a, &req(Some("nobody"), Some(b"anything"))),
            AuthOutcome::Deny(AuthFailure::BadUserNameOrPassword)
        );
    }

    #[test]
    fn an_authentication_method_is_not_supported_by_the_basic_rules() {
        let a = BasicAuth {
            allow_anonymous: true,
        };
        let mut r = req(None, None);
        r.auth_method = Some("SCRAM-SHA-1".into());
        assert_eq!(
            outcome(&a, &r),
            AuthOutcome::Deny(AuthFailure::BadAuthenticationMethod)
        );
    }

    #[test]
    fn sys_is_read_only_for_clients_and_readable() {
        let a = BasicAuth {
            allow_anonymous: true,
        };
        let c = ClientRef {
            client_id: "c",
            username: None,
        };
        let publish = Action::Publish {
            qos: QoS::AtMostOnce,
            retain: false,
        };
        assert_eq!(
            a.check(c, publish, "$SYS/broker/uptime"),
            Err(Denial::SysTopicReadOnly)
        );
        assert_eq!(a.check(c, publish, "home/light"), Ok(()));
        let sub = Action::Subscribe {
            qos: QoS::AtMostOnce,
        };
        assert_eq!(a.check(c, sub, "$SYS/#"), Ok(()));
        assert!(!a.checks_receive());
    }
}
