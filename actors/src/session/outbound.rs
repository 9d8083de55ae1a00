//! Messages to the client: the inbox of deliveries from publishers, and draining the state into the
//! connection's bounded outbox.
//!
//! The outbox is the socket's high-water mark: when it is full, the session stops
//! handing over packets and waits (one task) for room, while new messages wait in the bounded
//! queue. A client that stops reading therefore costs at most its queue limit, and never slows
//! anyone else: publishers only push into our inbox.
//!
//! A persistent session's first QoS 2 PUBLISH of a message is handed over only once its
//! "sent with packet id" mark is stored: a client may deliver on PUBLISH (the spec's Method A)
//! and then knows the message by that id, so after a crash it must get the PUBLISH again
//! under the same id with DUP set [MQTT-4.4.0-1], never as a new message under another id.
//! The marks of one drain are one write; the drain's whole batch waits for it (order kept).

use super::state::{Outbound, Readable};
use super::{Link, LinkExtra, Session, SessionDeps};
use crate::auth::{Action, ClientRef};
use crate::codec::{Ack, Packet, ProtocolVersion, QoS};
use crate::config::SharedStrategy;
use crate::connection::outbox::Closed;
use crate::connection::Outgoing;
use crate::delivery::{Delivery, DrainInbox, Offer, Resend};
use crate::metrics::Denied;
use crate::metrics::DropReason;
use crate::trace;
use actix::prelude::*;
use courtier_storage::writer::Commit;
use courtier_storage::DeliveryState;
use std::sync::atomic::Ordering::Relaxed;

impl Handler<DrainInbox> for Session {
    type Result = ();

    /// Everything publishers pushed since the last turn: queued in order, then one drain.
    fn handle(&mut self, _: DrainInbox, ctx: &mut Context<Self>) {
        let mut batch = std::mem::take(&mut self.inbox_spare);
        if let Some(me) = &self.me {
            me.inbox.take(&mut batch);
        }
        for d in batch.drain(..) {
            self.offer(d);
        }
        self.inbox_spare = batch;
        self.drain(ctx);
        self.note_backlog();
    }
}

impl Session {
    /// Queue a routed message (from another session's publish, or our own client's when it
    /// subscribes to what it publishes); `drain` sends it.
    pub(super) fn offer(&mut self, msg: Delivery) {
        if self.ended {
            return;
        }
        let online = self.link.is_some();
        let hop = (msg.msg.id, msg.msg.trace, msg.qos);
        let sub = self.live_mask();
        let held = trace::hold_for_live(&msg, sub);
        let offer = self.state.offer(msg, online);
        let client = &self.client_id;
        trace::on_offered(&self.deps.cfg, client, hop, held.as_deref(), &offer, sub);
        match offer {
            Offer::Accepted => {
                self.deps.metrics.queued_messages.fetch_add(1, Relaxed);
            }
            Offer::Evicted(evicted) => {
                self.note_drop(DropReason::QueueFull, "dropped the oldest queued");
                self.persist_delete(evicted.into_iter().map(|(seq, _, _)| seq));
            }
            Offer::Dropped(reason, seq) => {
                self.note_drop(reason, "dropped a new message");
                self.persist_delete([seq]);
            }
        }
    }

    /// Count a drop globally and for this client, and log it: the first drop, then every
    /// 1,000th, so an overflowing queue is visible without flooding the log.
    fn note_drop(&mut self, reason: DropReason, what: &str) {
        self.deps.metrics.count_drop(reason);
        self.deps
            .metrics
            .drop_ledger
            .add(&self.client_id, reason, 1);
        let n = self.state.dropped;
        if reason == DropReason::Qos0Offline {
            // Expected behaviour (queue_qos0_messages = false); debug only.
            log::debug!(
                "client {:?}: {what} ({}), {n} dropped so far",
                &*self.client_id,
                reason.name()
            );
        } else if !(n == 1 || n.is_multiple_of(1000)) {
            // The first drop, then every 1,000th: visible without flooding the log.
        } else if reason == DropReason::QueueFull {
            log::warn!(
                "client {:?}: queue full ({} messages, {} bytes queued), {what} ({}); {n} dropped for this client so far",
                &*self.client_id,
                self.state.queued(),
                self.state.queued_bytes(),
                reason.name()
            );
        } else {
            log::info!(
                "client {:?}: {what} ({}); {n} dropped for this client so far",
                &*self.client_id,
                reason.name()
            );
        }
    }

