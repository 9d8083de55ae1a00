//! The per-connection protocol rules, pure (no actor, no I/O), in the manner of EMQX's
//! `emqx_channel`: what a CONNECT settles, the CONNACK that answers it, which packets a client
//! may send and what each one means for the connection, and the DISCONNECT the broker sends a
//! 5.0 client before closing. The Connection actor (mod.rs, connect.rs) only does what these
//! functions decide; the unit tests below drive them without a runtime.
//!
//! 3.1, 3.1.1 and 5.0 share one path: 5.0 adds properties and reason codes where the packet
//! carries them, and nothing here branches on the version where the behaviour is the same.

use crate::close::{CloseReason, Refusal};
use crate::codec::{
    ConnAck, ConnAckProperties, Connect, DecodeError, Disconnect, DisconnectProperties, Packet,
    ProtocolVersion, Publish, ReasonCode,
};
use crate::config::BrokerConfig;
use crate::message::ClientId;
use bytestring::ByteString;
use std::num::{NonZeroU16, NonZeroU32};

/// The largest packet the protocol allows (a 4-byte Remaining Length plus the fixed header):
/// a `max_packet_size` at least this large is not worth announcing.
const PROTOCOL_MAX_PACKET: u32 = 268_435_455 + 5;

/// What a CONNECT settled, before authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub protocol: ProtocolVersion,
    pub client_id: ClientId,
    /// The broker chose the id (the CONNECT's was empty): 5.0 tells it in CONNACK.
    pub assigned: bool,
    /// The keep-alive the broker holds the client to, in seconds (0: none).
    pub keep_alive: u16,
    /// 5.0: the broker overrode the client's keep-alive (`max_keepalive`) and says so.
    pub server_keep_alive: Option<u16>,
    /// 5.0: the Session Expiry Interval of the CONNECT (absent = 0); `None` for 3.x, whose
    /// persistent sessions expire after the broker's `session_expiry_secs`.
    pub session_expiry: Option<u32>,
    /// 5.0: the largest packet the client accepts; the broker never sends it a larger one.
    pub max_packet_size: Option<NonZeroU32>,
    /// 5.0: how many QoS 1/2 PUBLISHes the client takes unacknowledged (absent: 65,535).
    pub receive_maximum: Option<NonZeroU16>,
    /// 5.0: whether the client accepts Reason Strings and User Properties on packets other than
    /// PUBLISH, CONNACK and DISCONNECT (Request Problem Information, default 1).
    pub problem_information: bool,
    /// 5.0: the topic aliases the broker may assign to the topics it sends this client:
    /// min(its Topic Alias Maximum, `max_topic_alias_out`); 0 for none [MQTT-3.1.2-27].
    pub topic_aliases_out: u16,
}

impl Negotiated {
    /// Whether the session outlives the connection: 3.x clean session 0, 5.0 a non-zero
    /// Session Expiry Interval [MQTT-3.1.2-23].
    pub fn persistent(&self, clean_start: bool) -> bool {
        match self.session_expiry {
            Some(secs) => secs > 0,
            None => !clean_start,
        }
    }
}

