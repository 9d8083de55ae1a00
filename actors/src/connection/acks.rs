//! Acknowledgements of deliveries (PUBACK, PUBREC, PUBCOMP) from the client, handed to the
//! session in batches.
//!
//! In fan-out every delivery comes back as a PUBACK (QoS 2: a PUBREC and a PUBCOMP), and a
//! client acknowledges a burst of deliveries in one write: forwarded one by one, each cost an
//! actix message, a credit and a turn of the session (~8 % of fan-out QoS 1 in perf). The
//! connection keeps the acknowledgements it reads and hands them over as one `InboundAcks` (one
//! credit) once the packets read together are handled, or before any other packet, so the
//! session still sees every packet in the order the client sent it.
//!
//! Not handed over at `Read::Drained` as PUBLISHes are (publishes.rs): measured that way,
//! fan-out QoS 2 with the default window of 20 cost 9 % more CPU per delivery (larger, later
//! batches of acknowledgements reopen the subscribers' windows later; docs/PERFORMANCE.md,
//! part C).

use super::Connection;
use crate::codec::Packet;
use crate::session::messages::{ClientAck, InboundAcks};
use actix::prelude::*;

/// A batch is handed over at this size even if more PUBACKs are waiting.
const MAX_BATCH: usize = 64;

/// Hand over the PUBACKs held so far (sent to itself after the first one of a batch).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct FlushAcks;

impl Connection {
    /// Hold an acknowledgement; it reaches the session with the next flush.
    pub(super) fn hold_ack(&mut self, ack: ClientAck, ctx: &mut Context<Self>) {
        // PUBLISHes read before it go first (they hold their credits already).
        self.flush_publishes();
        self.acks.push(ack);
        if self.acks.len() >= MAX_BATCH {
            self.flush_acks(None, ctx);
        } else if !self.acks_flush_pending {
            // Handled after the packets already read in this turn of the actor.
            self.acks_flush_pending = true;
            ctx.notify(FlushAcks);
        }
    }

    /// Hand the held acknowledgements to the session, with one credit (waiting for it like any packet),
    /// then `then`, the packet that made them go.
    pub(super) fn flush_acks(&mut self, then: Option<Packet>, ctx: &mut Context<Self>) {
        if self.acks.is_empty() {
            if let Some(p) = then {
                self.send_packet(p, ctx);
            }
            return;
        }
        // Taken, not drained: an idle connection keeps no buffer.
        let acks = std::mem::take(&mut self.acks);
        let conn_id = self.id;
        self.with_credit(ctx, move |session, credit| {
            session.do_send(InboundAcks {
                conn_id,
                acks,
                credit,
            });
            then
        });
    }

    /// At close: hand over the held acknowledgements if a credit is free, else drop them (as unread
    /// ones would be; a persistent session resends those messages).
    pub(super) fn flush_acks_now(&mut self) {
        let acks = std::mem::take(&mut self.acks);
        if let (Some((session, _)), Some(credit)) = (&self.session, self.credits.try_take()) {
            session.do_send(InboundAcks {
                conn_id: self.id,
                acks,
                credit,
            });
        }
    }
}

impl Handler<FlushAcks> for Connection {
    type Result = ();

    fn handle(&mut self, _: FlushAcks, ctx: &mut Context<Self>) {
        self.acks_flush_pending = false;
        self.flush_acks(None, ctx);
    }
}
