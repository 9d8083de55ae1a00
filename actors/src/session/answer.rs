//! Answering the client's packets: each reply takes its place in the connection's
//! [`ReplyOrder`](super::replies::ReplyOrder) and is released, in order, into the control queue
//! that `drain` writes ahead of deliveries.
//!
//! The packet's credit travels with its reply. A reply with a packet keeps its credit until
//! that packet is in the outbox (`Link::held`), so a client that does not read its
//! acknowledgements runs out of credits and its connection stops reading.

use super::Session;
use crate::close::CloseReason;
use crate::codec::Packet;
use crate::connection::Credit;
use crate::delivery::Delivery;
use actix::prelude::*;

/// What answering one inbound packet produces.
#[derive(Debug, Default)]
pub struct Reply {
    /// PUBACK, PUBREC, PUBREL, PUBCOMP, PINGRESP, SUBACK or UNSUBACK.
    pub packet: Option<Packet>,
    /// Retained messages a SUBSCRIBE matched, offered once its SUBACK is queued
    /// [MQTT-3.3.1-6].
    pub retained: Vec<Delivery>,
    /// Close the connection, after the replies before this one.
    pub close: Option<CloseReason>,
    pub credit: Option<Credit>,
}

impl Reply {
    pub fn packet(packet: Option<Packet>, credit: Option<Credit>) -> Reply {
        Reply {
            packet,
            credit,
            ..Reply::default()
        }
    }

    pub fn close(reason: CloseReason) -> Reply {
        Reply {
            close: Some(reason),
            ..Reply::default()
        }
    }
}

impl Session {
    /// A reply ready now (released at once unless an earlier one is still waiting).
    pub(super) fn answer(&mut self, reply: Reply) {
        let Some(link) = &mut self.link else { return };
        if let Some(r) = link.replies.ready(reply) {
            self.release(r);
        }
    }

    /// A reply that `work` produces later; `exclusive` also stops this session from handling
    /// anything else meanwhile (SUBSCRIBE and UNSUBSCRIBE: later packets of the client must
    /// see the subscription change, and a subscription must not see earlier publishes).
    pub(super) fn answer_later<F>(&mut self, work: F, exclusive: bool, ctx: &mut Context<Self>)
    where
        F: ActorFuture<Self, Output = Reply> + 'static,
    {
        let Some(link) = &mut self.link else { return };
        let ticket = link.replies.reserve();
        let conn_id = link.conn_id;
        let done = work.map(move |reply, act: &mut Session, ctx| {
            let Some(link) = act.link.as_mut().filter(|l| l.conn_id == conn_id) else {
                return; // that connection is gone; so is the reply's purpose
            };
            for r in link.replies.fill(ticket, reply) {
                act.release(r);
            }
            act.drain(ctx);
        });
        match exclusive {
            true => ctx.wait(done),
            false => {
                ctx.spawn(done);
            }
        }
    }

    /// A reply's turn has come.
    fn release(&mut self, r: Reply) {
        let Some(link) = &mut self.link else { return };
        if link.closing {
            return;
        }
        if let Some(reason) = r.close {
            // Replies to packets received after this one are not written.
            link.closing = true;
            super::attach::close_connection(&link.conn, reason);
            return;
        }
        if let Some(p) = r.packet {
            link.quota.on_reply(&p);
            self.state.push_control(p);
            if let Some(credit) = r.credit {
                link.held.hold(credit);
            }
        }
        for p in r.retained {
            self.state.offer_retained(p);
        }
    }
}
