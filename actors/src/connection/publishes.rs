//! PUBLISH packets from the client, handed to the session in batches.
//!
//! An actix message per PUBLISH would cost an envelope and a mailbox node (two allocations), a
//! turn of the session and a drain into the writer for each (docs/PERFORMANCE.md, part C).
//! The connection keeps the PUBLISHes it reads, each with its credit, and hands them over as
//! one `InboundPublishes` when the socket has nothing more for now (`Read::Drained`,
//! reader.rs), when the last credit is taken, or before any other packet, so the session
//! still sees every packet in the order the client sent it.
//!
//! The hand-over needs no message to itself: such a message makes actix poll the reader
//! again in the same turn, past the packets a turn allows (turns.rs), and the packet read then
//! finds every credit held by the batch not yet handed over. The connection would stop
//! reading until the session has routed the batch, and in fan-out the subscribers' writers
//! would get smaller bursts, more system calls per delivery (docs/PERFORMANCE.md, part C).
//! Handed over when the last credit goes, a batch reaches the session as single packets do,
//! at most `PIPELINE` per turn of the connection. With no credit free, what is held goes at
//! once and the PUBLISH that found none waits for one (`send_packet`), reading stopped
//! meanwhile.

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
        if self.credits.none_free() {
            // Nothing read after it could go before these: they go now, not after a stall.
            self.flush_publishes();
        }
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
}
