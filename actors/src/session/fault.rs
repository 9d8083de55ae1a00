//! A panic in one of this session's handlers (supervision.rs catches it): the fault ends the
//! client's connection, as a broken connection would, and nothing else. The actor value, and
//! with it the subscriptions, queue and in-flight messages, is kept; a persistent session stays
//! (in memory and in the store) for the client to reconnect to, a clean one ends.

use super::attach::close_connection;
use super::Session;
use crate::close::CloseReason;
use crate::supervision::{ActorKind, OnStop, Supervision};
use actix::prelude::*;
use courtier_storage::Op;

impl Supervised for Session {
    /// Runs only after a panic: sessions are started with `OnStop::End`.
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        crate::supervision::count_panic::<Self>(&self.deps.metrics);
        // The session's own futures were cancelled with the restart (a wait for room in the
        // outbox among them); its timers are set again below.
        self.waiting_for_writer = false;
        if self.ended {
            return ctx.stop();
        }
        log::error!(
            "client {:?}: its session panicked; closing its connection",
            &*self.client_id
        );
        if let Some(mut link) = self.detach_link() {
            close_connection(&link.conn, CloseReason::InternalError);
            let will = link.take_will();
            if let Some(will) = will.and_then(|w| self.permitted_will(w, link.username())) {
                self.publish_will(will);
            }
            self.hand_over_shared();
        }
        // A Will waiting out its delay lost its timer: it goes now.
        if let Some(will) = self.state.take_delayed_will() {
            self.publish_will(will);
        }
        if !self.persistent {
            return self.end(ctx);
        }
        self.hold_while_offline(ctx);
        self.persist(vec![Op::PutSession(self.meta())]);
        self.schedule_expiry(self.expiry(), ctx);
    }
}

impl Supervision for Session {
    const KIND: ActorKind = ActorKind::Session;
    const ON_STOP: OnStop = OnStop::End;
}

/// Test-only: make this session panic in a handler.
#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for Session {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        panic!("Session {:?}: injected panic", &*self.client_id);
    }
}

/// Test-only: make the connection attached to this session panic in a handler.
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "()")]
pub struct PanicConnection;

#[cfg(feature = "fault-injection")]
impl Handler<PanicConnection> for Session {
    type Result = ();
    fn handle(&mut self, _: PanicConnection, _ctx: &mut Context<Self>) {
        if let Some(conn) = self.link.as_ref().and_then(|l| l.conn.upgrade()) {
            conn.do_send(crate::supervision::InjectPanic);
        }
    }
}
