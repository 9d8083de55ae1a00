//! Packets from the client, after CONNECT. Each is handled in order of receipt and answered
//! through answer.rs, which keeps the replies in that order.

use super::answer::Reply;
use super::messages::{ClientAck, Inbound, InboundAcks};
use super::Session;
use crate::auth::{Action, ClientRef, Denial};
use crate::close::CloseReason;
use crate::codec::{
    Ack, Packet, Publish, QoS, ReasonCode, SubAck, Subscribe, UnsubAck, Unsubscribe,
};
use crate::connection::Credit;
use crate::message::{Message, MessageId};
use crate::retain::MatchRetained;
use crate::session::queue::Pending;
use crate::session::route::RouteError;
use crate::topic;
use crate::trace;
use actix::prelude::*;
use courtier_storage::{DeliveryState, Op};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

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
            Packet::PubRec(a) => {
                let pubrel = self.on_pubrec(a.pkid);
                self.answer(Reply::packet(Some(pubrel), credit));
            }
            Packet::PubComp(a) => {
                self.on_pubcomp(a.pkid);
                self.answer(Reply::packet(None, credit));
            }
            Packet::PubRel(a) => {
                let pubcomp = self.state.on_pubrel(a.pkid);
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
                    let pubrel = self.on_pubrec(pkid);
                    let c = if Some(i) == last_rec {
                        credit.take()
                    } else {
                        None
                    };
                    self.answer(Reply::packet(Some(pubrel), c));
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
    fn authorize(&self, action: Action, topic: &str) -> Result<(), Denial> {
        let client = ClientRef {
            client_id: &self.client_id,
            username: self.link.as_ref().and_then(|l| l.username()),
        };
        self.deps.security.authorizer.check(client, action, topic)
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
        if let Some(done) = self.state.on_puback(pkid) {
            trace::on_acked(
                &self.deps.cfg,
                &self.client_id,
                &done.pending.msg,
                done.acked_by(),
                pkid,
            );
            self.persist_delete([done.pending.seq]);
        }
    }

    /// A PUBREC moves its QoS 2 delivery to "released"; the answer is PUBREL [MQTT-4.3.3-1].
    fn on_pubrec(&mut self, pkid: u16) -> Packet {
        let (pubrel, released) = self.state.on_pubrec(pkid);
        if let Some(i) = released {
            trace::on_pubrec(&self.deps.cfg, &self.client_id, &i.pending.msg, pkid);
            let pending = i.pending.clone();
            self.persist_state(&pending, DeliveryState::Released { pkid });
        }
        pubrel
    }

    /// A PUBCOMP finishes its QoS 2 delivery (an unknown id is ignored).
    fn on_pubcomp(&mut self, pkid: u16) {
        if let Some(done) = self.state.on_pubcomp(pkid) {
            trace::on_acked(
                &self.deps.cfg,
                &self.client_id,
                &done.pending.msg,
                done.acked_by(),
                pkid,
            );
            self.persist_delete([done.pending.seq]);
        }
    }

    /// The store refused a write we must not acknowledge without: close, the client retries.
    fn store_failed(&self, e: courtier_storage::StoreError) -> Reply {
        log::error!("client {:?}: store write failed: {e}", &*self.client_id);
        Reply::close(CloseReason::SessionGone)
    }

    /// Route a PUBLISH now (so delivery order is the order of receipt), and acknowledge it
    /// once whatever the acknowledgement promises is stored.
    fn on_publish(&mut self, p: Publish, credit: Option<Credit>, ctx: &mut Context<Self>) {
        self.deps.metrics.publish_received.fetch_add(1, Relaxed);
        if let Err(e) = topic::validate_topic_name(&p.topic) {
            // A PUBLISH topic with wildcards or empty closes the connection [MQTT-3.3.2-2].
            return self.answer(Reply::close(CloseReason::InvalidTopic(e)));
        }
        let ack = match (p.qos, p.pkid) {
            (QoS::AtMostOnce, _) => None,
            (QoS::AtLeastOnce, Some(id)) => Some(Packet::PubAck(Ack::new(id))),
            (QoS::ExactlyOnce, Some(id)) => Some(Packet::PubRec(Ack::new(id))),
            _ => {
                return self.answer(Reply::close(CloseReason::Protocol(
                    "MQTT-2.3.1-1",
                    "PUBLISH with QoS > 0 and no packet id".into(),
                )))
            }
        };
        let action = Action::Publish {
            qos: p.qos,
            retain: p.retain,
        };
        if let Err(denial) = self.authorize(action, &p.topic) {
            // As Mosquitto does, a denied publish is acknowledged (so a 3.1.1 client does not
            // retry it forever) and not routed; it is logged, counted and traced.
            log::info!(
                "client {:?}: denied publish to {:?} ({})",
                &*self.client_id,
                &*p.topic,
                denial.drop_reason().name()
            );
            let reason = denial.drop_reason();
            self.deps.metrics.count_drop(reason);
            trace::on_denied(&self.deps.cfg, &self.client_id, &p, reason);
            return self.answer(Reply::packet(ack, credit));
        }
        let mut inbound = None;
        if let (QoS::ExactlyOnce, Some(pkid)) = (p.qos, p.pkid) {
            if !self.state.inbound_qos2(pkid) {
                // Repeat of an unreleased QoS 2 id: acknowledge again, never deliver twice.
                return self.answer(Reply::packet(ack, credit));
            }
            // Stored before PUBREC, so a repeat after a crash is still recognised.
            inbound = Some(self.persist_commit(|| {
                vec![Op::PutInbound {
                    client_id: self.client_id.to_string(),
                    pkid,
                }]
            }));
        }
        let msg = Arc::new(Message {
            id: MessageId::next(),
            // First, while `p.topic` is still here.
            trace: trace::on_entry(&self.deps.cfg, &self.client_id, &p.topic),
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: p.properties,
            origin: self.client_id.clone(),
        });
        trace::received(&msg, "publish");
        let mut routed = self.deps.router.publish(&msg, self.me.as_ref());
        if let Some(own) = routed.local.take() {
            self.offer(own);
        }
        let inbound_ready = inbound.as_ref().is_none_or(|c| c.is_ready());
        if routed.is_ready() && inbound_ready {
            return self.answer(Reply::packet(ack, credit));
        }
        let work = async move {
            routed.completion().await?;
            if let Some(inbound) = inbound {
                inbound.wait().await?;
            }
            Ok::<_, RouteError>(())
        };
        let work = work.into_actor(self).map(move |res, act, _ctx| match res {
            Ok(()) => Reply::packet(ack, credit),
            Err(e) => {
                // Not acknowledged: the client will resend after reconnecting.
                log::error!(
                    "client {:?}: publish could not be stored: {e}",
                    &*act.client_id
                );
                Reply::close(CloseReason::SessionGone)
            }
        });
        self.answer_later(work, false, ctx);
    }

    fn on_subscribe(&mut self, s: Subscribe, credit: Option<Credit>, ctx: &mut Context<Self>) {
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut accepted = Vec::new();
        for (filter, opts) in s.filters {
            let checked = topic::validate_topic_filter(&filter)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    self.authorize(Action::Subscribe { qos: opts.qos }, &filter)
                        .map_err(|d| format!("denied ({})", d.drop_reason().name()))
                });
            match checked {
                Ok(()) => {
                    codes.push(ReasonCode::granted(opts.qos));
                    self.state.subscriptions.insert(filter.clone(), opts);
                    accepted.push((filter, opts));
                }
                Err(e) => {
                    log::info!(
                        "client {:?}: subscription to {:?} refused: {e}",
                        &*self.client_id,
                        &*filter
                    );
                    codes.push(ReasonCode::UnspecifiedError);
                }
            }
        }
        let router = self.deps.router.clone();
        let me = self.subscriber(ctx);
        let pkid = s.pkid;
        // SUBACK promises the subscription: a persistent session stores it first.
        let stored = self.persist_meta();
        let work = async move {
            for (filter, opts) in &accepted {
                router.subscribe(filter.clone(), me.clone(), *opts).await?;
            }
            let filters = accepted.iter().map(|(f, _)| f.clone()).collect();
            let retained = router
                .retain_store()
                .send(MatchRetained { filters })
                .await?;
            stored.wait().await.map_err(RouteError::Store)?;
            Ok::<_, RouteError>((accepted, retained))
        };
        let work = work.into_actor(self).map(move |res, act, _ctx| {
            let (accepted, retained) = match res {
                Ok(r) => r,
                Err(e) => {
                    log::error!("client {:?}: subscribe failed: {e}", &*act.client_id);
                    return Reply::close(CloseReason::SessionGone);
                }
            };
            let suback = Packet::SubAck(SubAck {
                pkid,
                return_codes: codes,
                properties: Default::default(),
            });
            // Retained messages [MQTT-3.3.1-6], once per topic at the highest granted QoS when
            // several filters of this SUBSCRIBE match it.
            let mut best: HashMap<*const Message, Pending> = HashMap::new();
            for ((_, opts), msgs) in accepted.iter().zip(retained) {
                for m in msgs {
                    let qos = m.qos.min(opts.qos);
                    best.entry(Arc::as_ptr(&m))
                        .and_modify(|p| p.qos = p.qos.max(qos))
                        .or_insert(Pending {
                            msg: m,
                            qos,
                            retain: true,
                            seq: None,
                        });
                }
            }
            Reply {
                retained: best.into_values().collect(),
                ..Reply::packet(Some(suback), credit)
            }
        });
        self.answer_later(work, true, ctx);
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe, credit: Option<Credit>, ctx: &mut Context<Self>) {
        let mut removed = Vec::new();
        for filter in u.filters {
            if self.state.subscriptions.remove(&filter).is_some() {
                removed.push(filter);
            }
        }
        let router = self.deps.router.clone();
        let (client, id, pkid) = (self.client_id.clone(), self.id, u.pkid);
        let stored = self.persist_meta();
        let work = async move {
            for filter in removed {
                router.unsubscribe(filter, client.clone(), id).await?;
            }
            stored.wait().await.map_err(RouteError::Store)
        };
        let work = work.into_actor(self).map(move |res, act, _ctx| {
            if let Err(e) = res {
                log::error!("client {:?}: unsubscribe failed: {e}", &*act.client_id);
                return Reply::close(CloseReason::SessionGone);
            }
            // UNSUBACK even when nothing matched [MQTT-3.10.4-5].
            let unsuback = Packet::UnsubAck(UnsubAck {
                pkid,
                reason_codes: Vec::new(),
                properties: Default::default(),
            });
            Reply::packet(Some(unsuback), credit)
        });
        self.answer_later(work, true, ctx);
    }
}