    /// Hand packets to the writer while the inflight window and the outbox's room allow, in
    /// one batch (one lock on the outbox per drain, not one per packet).
    pub(super) fn drain(&mut self, ctx: &mut Context<Self>) {
        if self.waiting_for_writer {
            return;
        }
        let Some(link) = &self.link else { return };
        let (mut full, mut closed) = (false, false);
        let mut room = match link.writer.room() {
            Ok(room) => room,
            // The connection is closing; its Detach is on the way. Its credits go back so
            // that it is not left waiting for them and can finish closing.
            Err(Closed) => {
                closed = true;
                0
            }
        };
        let mut batch = BATCH.take();
        // "Sent" marks of persistent QoS 2 deliveries in this batch (allocated only for them).
        let mut marks = Vec::new();
        let sub = self.live_mask();
        // The Receive check, only when the authorizer makes one (an ACL is loaded): otherwise
        // deliveries cost nothing more. Made when sending, so it covers live, queued, restored
        // and retained messages alike, and uses the ACL in force at that moment.
        let receive_check = self.deps.security.authorizer.checks_receive();
        while !closed && self.state.has_sendable() {
            if room == 0 {
                full = true;
                break;
            }
            let before = self.state.queued();
            let max_packet_size = self.link.as_ref().and_then(Link::max_packet_size);
            // The check borrows the fields it reads (no reference count touched per drain:
            // the authorizer and metrics are shared by every session and thread).
            let (deps, client_id) = (&self.deps, &self.client_id);
            let extra = self.link.as_ref().and_then(|l| l.extra.as_deref());
            let may_read = |d: &Delivery| may_read(deps, client_id, extra, d);
            let readable: Readable = receive_check.then_some(&may_read);
            let next = self
                .state
                .next_outbound(max_packet_size, readable)
                .expect("has_sendable");
            let dequeued = before - self.state.queued();
            let metrics = &self.deps.metrics;
            metrics.queued_messages.fetch_sub(dequeued as i64, Relaxed);
            if let Outbound::Dropped(p, reason) = next {
                trace::on_undeliverable(&self.deps.cfg, &self.client_id, &p.msg, reason, sub);
                self.note_drop(reason, "dropped a queued message");
                self.persist_delete([p.seq()]);
                continue;
            }
            room -= 1;
            batch.push(match next {
                Outbound::Dropped(..) => unreachable!("handled above"),
                Outbound::Publish(d) => {
                    trace::on_sent(&self.deps.cfg, &self.client_id, self.protocol, &d, sub);
                    metrics.publish_sent.fetch_add(1, Relaxed);
                    metrics.publish_out.count(d.qos, d.msg.payload.len());
                    if let (QoS::ExactlyOnce, Some(pkid), true) = (d.qos, d.pkid, self.persistent) {
                        // Persist the packet id, so a restart resends PUBLISH or PUBREL
                        // under the id the client knows.
                        if let Some(i) = self.state.inflight(pkid) {
                            marks.extend(self.state_op(&i.delivery, DeliveryState::Sent { pkid }));
                        }
                    }
                    self.outgoing(d)
                }
                Outbound::Packet(packet) => Outgoing::packet(packet),
                Outbound::Resend(resend) => {
                    let protocol = self.protocol;
                    trace::on_resent(&self.deps.cfg, &self.client_id, protocol, &resend, sub);
                    match resend {
                        // A resent (DUP) delivery after a reconnect.
                        Resend::Publish(d) => {
                            metrics.publish_sent.fetch_add(1, Relaxed);
                            metrics.publish_out.count(d.qos, d.msg.payload.len());
                            self.outgoing(d)
                        }
                        Resend::PubRel(pkid, _) => Outgoing::packet(Packet::PubRel(Ack::new(pkid))),
                    }
                }
            });
        }
        if !marks.is_empty() && !closed {
            let stored = self.deps.persist.commit(marks);
            if !stored.is_ready() {
                let held = std::mem::take(&mut batch);
                BATCH.set(batch);
                return self.send_when_stored(stored, held, full, ctx);
            }
        }
        self.send_batch(&mut batch, closed, full, ctx);
        BATCH.set(batch);
    }

    /// Hand a drain's batch to the writer once the "sent" marks of its QoS 2 deliveries are
    /// stored (see the module's header); no drain runs meanwhile. If the connection changed,
    /// the batch is dropped: its deliveries are in flight and resent to the new one.
    fn send_when_stored(
        &mut self,
        stored: Commit,
        mut held: Vec<Outgoing>,
        full: bool,
        ctx: &mut Context<Self>,
    ) {
        let conn_id = self.link.as_ref().map(|l| l.conn_id);
        self.waiting_for_writer = true;
        ctx.spawn(stored.wait().into_actor(self).map(move |r, act, ctx| {
            act.waiting_for_writer = false;
            if let Err(e) = r {
                // As after any failed write (a full disk): sent anyway, since holding it would
                // stall the session; a crash before the store writes again may resend it as new.
                log::debug!(
                    "client {:?}: QoS 2 sent mark not stored: {e}",
                    &*act.client_id
                );
            }
            if act.link.as_ref().map(|l| l.conn_id) == conn_id {
                act.send_batch(&mut held, false, full, ctx);
            }
            // What came meanwhile, or all that is due to a new connection (a no-op while
            // waiting for room).
            act.drain(ctx);
        }));
    }

