//! A connection attaching to its session, detaching from it, being taken over, and broker
//! shutdown.

use super::{Link, LinkExtra, Session};
use crate::close::CloseReason;
use crate::codec::{connack, ConnAck, Packet};
use crate::connection::{CloseConnection, Connection};
use crate::session::messages::{Attach, Attached, Detach, Restored, SessionEnded, ShutdownSession};
use crate::session::replies::ReplyOrder;
use actix::prelude::*;
use actix::WeakAddr;
use courtier_storage::Op;
use std::collections::VecDeque;

/// Ask a connection to close, if it still runs (a gone one has nothing left to close).
pub(super) fn close_connection(conn: &WeakAddr<Connection>, reason: CloseReason) {
    if let Some(conn) = conn.upgrade() {
        conn.do_send(CloseConnection { reason });
    }
}

impl Handler<Attach> for Session {
    type Result = Result<Attached, SessionEnded>;

    fn handle(&mut self, msg: Attach, ctx: &mut Context<Self>) -> Self::Result {
        if self.ended {
            return Err(SessionEnded);
        }
        // Take-over [MQTT-3.1.4-2]: close the old connection; its Will is published, as
        // Mosquitto does, because that network connection ended without DISCONNECT.
        if let Some(mut old) = self.detach_link() {
            log::info!(
                "client {:?}: taken over by a new connection",
                &*self.client_id
            );
            close_connection(&old.conn, CloseReason::TakenOver);
            if let Some(will) = old.take_will() {
                self.publish_will(will);
            }
        }
        let session_present = !msg.clean_start && self.known;
        if msg.clean_start && (self.known || !self.state.subscriptions.is_empty()) {
            // [MQTT-3.1.2-6]: discard any previous session.
            self.discard_state();
        }
        self.known = true;
        self.expiry_generation = self.expiry_generation.wrapping_add(1);
        self.protocol = msg.protocol;
        self.expiry_interval = msg.session_expiry;
        if self.persistent && !msg.persistent {
            // A stored session taken up by a connection that lets it end with it (5.0 Session
            // Expiry 0): the stored copy goes now, while the session still counts as stored.
            self.persist(vec![Op::DeleteSession(self.client_id.to_string())]);
        }
        self.set_persistent(msg.persistent);
        self.state.set_receive_maximum(msg.receive_maximum);
        self.persist(vec![Op::PutSession(self.meta())]);
        let extra = LinkExtra {
            will: msg.will,
            username: msg.username,
            max_packet_size: msg.max_packet_size,
        };
        self.link = Some(Link {
            conn_id: msg.conn_id,
            conn: msg.conn,
            writer: msg.writer,
            extra: (!extra.is_default()).then(|| Box::new(extra)),
            replies: ReplyOrder::default(),
            held: VecDeque::new(),
            closing: false,
        });
        self.deps.metrics.client_connected(msg.protocol);
        // CONNACK goes out first, ahead of any resent or queued message [MQTT-3.2.0-1].
        self.state.resume();
        self.state.push_control(Packet::ConnAck(ConnAck {
            session_present,
            code: connack::ACCEPTED,
            properties: msg.connack,
        }));
        self.drain(ctx);
        Ok(Attached { session_present })
    }
}

impl Handler<Detach> for Session {
    type Result = ();

    fn handle(&mut self, msg: Detach, ctx: &mut Context<Self>) {
        if self.link.as_ref().map(|l| l.conn_id) != Some(msg.conn_id) {
            return; // an old connection, already taken over
        }
        let mut link = self.detach_link().expect("checked above");
        if msg.reason.publishes_will() {
            if let Some(will) = link.take_will() {
                self.publish_will(will);
            }
        }
        // A 5.0 DISCONNECT may change the Session Expiry Interval [MQTT-3.14.2]; 0 ends the
        // session now (the connection refused raising it from 0).
        if let Some(secs) = msg.expiry {
            self.expiry_interval = Some(secs);
            if secs == 0 {
                // Ended now, its stored copy with it (`end` deletes it while the session still
                // counts as persistent).
                return self.end(ctx);
            }
        }
        if self.persistent {
            self.hold_while_offline(ctx);
            self.persist(vec![Op::PutSession(self.meta())]);
            self.schedule_expiry(self.expiry(), ctx);
        } else {
            self.end(ctx);
        }
    }
}

impl Handler<Restored> for Session {
    type Result = ();

    fn handle(&mut self, _: Restored, _ctx: &mut Context<Self>) {}
}

impl Handler<ShutdownSession> for Session {
    type Result = ();

    /// An online session is stored as of now (its client is last seen now); an offline one
    /// is already stored as of its client's departure, which its expiry counts from, so a
    /// restart neither rewrites nor extends it.
    fn handle(&mut self, _: ShutdownSession, _ctx: &mut Context<Self>) {
        if let Some(link) = self.detach_link() {
            close_connection(&link.conn, CloseReason::ServerShutdown);
            self.persist(vec![Op::PutSession(self.meta())]);
        }
    }
}
