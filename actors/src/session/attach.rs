//! A connection attaching to its session, detaching from it, being taken over, and broker
//! shutdown.

use super::{Link, LinkExtra, Session};
use crate::close::CloseReason;
use crate::codec::{connack, ConnAck, LastWill, Packet};
use crate::connection::{CloseConnection, Connection};
use crate::metrics::Denied;
use crate::session::messages::{
    Attach, Attached, Detach, Restored, Revoke, SessionEnded, ShutdownSession,
};
use crate::session::replies::ReplyOrder;
use actix::prelude::*;
use actix::WeakAddr;
use courtier_storage::Op;
use std::time::Duration;

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
        // A client back before its Will Delay Interval passed: no Will [MQTT-3.1.3-9]; but a
        // clean start ends the old session, and with it the wait.
        if let Some(will) = self.state.take_delayed_will() {
            if msg.clean_start {
                self.publish_will(will);
            } else {
                log::info!(
                    "client {:?}: back within the will delay; will to {:?} not published",
                    &*self.client_id,
                    &*will.topic
                );
            }
        }
        // Take-over [MQTT-3.1.4-2]: close the old connection; its Will is published, as
        // Mosquitto does, because that network connection ended without DISCONNECT; unless it
        // has a Will Delay Interval and the session goes on with the new connection, which
        // then came back in time.
        if let Some(mut old) = self.detach_link() {
            log::info!(
                "client {:?}: taken over by a new connection",
                &*self.client_id
            );
            crate::trace_hops::event(
                &self.deps.cfg,
                &self.client_id,
                "take_over",
                crate::trace_record::RecordedBy::Session,
                |r| r,
            );
            close_connection(&old.conn, CloseReason::TakenOver);
            let will = old.take_will();
            if let Some(will) = will.and_then(|w| self.permitted_will(w, old.username())) {
                if will_delay(&will).is_zero() || msg.clean_start {
                    self.publish_will(will);
                }
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
            peer: msg.peer,
            last_read: Default::default(),
        };
        self.link = Some(Link {
            conn_id: msg.conn_id,
            conn: msg.conn,
            writer: msg.writer,
            extra: (!extra.is_default()).then(|| Box::new(extra)),
            replies: ReplyOrder::default(),
            held: Default::default(),
            closing: false,
            quota: Default::default(),
        });
        self.deps.metrics.client_connected(msg.protocol);
        self.set_online(true);
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

/// The Will Delay Interval (5.0; none for 3.x).
fn will_delay(will: &LastWill) -> Duration {
    Duration::from_secs(will.properties.will_delay_interval.unwrap_or(0).into())
}

impl Session {
    /// The Will of a connection that went away, if its user may publish it: checked as a
    /// PUBLISH (as Mosquitto checks Wills), when the connection ends, with its user name.
    pub(super) fn permitted_will(
        &self,
        will: LastWill,
        username: Option<&str>,
    ) -> Option<LastWill> {
        let client = crate::auth::ClientRef {
            client_id: &self.client_id,
            username,
        };
        let action = crate::auth::Action::Publish {
            qos: will.qos,
            retain: will.retain,
        };
        let Err(denial) = self
            .deps
            .security
            .authorizer
            .check(client, action, &will.topic)
        else {
            return Some(will);
        };
        let reason = denial.drop_reason();
        let who = super::denied::Who {
            client_id: &self.client_id,
            username,
            peer: self.link.as_ref().and_then(|l| l.peer()),
        };
        let metrics = &self.deps.metrics;
        super::denied::denied(
            metrics,
            who,
            Denied::Publish,
            "will",
            &will.topic,
            reason.name(),
        );
        self.deps.metrics.count_drop(reason);
        None
    }

    /// Publish `will` once its Will Delay Interval passes, unless the client is back by then
    /// [MQTT-3.1.3-9]; a session that ends first publishes it when it ends (`end`).
    fn delay_will(&mut self, will: LastWill, ctx: &mut Context<Self>) {
        let delay = will_delay(&will);
        self.state.delay_will(will);
        let generation = self.expiry_generation;
        ctx.run_later(delay, move |act, _ctx| {
            if act.link.is_none() && act.expiry_generation == generation {
                if let Some(will) = act.state.take_delayed_will() {
                    act.publish_will(will);
                }
            }
        });
    }
}

impl Handler<Detach> for Session {
    type Result = ();

    fn handle(&mut self, msg: Detach, ctx: &mut Context<Self>) {
        if self.link.as_ref().map(|l| l.conn_id) != Some(msg.conn_id) {
            return; // an old connection, already taken over
        }
        let mut link = self.detach_link().expect("checked above");
        let will = match msg.reason.publishes_will() {
            true => link
                .take_will()
                .and_then(|w| self.permitted_will(w, link.username())),
            false => None,
        };
        // A 5.0 DISCONNECT may change the Session Expiry Interval [MQTT-3.14.2]; 0 ends the
        // session now (the connection refused raising it from 0).
        if let Some(secs) = msg.expiry {
            self.expiry_interval = Some(secs);
        }
        let ends_now = !self.persistent || msg.expiry == Some(0);
        self.hand_over_shared();
        if let Some(will) = will {
            if ends_now || will_delay(&will).is_zero() {
                self.publish_will(will);
            } else {
                self.delay_will(will, ctx);
            }
        }
        if ends_now {
            // Ended now, its stored copy with it (`end` deletes it while the session still
            // counts as persistent).
            return self.end(ctx);
        }
        self.hold_while_offline(ctx);
        self.persist(vec![Op::PutSession(self.meta())]);
        self.schedule_expiry(self.expiry(), ctx);
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

impl Handler<Revoke> for Session {
    type Result = ();

    fn handle(&mut self, msg: Revoke, _ctx: &mut Context<Self>) {
        let Some(link) = &self.link else { return };
        let username = link.username();
        if let Some(why) = (msg.0)(username) {
            log::warn!(
                "client {:?} (user {username:?}): disconnected, {why} (reload)",
                &*self.client_id
            );
            close_connection(&link.conn, CloseReason::Revoked(why));
        }
    }
}