    /// The end of a drain: the batch to the writer, the replies' credits back.
    fn send_batch(
        &mut self,
        batch: &mut Vec<Outgoing>,
        mut closed: bool,
        full: bool,
        ctx: &mut Context<Self>,
    ) {
        if !batch.is_empty() {
            if let Some(link) = &self.link {
                closed |= link.writer.send_all(batch).is_err();
            }
        }
        // Credits of replies now in the outbox go back to the connection.
        let control = if closed { 0 } else { self.state.control_len() };
        if let Some(link) = &mut self.link {
            link.held.release_to(control);
        }
        self.state.release_idle_capacity();
        self.note_backlog();
        if full {
            self.wait_for_writer(ctx);
        }
    }

    /// A delivery for the writer, with the Subscription Identifiers of the subscriptions it
    /// matches when this 5.0 session has any (sub_ids.rs says why they are found here).
    fn outgoing(&self, d: Delivery) -> Outgoing {
        if self.protocol != ProtocolVersion::V5 {
            return Outgoing::publish(d);
        }
        match self.state.subscription_ids.matching(&d.msg.topic) {
            Some(ids) => Outgoing::publish_with_ids(d, ids),
            None => Outgoing::publish(d),
        }
    }

    /// Publish how many messages wait for this client (queued and in flight), for shared
    /// subscriptions with the `shortest_queue` strategy; nothing to do with another strategy.
    fn note_backlog(&self) {
        if self.deps.cfg.shared_subscription_strategy != SharedStrategy::ShortestQueue {
            return;
        }
        if let Some(me) = &self.me {
            let backlog = self.state.queued() + self.state.inflight_len();
            me.backlog.store(backlog, Relaxed);
        }
    }

    fn wait_for_writer(&mut self, ctx: &mut Context<Self>) {
        let Some(link) = &self.link else { return };
        self.waiting_for_writer = true;
        let room = link.writer.wait_for_room();
        let conn_id = link.conn_id;
        ctx.spawn(room.into_actor(self).map(move |_, act, ctx| {
            act.waiting_for_writer = false;
            // Room again (or the writer is gone, which drain() finds out), unless the
            // connection changed meanwhile.
            if act.link.as_ref().map(|l| l.conn_id) == Some(conn_id) {
                act.drain(ctx);
            }
        }));
    }
}

thread_local! {
    /// The batch `drain` fills, kept per thread for its capacity: one per session would keep
    /// up to `WRITER_CAPACITY` slots in every session that once had a burst.
    static BATCH: std::cell::Cell<Vec<Outgoing>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The last Receive check of a connection: its answer holds for the next delivery on the same
/// topic while the authorizer's generation is the same (fan-out sends one topic to every
/// subscriber, a device's subscription mostly one topic), which then costs a comparison.
#[derive(Default)]
pub(super) struct LastRead {
    generation: u64,
    topic: String,
    allowed: bool,
}

/// The Receive check of one delivery; a denial is counted, and logged at DEBUG: a `#`
/// subscriber would otherwise write a WARN line per message it may not read (Mosquitto is
/// silent about these too).
fn may_read(deps: &SessionDeps, client_id: &str, extra: Option<&LinkExtra>, d: &Delivery) -> bool {
    let authorizer = &deps.security.authorizer;
    let topic: &str = &d.msg.topic;
    let username = extra.and_then(|e| e.username.as_deref());
    let generation = authorizer.generation();
    // The cache lives in the link's boxed extra, which an ACL in force always makes (peer).
    let last = extra.zip(generation).map(|(e, g)| (&e.last_read, g));
    let cached = last.and_then(|(last, g)| {
        let last = last.borrow();
        (last.generation == g && last.topic == topic).then_some(last.allowed)
    });
    let allowed = match cached {
        Some(allowed) => allowed,
        None => {
            let client = ClientRef {
                client_id,
                username,
            };
            let allowed = authorizer.check(client, Action::Receive, topic).is_ok();
            if let Some((last, g)) = last {
                let mut last = last.borrow_mut();
                last.generation = g;
                last.topic.clear();
                last.topic.push_str(topic);
                last.allowed = allowed;
            }
            allowed
        }
    };
    if !allowed {
        deps.metrics.count_denied(Denied::Receive);
        log::debug!(
            "denied receive: client_id={client_id:?} username={:?} topic={:?} reason=not_authorized",
            username.unwrap_or(""),
            topic
        );
    }
    allowed
}
