//! What the session's state machine (state.rs) exchanges with the Session actor: the
//! in-flight record of a delivery, the outcome of offering a message, and the next packet to
//! hand to the writer.

use crate::codec::Packet;
#[cfg(test)]
use crate::codec::{Ack, Publish};
use crate::delivery::{Delivery, Resend};
use crate::metrics::DropReason;

/// Where an outbound QoS 1/2 message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutState {
    /// QoS 1 sent, waiting for PUBACK.
    AwaitPubAck,
    /// QoS 2 sent, waiting for PUBREC.
    AwaitPubRec,
    /// QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP.
    AwaitPubComp,
}

#[derive(Clone, Debug)]
pub struct Inflight {
    /// The delivery, with its packet id.
    pub delivery: Delivery,
    pub state: OutState,
    /// Send order, so a reconnect resends in the original order [MQTT-4.6.0-1].
    pub seq: u64,
}

impl Inflight {
    /// The packet that finished this delivery, for its trace: PUBCOMP once PUBREL was sent,
    /// otherwise PUBACK.
    pub fn acked_by(&self) -> &'static str {
        match self.state {
            OutState::AwaitPubComp => "PUBCOMP",
            _ => "PUBACK",
        }
    }
}

/// What `drain` hands to the writer next.
#[derive(Debug)]
pub enum Outbound {
    /// A control packet (CONNACK, PUBACK, PUBREL, SUBACK, ...): no message of its own.
    Packet(Packet),
    Publish(Delivery),
    /// A resend after a reconnect (see [`Resend`]).
    Resend(Resend),
    /// A queued message that will not be sent to this client after all (expired, or larger
    /// than its Maximum Packet Size): counted, traced and deleted by the caller.
    Dropped(Delivery, DropReason),
}

impl Outbound {
    #[cfg(test)]
    pub fn into_packet(self) -> Packet {
        match self {
            Outbound::Packet(p) => p,
            Outbound::Resend(Resend::PubRel(pkid, _)) => Packet::PubRel(Ack::new(pkid)),
            Outbound::Dropped(p, reason) => panic!("{reason:?}: {p:?} was dropped"),
            Outbound::Publish(d) | Outbound::Resend(Resend::Publish(d)) => {
                Packet::Publish(Publish {
                    dup: d.dup,
                    qos: d.qos,
                    retain: d.retain,
                    topic: d.msg.topic.clone(),
                    pkid: d.pkid,
                    payload: d.msg.payload.clone(),
                    properties: d.msg.properties.clone(),
                })
            }
        }
    }
}
