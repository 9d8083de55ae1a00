//! The per-connection protocol state, pure (in the manner of EMQX's `emqx_channel`): it takes
//! what happens to a connection (a decoded packet, a decode error, the session attached, a
//! deadline passed, a close) and says what to do ([`Effect`]); the Connection actor (mod.rs)
//! does it, holding only the I/O handles: the socket's halves, the session's address, timers.
//! The rules it applies are in protocol.rs; the tests below drive it without a runtime.

use super::aliases::TopicAliases;
use super::deadlines::Due;
use super::enhanced_auth::{AuthStep, EnhancedAuth};
use super::protocol;
use crate::close::{CloseReason, Refusal};
use crate::codec::{ConnAck, Connect, DecodeError, Packet, ProtocolVersion, Publish};

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for CONNECT [MQTT-3.1.0-1].
    AwaitingConnect,
    /// Over `max_connections`: waiting for CONNECT only to answer it "server busy".
    Busy,
    /// CONNECT received; negotiating, authenticating, attaching to a session.
    Connecting,
    /// CONNACK sent: packets go to the session.
    Attached(Settled),
    Closed,
}

/// What an attached connection keeps of its CONNECT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settled {
    pub protocol: ProtocolVersion,
    /// The CONNECT's Session Expiry Interval was 0 (5.0): DISCONNECT may not raise it.
    pub connect_expiry_zero: bool,
    /// 5.0 Request Problem Information: Reason Strings may be sent.
    pub problem_information: bool,
}

/// What the connection does next.
#[derive(Debug)]
pub enum Effect {
    /// Negotiate, authenticate and attach the CONNECT (connect.rs).
    Connect(Box<Connect>),
    /// Answer the CONNECT "server busy" and close.
    RefuseBusy(Box<Connect>),
    /// Answer with this CONNACK (encoded for this version) and close: a protocol level the
    /// broker does not speak [MQTT-3.1.2-2].
    Refuse(ConnAck, ProtocolVersion),
    /// Hand the packet to the session, in order.
    Forward(Packet),
    /// A 5.0 client's AUTH: run this step of its enhanced authentication (auth_exchange.rs).
    Auth(AuthStep),
    /// Close; `expiry` is the Session Expiry Interval a 5.0 DISCONNECT set.
    Close {
        reason: CloseReason,
        expiry: Option<u32>,
    },
    /// Nothing: the connection is already closing.
    Ignore,
}

impl Effect {
    fn close(reason: CloseReason) -> Effect {
        Effect::Close {
            reason,
            expiry: None,
        }
    }
}

/// What closing leaves to do.
#[derive(Debug, PartialEq)]
pub enum Closing {
    /// It was closed already.
    AlreadyClosed,
    /// Before a session was attached: nothing to tell anyone.
    Unattached,
    /// A session was attached: tell it; a 5.0 client gets this DISCONNECT first.
    Attached { disconnect: Option<Packet> },
}

#[derive(Debug)]
pub struct Channel {
    stage: Stage,
    /// The broker's Topic Alias Maximum (`max_topic_alias`), for 5.0 clients.
    max_topic_alias: u16,
    /// The topic aliases a 5.0 client set, made at the first one it uses.
    aliases: Option<Box<TopicAliases>>,
    /// MQTT 5.0 enhanced authentication (enhanced_auth.rs).
    auth: EnhancedAuth,
}

