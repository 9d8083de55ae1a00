//! Packets from the client, after CONNECT. Each is handled in order of receipt and answered
//! through answer.rs, which keeps the replies in that order.

use super::answer::Reply;
use super::messages::{ClientAck, Inbound, InboundAcks, InboundPublishes};
use super::state::Inflight;
use super::Session;
use crate::auth::{Action, ClientRef, Denial};
use crate::close::CloseReason;
use crate::codec::{Packet, ProtocolVersion};
use crate::connection::Credit;
use crate::trace;
use actix::prelude::*;
use courtier_storage::{DeliveryState, Op};

impl Handler<Inbound> for Session {
    type Result = ();

    fn handle(&mut self, msg: Inbound, ctx: &mut Context<Self>) {
        if !self.accepts_from(msg.conn_id) {
            return;
        }
        let credit = Some(msg.credit);
        match msg.packet {
            Packet::Publish(p) => self.on_publish(p, credit, ctx),
            Packet::PubAck(a) => {
                self.on_puback(a.pkid);
                self.answer(Reply::packet(None, credit));
            }
            Packet::PubRec(a) => self.answer_pubrec(a.pkid, credit, ctx),
            Packet::PubComp(a) => {
                self.on_pubcomp(a.pkid);
                self.answer(Reply::packet(None, credit));
            }
            Packet::PubRel(a) => {
                let pubcomp = self
                    .state
                    .on_pubrel(a.pkid, self.protocol == ProtocolVersion::V5);
                // The id is forgotten durably before PUBCOMP: after it the client may reuse it
                // for a new message, which must not be mistaken for a repeat.
                let commit = self.persist_commit(|| {
                    vec![Op::DeleteInbound {
                        client_id: self.client_id.to_string(),
                        pkid: a.pkid,
                    }]
                });
                if commit.is_ready() {
                    self.answer(Reply::packet(Some(pubcomp), credit));
                } else {
                    let work = async move { commit.wait().await }.into_actor(self).map(
                        move |res, act, _| match res {
                            Ok(()) => Reply::packet(Some(pubcomp), credit),
                            Err(e) => act.store_failed(e),
                        },
                    );
                    self.answer_later(work, false, ctx);
                }
            }
            // Answered in order, so a PINGRESP also stays behind the messages this client's
            // earlier publishes routed to itself [MQTT-3.12.4-1].
            Packet::PingReq => self.answer(Reply::packet(Some(Packet::PingResp), credit)),
            Packet::Subscribe(s) => self.on_subscribe(s, credit, ctx),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u, credit, ctx),
            other => self.answer(Reply::close(CloseReason::Protocol(
                "MQTT-4.8.0-1",
                format!("unexpected {} from a client", other.kind()),
            ))),
        }
        self.drain(ctx);
    }
}

impl Handler<InboundPublishes> for Session {
    type Result = ();

    /// A turn's PUBLISH packets: each handled as alone, in order, then one drain for all their
    /// replies. A reply that closes the connection stops the rest (their credits go back).
    fn handle(&mut self, msg: InboundPublishes, ctx: &mut Context<Self>) {
        for (p, credit) in msg.publishes {
            if !self.accepts_from(msg.conn_id) {
                break;
            }
            self.on_publish(p, Some(credit), ctx);
        }
        self.drain(ctx);
    }
}

impl Handler<InboundAcks> for Session {
    type Result = ();

    /// A batch of acknowledgements: each does what it would do alone; one credit, one drain
    /// for the window they opened. The credit goes with the last PUBREL the batch answers
    /// (a reply holds its credit until it is in the outbox), or back at once if there is none.
    fn handle(&mut self, msg: InboundAcks, ctx: &mut Context<Self>) {
        if !self.accepts_from(msg.conn_id) {
            return;
        }
        let last_rec = msg
            .acks
            .iter()
            .rposition(|a| matches!(a, ClientAck::PubRec(_)));
        let mut credit = Some(msg.credit);
        for (i, ack) in msg.acks.into_iter().enumerate() {
            match ack {
                ClientAck::PubAck(pkid) => self.on_puback(pkid),
                ClientAck::PubComp(pkid) => self.on_pubcomp(pkid),
                ClientAck::PubRec(pkid) => {
                    let c = if Some(i) == last_rec {
                        credit.take()
                    } else {
                        None
                    };
                    self.answer_pubrec(pkid, c, ctx);
                }
            }
        }
        if credit.is_some() {
            self.answer(Reply::packet(None, credit));
        }
        self.drain(ctx);
    }
}

