//! What the session's state machine (state.rs) exchanges with the Session actor: the
//! in-flight record of a delivery, the outcome of offering a message, and the next packet to
//! hand to the writer; and the rarely used parts of that state, kept out of line.

#[cfg(test)]
use crate::codec::{Ack, Publish};
use crate::codec::{LastWill, Packet};
use crate::delivery::{Delivery, Resend};
use crate::metrics::DropReason;
use foldhash::HashSet;
use std::collections::VecDeque;

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

/// Parts of the session state that are empty nearly all the time, out of line: inline they
/// were ~100 bytes of every Session actor, which put its task one allocator size class higher
/// (docs/PERFORMANCE.md, "Memory per idle connection").
#[derive(Debug, Default)]
pub(super) struct Rare {
    /// Packets to resend after a reconnect (DUP publishes and PUBRELs), before new messages,
    /// each with its message's trace context: the resend is a hop of that message's trace.
    pub(super) resend: VecDeque<Resend>,
    /// Retained messages for new subscriptions: paced by the inflight window, outside the queue
    /// limit (a burst of thousands of discovery topics must not overflow the queue).
    pub(super) retained: VecDeque<Delivery>,
    /// Inbound QoS 2 packet ids received and not yet released by PUBREL [MQTT-4.3.3-2].
    pub(super) inbound_qos2: HashSet<u16>,
    /// A Will waiting out its Will Delay Interval (5.0) while the client is away.
    pub(super) delayed_will: Option<LastWill>,
}

impl Rare {
    pub(super) fn is_empty(&self) -> bool {
        self.resend.is_empty()
            && self.retained.is_empty()
            && self.inbound_qos2.is_empty()
            && self.delayed_will.is_none()
    }
}