/// Settles what the CONNECT asks for against the broker's limits: the client id (assigned
/// with `assign` when empty and allowed), the keep-alive and the 5.0 properties.
pub fn negotiate(
    c: &Connect,
    cfg: &BrokerConfig,
    assign: impl FnOnce() -> ClientId,
) -> Result<Negotiated, Refusal> {
    let v5 = c.protocol == ProtocolVersion::V5;
    // [MQTT-3.1.3-6..9]: 3.1.1 assigns an id only with a clean session (3.1 never); 5.0 always
    // [MQTT-3.1.3-6] and tells the client [MQTT-3.2.2-16].
    let (client_id, assigned) = if c.client_id.starts_with(crate::bridge::QUEUE_PREFIX) {
        // The store names the bridges' queues so; no client may take one over.
        return Err(Refusal::ClientIdentifierNotValid);
    } else if !c.client_id.is_empty() {
        (c.client_id.clone(), false)
    } else if v5 || (c.protocol == ProtocolVersion::V311 && c.clean_start) {
        (assign(), true)
    } else {
        return Err(Refusal::ClientIdentifierNotValid);
    };
    let max = cfg.max_keepalive;
    let too_long = c.keep_alive > max || (c.keep_alive == 0 && max < u16::MAX);
    let (keep_alive, server_keep_alive) = match (too_long, v5) {
        (false, _) => (c.keep_alive, None),
        (true, true) => (max, Some(max)),
        // A 3.x client cannot be told another keep-alive; none is tolerated, as before.
        (true, false) if c.keep_alive == 0 => (0, None),
        (true, false) => return Err(Refusal::KeepAliveTooLong),
    };
    let p = &c.properties;
    Ok(Negotiated {
        protocol: c.protocol,
        client_id,
        assigned,
        keep_alive,
        server_keep_alive,
        session_expiry: v5.then(|| p.session_expiry_interval.unwrap_or(0)),
        max_packet_size: p.maximum_packet_size,
        receive_maximum: p.receive_maximum,
        problem_information: p.request_problem_information.unwrap_or(true),
        topic_aliases_out: p
            .topic_alias_maximum
            .unwrap_or(0)
            .min(cfg.max_topic_alias_out),
    })
}

/// The CONNACK properties of an accepted 5.0 CONNECT: what the broker supports, said where it
/// differs from what an absent property means [MQTT-3.2.2]. `None` for 3.x.
pub fn connack_properties(n: &Negotiated, cfg: &BrokerConfig) -> Option<Box<ConnAckProperties>> {
    if n.protocol != ProtocolVersion::V5 {
        return None;
    }
    Some(Box::new(ConnAckProperties {
        assigned_client_identifier: n.assigned.then(|| n.client_id.clone()),
        server_keep_alive: n.server_keep_alive,
        maximum_packet_size: (cfg.max_packet_size < PROTOCOL_MAX_PACKET)
            .then(|| NonZeroU32::new(cfg.max_packet_size))
            .flatten(),
        // `[broker] shared_subscriptions_available`, said either way.
        shared_subscription_available: Some(cfg.shared_subscriptions_available),
        // The switches the configuration may turn off are said only when off (absent = 1).
        subscription_identifiers_available: (!cfg.subscription_identifiers_available)
            .then_some(false),
        wildcard_subscription_available: (!cfg.wildcard_subscriptions_available).then_some(false),
        retain_available: (!cfg.retain_available).then_some(false),
        // Aliases the client may set for the broker (absent: none) [MQTT-3.2.2-17].
        topic_alias_maximum: (cfg.max_topic_alias > 0).then_some(cfg.max_topic_alias),
        // Absent = 65,535: the client keeps at most this many QoS 1/2 PUBLISHes
        // unacknowledged [MQTT-3.3.4-7] (session/receive.rs holds it to that).
        receive_maximum: (cfg.receive_maximum < u16::MAX)
            .then(|| NonZeroU16::new(cfg.receive_maximum))
            .flatten(),
        // Maximum QoS absent = 2: true of the broker.
        ..ConnAckProperties::default()
    }))
}

/// The CONNACK that refuses a CONNECT, in the client's version; a 5.0 one carries a Reason
/// String unless the client asked for no problem information [MQTT-3.1.2-29].
pub fn refusal_connack(refusal: Refusal, protocol: ProtocolVersion, problem_info: bool) -> ConnAck {
    let properties = (protocol == ProtocolVersion::V5 && problem_info).then(|| {
        Box::new(ConnAckProperties {
            reason_string: Some(ByteString::from_static(refusal.describe())),
            ..ConnAckProperties::default()
        })
    });
    ConnAck {
        session_present: false,
        code: refusal.connack_code(protocol),
        properties,
    }
}