impl Session {
    /// Asks the authorizer whether this session's client may do `action` on `topic`.
    pub(super) fn authorize(&self, action: Action, topic: &str) -> Result<(), Denial> {
        let client = ClientRef {
            client_id: &self.client_id,
            username: self.username(),
        };
        self.deps.security.authorizer.check(client, action, topic)
    }

    /// The connected client's authenticated user name, for checks and log lines.
    pub(super) fn username(&self) -> Option<&str> {
        self.link.as_ref().and_then(|l| l.username())
    }

    /// Whether packets of connection `conn_id` are still handled: not from a connection
    /// already taken over or closing (their credits are simply returned, when dropped).
    fn accepts_from(&self, conn_id: u64) -> bool {
        self.link
            .as_ref()
            .is_some_and(|l| l.conn_id == conn_id && !l.closing)
    }

    /// A PUBACK finishes its QoS 1 delivery (an unknown id is ignored).
    fn on_puback(&mut self, pkid: u16) {
        let done = self.state.on_puback(pkid);
        self.finished(done, pkid);
    }

    /// A delivery the client acknowledged for good (PUBACK, PUBCOMP): traced, and deleted
    /// from the store if it was stored.
    fn finished(&mut self, done: Option<Inflight>, pkid: u16) {
        if let Some(done) = done {
            let msg = &done.delivery.msg;
            let sub = self.live_mask();
            trace::on_acked(
                &self.deps.cfg,
                &self.client_id,
                msg,
                done.acked_by(),
                pkid,
                sub,
            );
            self.persist_delete([done.delivery.seq()]);
        }
    }

    /// A PUBREC moves its QoS 2 delivery to "released"; the answer is PUBREL [MQTT-4.3.3-1],
    /// sent once "released" is stored: after PUBREL the client may deliver the message and
    /// forget its id, so a restart must resend PUBREL, never the PUBLISH (which the client
    /// would take for a new message). Clean sessions and unstored deliveries answer at once.
    fn answer_pubrec(&mut self, pkid: u16, credit: Option<Credit>, ctx: &mut Context<Self>) {
        let (pubrel, released) = self.state.on_pubrec(pkid);
        let Some(i) = released else {
            return self.answer(Reply::packet(Some(pubrel), credit));
        };
        let sub = self.live.get(&self.deps.cfg.live, &self.client_id);
        trace::on_pubrec(&self.deps.cfg, &self.client_id, &i.delivery.msg, pkid, sub);
        let delivery = i.delivery.clone();
        let commit = self.persist_state_commit(&delivery, DeliveryState::Released { pkid });
        if commit.is_ready() {
            return self.answer(Reply::packet(Some(pubrel), credit));
        }
        let work = async move { commit.wait().await }
            .into_actor(self)
            .map(move |res, act, _| match res {
                Ok(()) => Reply::packet(Some(pubrel), credit),
                Err(e) => act.store_failed(e),
            });
        self.answer_later(work, false, ctx);
    }

    /// A PUBCOMP finishes its QoS 2 delivery (an unknown id is ignored).
    fn on_pubcomp(&mut self, pkid: u16) {
        let done = self.state.on_pubcomp(pkid);
        self.finished(done, pkid);
    }

    /// The store refused a write we must not acknowledge without: close, the client retries
    /// (the store's writer logs the failing store once, so this is only a debug line).
    fn store_failed(&self, e: courtier_storage::StoreError) -> Reply {
        log::debug!("client {:?}: store write failed: {e}", &*self.client_id);
        Reply::close(CloseReason::StoreUnavailable)
    }
}