impl Channel {
    /// A new connection; `busy`: over `max_connections`; `max_topic_alias`: the aliases a 5.0
    /// client may set.
    pub fn new(busy: bool, max_topic_alias: u16) -> Channel {
        Channel {
            stage: if busy {
                Stage::Busy
            } else {
                Stage::AwaitingConnect
            },
            max_topic_alias,
            aliases: None,
            auth: EnhancedAuth::default(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.stage == Stage::Closed
    }

    pub fn is_attached(&self) -> bool {
        matches!(self.stage, Stage::Attached(_))
    }

    pub fn auth(&mut self) -> &mut EnhancedAuth {
        &mut self.auth
    }

    /// A packet decoded from the client.
    pub fn handle_in(&mut self, mut packet: Packet) -> Effect {
        // What an attached client sends most, PUBLISH and acknowledgements, is judged before
        // the match, which moves the packet through a tuple (with the check that follows, ~80
        // instructions per PUBACK in fan-out; docs/PERFORMANCE.md). Acknowledgements pass
        // every rule there; a PUBLISH takes its own checks here.
        if let Stage::Attached(a) = self.stage {
            match &mut packet {
                Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => {
                    return Effect::Forward(packet)
                }
                Packet::Publish(p) => {
                    if let Err(reason) = self.publish_in(a, p) {
                        return Effect::close(reason);
                    }
                    return Effect::Forward(packet);
                }
                _ => {}
            }
        }
        match (self.stage, packet) {
            (Stage::Closed, _) => Effect::Ignore,
            (Stage::AwaitingConnect, Packet::Connect(c)) => {
                self.stage = Stage::Connecting;
                Effect::Connect(c)
            }
            (Stage::Busy, Packet::Connect(c)) => Effect::RefuseBusy(c),
            (Stage::AwaitingConnect | Stage::Busy, other) => Effect::close(CloseReason::Protocol(
                "MQTT-3.1.0-1",
                format!("first packet was {}, not CONNECT", other.kind()),
            )),
            (_, Packet::Connect(_)) => Effect::close(CloseReason::Protocol(
                "MQTT-3.1.0-2",
                "second CONNECT".into(),
            )),
            (Stage::Attached(a), Packet::Disconnect(d)) => {
                match protocol::on_disconnect(&d, a.connect_expiry_zero.then_some(0)) {
                    Ok((with_will, expiry)) => Effect::Close {
                        reason: CloseReason::ClientDisconnect { with_will },
                        expiry,
                    },
                    Err(reason) => Effect::close(reason),
                }
            }
            (_, Packet::Disconnect(_)) => {
                Effect::close(CloseReason::ClientDisconnect { with_will: false })
            }
            (_, Packet::Auth(a)) => match self.auth.on_auth(&a) {
                Ok(step) => Effect::Auth(step),
                Err(reason) => Effect::close(reason),
            },
            (Stage::Connecting, p) if self.auth.connecting() => {
                Effect::close(CloseReason::Protocol(
                    "MQTT-3.1.2-30",
                    format!("{} before CONNACK during enhanced authentication", p.kind()),
                ))
            }
            (_, p) => match protocol::check_inbound(&p) {
                Ok(()) => Effect::Forward(p),
                Err(reason) => Effect::close(reason),
            },
        }
    }

    /// A PUBLISH from an attached client: a 5.0 client's topic alias resolved (aliases.rs),
    /// then the checks the connection makes alone (`protocol::check_publish`).
    fn publish_in(&mut self, a: Settled, p: &mut Publish) -> Result<(), CloseReason> {
        if a.protocol == ProtocolVersion::V5 {
            TopicAliases::resolve(&mut self.aliases, self.max_topic_alias, p)?;
        }
        protocol::check_publish(p)
    }

    /// The codec refused the client's bytes: an unsupported protocol level is answered with
    /// a CONNACK [MQTT-3.1.2-2], anything else closes (with the error's reason code).
    pub fn on_decode_error(&mut self, e: &DecodeError) -> Effect {
        if self.is_closed() {
            return Effect::Ignore;
        }
        if e.is_unsupported_protocol_level() {
            let (connack, version) = protocol::unsupported_level(e);
            return Effect::Refuse(connack, version);
        }
        if let DecodeError::ConnectTooLarge { level: 5, .. } = e {
            // A 5.0 client can be told (CONNACK 0x95); a 3.x one has no code for it.
            let connack =
                protocol::refusal_connack(Refusal::PacketTooLarge, ProtocolVersion::V5, true);
            return Effect::Refuse(connack, ProtocolVersion::V5);
        }
        Effect::close(CloseReason::from_decode(e))
    }

    /// The CONNACK went out: from now on packets go to the session.
    pub fn attached(&mut self, a: Settled) {
        if self.stage == Stage::Connecting {
            self.stage = Stage::Attached(a);
        }
    }

    /// A deadline the sweep found passed: the close it means now, if any. A connect deadline
    /// found while a CONNECT was being attached reaches the connection only after the attach,
    /// and must not then close an attached client.
    pub fn deadline_passed(&self, due: Due) -> Option<CloseReason> {
        match (due, self.stage) {
            (Due::Connect(_), Stage::AwaitingConnect | Stage::Busy | Stage::Connecting) => {
                Some(CloseReason::ConnectTimeout)
            }
            (Due::KeepAlive(_), Stage::Attached(_)) => Some(CloseReason::KeepAliveTimeout),
            _ => None,
        }
    }

    /// The connection closes for `reason`.
    pub fn close(&mut self, reason: &CloseReason) -> Closing {
        match std::mem::replace(&mut self.stage, Stage::Closed) {
            Stage::Closed => Closing::AlreadyClosed,
            Stage::Attached(a) => Closing::Attached {
                disconnect: protocol::disconnect_packet(reason, a.protocol, a.problem_information),
            },
            _ => Closing::Unattached,
        }
    }
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