/// The answer to a CONNECT whose protocol level the codec does not speak [MQTT-3.1.2-2]: a
/// client of a level above 5 is answered as 5.0 would (0x84), anything else in the 3.1.1 form
/// (0x01), which is all an older client can read. The version to encode it with comes along.
pub fn unsupported_level(err: &DecodeError) -> (ConnAck, ProtocolVersion) {
    let protocol = if err.is_newer_than_5() {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    (
        refusal_connack(Refusal::UnsupportedProtocolVersion, protocol, false),
        protocol,
    )
}

/// What a DISCONNECT from the client means [MQTT-3.14]: whether the Will is published (5.0
/// reason code 0x04) and the Session Expiry Interval it sets, if any. Setting a non-zero
/// interval when the CONNECT's was 0 is a protocol error [MQTT-3.14.2-2].
pub fn on_disconnect(
    d: &Disconnect,
    connect_expiry: Option<u32>,
) -> Result<(bool, Option<u32>), CloseReason> {
    let with_will = d.reason == ReasonCode::DisconnectWithWillMessage;
    let expiry = d
        .properties
        .as_ref()
        .and_then(|p| p.session_expiry_interval);
    if let (Some(new), Some(0)) = (expiry, connect_expiry) {
        if new != 0 {
            return Err(CloseReason::Protocol(
                "MQTT-3.14.2-2",
                format!("DISCONNECT sets a session expiry of {new} s after CONNECT set 0"),
            ));
        }
    }
    Ok((with_will, expiry))
}

/// Checks a packet from an attached client that the connection can judge alone; `Err` closes
/// the connection. A Response Topic must be a valid topic name [MQTT-3.3.2-14]; AUTH is a
/// protocol error without an authentication method in the CONNECT [MQTT-4.12.0-7]; packets
/// only a server sends close the connection [MQTT-4.8.0-1].
pub fn check_inbound(p: &Packet) -> Result<(), CloseReason> {
    match p {
        Packet::Publish(publish) => check_publish(publish),
        Packet::Auth(_) => Err(CloseReason::Protocol(
            "MQTT-4.12.0-7",
            "AUTH without an authentication method in CONNECT".into(),
        )),
        Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
            Err(CloseReason::Protocol(
                "MQTT-4.8.0-1",
                format!("{} may only be sent by a server", p.kind()),
            ))
        }
        _ => Ok(()),
    }
}

/// The part of [`check_inbound`] for a PUBLISH: a Response Topic must be a valid topic name
/// [MQTT-3.3.2-14] (a 3.x PUBLISH has no properties and passes at once).
pub fn check_publish(publish: &Publish) -> Result<(), CloseReason> {
    let Some(props) = &publish.properties else {
        return Ok(());
    };
    if let Some(rt) = &props.response_topic {
        if let Err(e) = crate::topic::validate_topic_name(rt) {
            return Err(CloseReason::Protocol(
                "MQTT-3.3.2-14",
                format!("invalid Response Topic {:?}: {e}", &**rt),
            ));
        }
    }
    Ok(())
}

/// The DISCONNECT the broker sends before closing a 5.0 client for `reason` [MQTT-4.13.1-1];
/// `None` for 3.x, which has no server DISCONNECT, and for closes that send nothing.
pub fn disconnect_packet(
    reason: &CloseReason,
    protocol: ProtocolVersion,
    problem_info: bool,
) -> Option<Packet> {
    if protocol != ProtocolVersion::V5 {
        return None;
    }
    let code = reason.disconnect_code()?;
    // DISCONNECT may always carry a Reason String [MQTT-3.14.2-3]; it is skipped only for a
    // client that asked for no problem information, to keep the packet small.
    let properties = problem_info.then(|| {
        Box::new(DisconnectProperties {
            reason_string: Some(ByteString::from(reason.to_string())),
            ..DisconnectProperties::default()
        })
    });
    Some(Packet::Disconnect(Disconnect {
        reason: code,
        properties,
    }))
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
