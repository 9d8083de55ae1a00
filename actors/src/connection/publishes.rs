//! PUBLISH packets from the client, handed to the session in batches.
//!
//! An actix message per PUBLISH would cost an envelope and a mailbox node (two allocations), a
//! turn of the session and a drain into the writer for each (docs/PERFORMANCE.md, part C).
//! The connection keeps
//! the PUBLISHes it reads in a turn, each with its credit, and hands them over as one
//! `InboundPublishes` once the packets read together are handled (`FlushHeld`, as for
//! acknowledgements), or before any other packet, so the session still sees every packet in
//! the order the client sent it. Credits bound a batch as they bound single packets: with none
//! free, what is held goes at once and the PUBLISH that found none waits for one
//! (`send_packet`), reading stopped meanwhile.

use super::acks::FlushHeld;
use super::credit::PIPELINE;
use super::Connection;
use crate::codec::{Packet, Publish};
use crate::session::messages::InboundPublishes;
use actix::prelude::*;

impl Connection {
    /// Hold a PUBLISH with its credit; it reaches the session with the next flush. Called
    /// with no acknowledgement held (those go first, with the packet after them).
    pub(super) fn hold_publish(&mut self, p: Publish, ctx: &mut Context<Self>) {
        if self.session.is_none() {
            return;
        }
        let Some(credit) = self.credits.try_take() else {
            // The held ones go now: their credits come back as the session handles them.
            self.flush_publishes();
            return self.send_packet(Packet::Publish(p), ctx);
        };
        if self.publishes.capacity() == 0 {
            // Room for as many as credits allow: one allocation per batch, none while idle.
            self.publishes.reserve_exact(PIPELINE);
        }
        self.publishes.push((p, credit));
        self.flush_later(ctx);
    }

    /// Hand the held PUBLISHes to the session (they hold their credits already). Inline: every
    /// acknowledgement read makes this check.
    #[inline]
    pub(super) fn flush_publishes(&mut self) {
        if !self.publishes.is_empty() {
            self.send_publishes();
        }
    }

    fn send_publishes(&mut self) {
        let publishes = std::mem::take(&mut self.publishes);
        if let Some((session, _)) = &self.session {
            session.do_send(InboundPublishes {
                conn_id: self.id,
                publishes,
            });
        }
    }

    /// Flush what is held once the packets read in this turn of the actor are handled.
    pub(super) fn flush_later(&mut self, ctx: &mut Context<Self>) {
        if !self.flush_pending {
            self.flush_pending = true;
            ctx.notify(FlushHeld);
        }
    }
}
