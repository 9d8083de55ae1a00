//! Handing packets to the session: in the order they were read, each with a credit (credit.rs),
//! acknowledgements and PUBLISHes held for a batch (acks.rs, publishes.rs) and handed over
//! before any other packet.

use super::credit::Credit;
use super::Connection;
use crate::codec::Packet;
use crate::session::messages::{ClientAck, Inbound};
use crate::session::Session;
use actix::prelude::*;

impl Connection {
    /// Hand a packet to the session, in order. The session handles packets in the order they
    /// were sent, so everything received before a DISCONNECT or EOF is routed before the
    /// session learns the connection is gone (a clean session then ends at once). With no
    /// credit free, reading stops (`ctx.wait`) until the session returns one.
    pub(super) fn forward(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let held = match &packet {
            Packet::PubAck(a) if a.is_plain() => Some(ClientAck::PubAck(a.pkid)),
            Packet::PubRec(a) if a.is_plain() => Some(ClientAck::PubRec(a.pkid)),
            Packet::PubComp(a) if a.is_plain() => Some(ClientAck::PubComp(a.pkid)),
            _ => None,
        };
        if let Some(ack) = held {
            return self.hold_ack(ack, ctx);
        }
        match packet {
            Packet::Publish(p) if self.acks.is_empty() => self.hold_publish(p, ctx),
            packet => {
                // Held packets go first: the session sees packets in the order they were sent.
                self.flush_publishes();
                self.flush_acks(Some(packet), ctx);
            }
        }
    }

    /// Hand one packet to the session with a credit, waiting for one if none is free.
    pub(super) fn send_packet(&mut self, packet: Packet, ctx: &mut Context<Self>) {
        let conn_id = self.id;
        self.with_credit(ctx, move |session, credit| {
            session.do_send(Inbound {
                conn_id,
                packet,
                credit,
            });
            None
        });
    }

    /// Run `send` with a credit and the attached session: now if a credit is free, else once
    /// the session returns one (reading stops meanwhile, `ctx.wait`). `send` hands its message
    /// over and returns the packet to hand over after it, if any, which then takes a credit of
    /// its own; while waiting, that runs before anything else, so it keeps its order. Nothing
    /// runs if the connection is no longer attached by then.
    pub(super) fn with_credit<F>(&mut self, ctx: &mut Context<Self>, send: F)
    where
        F: FnOnce(&Addr<Session>, Credit) -> Option<Packet> + 'static,
    {
        let Some((session, _)) = &self.session else {
            return;
        };
        if let Some(credit) = self.credits.try_take() {
            // The address is borrowed: cloning an actix `Addr` allocates (its sender task), and
            // one clone per packet was ~4 % of the broker's instructions in fan-in.
            if let Some(then) = send(session, credit) {
                self.send_packet(then, ctx);
            }
            return;
        }
        let session = session.clone();
        let wait = self.credits.clone().take();
        ctx.wait(wait.into_actor(self).map(move |credit, act, ctx| {
            if let (Some(credit), true) = (credit, act.channel.is_attached()) {
                if let Some(then) = send(&session, credit) {
                    act.send_packet(then, ctx);
                }
            }
        }));
    }
}
