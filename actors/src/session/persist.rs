//! Persistence of one session: which `Op`s a persistent session writes, and rebuilding a
//! session from the store.
//!
//! What is written, and when (clean sessions write nothing, ever):
//! - the session's meta (subscriptions, protocol, last seen): on connect, on (un)subscribe
//!   (awaited before SUBACK/UNSUBACK), on disconnect and shutdown;
//! - each queued QoS 1/2 message: by the *publisher's* router before the publisher is
//!   acknowledged (see `route.rs`), under the message's id as sequence: for a single
//!   persistent subscriber one entry holding the message, for several one shared body (under
//!   the same id) and one small entry per subscriber referencing it; the store deletes a shared
//!   body with its last entry;
//! - QoS 2 progress: "sent with packet id" awaited before the PUBLISH is handed to the
//!   connection (outbound.rs: a client that delivers on PUBLISH must get it again under that
//!   id, with DUP, after a crash); "released" awaited before
//!   PUBREL, since after PUBREL the client may deliver and forget the id, so only a PUBREL may
//!   follow it, never the PUBLISH again [MQTT-4.3.3-1]; a shared body is not rewritten;
//! - completion (PUBACK/PUBCOMP) or a drop: the entry is deleted, not awaited;
//! - inbound QoS 2 packet ids: stored before PUBREC, removed before PUBCOMP (both awaited), so a
//!   repeated PUBLISH is never delivered twice, even across a crash.
//!
//! A write that fails (a full disk) is never acknowledged: see `publish.rs` for PUBLISH; a
//! SUBSCRIBE, UNSUBSCRIBE or PUBREL closes the connection unanswered
//! (`CloseReason::StoreUnavailable`, 5.0 DISCONNECT 0x97) and the client sends it again after
//! reconnecting. The session's record written at CONNECT and at disconnect is not awaited.

use super::answer::Reply;
use super::route::RouteError;
use super::{Session, SessionDeps};
use crate::close::CloseReason;
use crate::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use crate::delivery::Delivery;
use crate::message::{ClientId, Message, MessageId};
use crate::metrics::DropReason;
use courtier_storage::writer::Commit;
use courtier_storage::{
    DeliveryState, MessageBody, Op, QueuedRef, SessionMeta, SessionRecord, SubscriptionRecord,
};
use std::sync::Arc;

/// The stored body of a queued message (shared by every persistent session queueing it).
pub(crate) fn message_body(msg: &Message, retain: bool) -> MessageBody {
    MessageBody {
        topic: msg.topic.to_string(),
        payload: msg.payload.to_vec(),
        retain,
        properties: msg.stored_properties(),
        expires_at_ms: msg.expires_at_ms,
    }
}

pub(super) use crate::message::unix_ms as now_ms;

impl Session {
    pub(super) fn meta(&self) -> SessionMeta {
        SessionMeta {
            client_id: self.client_id.to_string(),
            protocol_level: self.protocol.level(),
            subscriptions: self
                .state
                .subscriptions
                .iter()
                .map(|(f, o)| SubscriptionRecord {
                    filter: f.to_string(),
                    qos: o.qos as u8,
                    // The 5.0 options without the QoS bits.
                    options: o.to_byte() & !0b11,
                    subscription_id: self.state.subscription_ids.get(f).map(|id| id.get()),
                })
                .collect(),
            last_seen_ms: now_ms(),
            expiry_interval_secs: self.expiry_interval,
        }
    }

    /// Write ops without waiting, if this session is persistent.
    pub(super) fn persist(&self, ops: Vec<Op>) {
        if self.persistent {
            self.deps.persist.submit(ops);
        }
    }

    /// Write ops and get a handle to await their durability (done at once for clean sessions,
    /// which do not even build the ops: this is on the QoS 2 path of every message).
    pub(super) fn persist_commit(&self, ops: impl FnOnce() -> Vec<Op>) -> Commit {
        if self.persistent {
            self.deps.persist.commit(ops())
        } else {
            Commit::ready()
        }
    }

    pub(super) fn persist_meta(&self) -> Commit {
        self.persist_commit(|| vec![Op::PutSession(self.meta())])
    }

    /// The answer to a SUBSCRIBE or UNSUBSCRIBE (`what`) that could not be completed: closed
    /// unanswered.
    pub(super) fn subscribe_failed(&self, what: &str, e: RouteError) -> Reply {
        match e {
            RouteError::Store(e) => {
                log::debug!("client {:?}: {what} not stored: {e}", &*self.client_id);
                Reply::close(CloseReason::StoreUnavailable)
            }
            e => {
                log::error!("client {:?}: {what} failed: {e}", &*self.client_id);
                Reply::close(CloseReason::SessionGone)
            }
        }
    }

    /// Forget persisted deliveries (completed or dropped).
    pub(super) fn persist_delete(&self, seqs: impl IntoIterator<Item = Option<u64>>) {
        // Called on every PUBACK/PUBCOMP: a clean session (nothing persisted) builds nothing.
        if !self.persistent {
            return;
        }
        let ops: Vec<Op> = seqs
            .into_iter()
            .flatten()
            .map(|seq| Op::DeleteMessage {
                client_id: self.client_id.to_string(),
                seq,
            })
            .collect();
        self.persist(ops);
    }

    /// Write a stored delivery's new QoS 2 progress, with a handle to await it.
    pub(super) fn persist_state_commit(&self, p: &Delivery, state: DeliveryState) -> Commit {
        match self.state_op(p, state) {
            Some(op) => self.persist_commit(|| vec![op]),
            None => Commit::ready(),
        }
    }

    /// The write of a stored delivery's new QoS 2 progress; `None` if it is not stored.
    pub(super) fn state_op(&self, p: &Delivery, state: DeliveryState) -> Option<Op> {
        let seq = p.seq()?;
        Some(Op::UpdateMessage {
            client_id: self.client_id.to_string(),
            seq,
            entry: QueuedRef {
                qos: p.qos as u8,
                state,
                // Written back only if the entry holds its body inline (the store knows).
                inline: Some(message_body(&p.msg, p.retain)),
            },
        })
    }

    /// Rebuild an offline persistent session from the store; its expiry timer counts from the
    /// time it was last seen.
    pub fn from_record(id: u64, rec: SessionRecord, deps: Arc<SessionDeps>) -> Session {
        let now = now_ms();
        let default_secs = deps.cfg.session_expiry.map(|d| d.as_secs());
        let left_secs = match rec.meta.expires_at_ms(default_secs) {
            None => u32::MAX,
            Some(at) => (at.saturating_sub(now) / 1000).min(u64::from(u32::MAX - 1)) as u32,
        };
        let expiry_interval = rec.meta.expiry_interval_secs;
        let mut s = Session::new(id, ClientId::from(rec.meta.client_id), deps);
        s.expiry_interval = expiry_interval;
        s.restored_left_secs = left_secs;
        s.persistent = true;
        s.known = true;
        s.protocol = match rec.meta.protocol_level {
            3 => ProtocolVersion::V31,
            5 => ProtocolVersion::V5,
            _ => ProtocolVersion::V311,
        };
        for sub in rec.meta.subscriptions {
            let qos = QoS::from_u8(sub.qos).unwrap_or_default();
            let opts = SubscriptionOptions::from_byte(sub.options | qos as u8).unwrap_or(
                SubscriptionOptions {
                    qos,
                    ..Default::default()
                },
            );
            let filter: bytestring::ByteString = sub.filter.into();
            let id = sub.subscription_id.and_then(std::num::NonZeroU32::new);
            s.state.subscription_ids.set(&filter, id);
            s.state.subscriptions.insert(filter, opts);
        }
        let mut dropped = Vec::new();
        let mut expired = Vec::new();
        for (seq, r) in rec.messages {
            let qos = QoS::from_u8(r.qos).unwrap_or_default();
            // The body is shared by every session restored with it: the last one takes it,
            // the others copy (each session's queue owns its messages, as before the store
            // shared bodies).
            let body = Arc::try_unwrap(r.body).unwrap_or_else(|shared| (*shared).clone());
            let retain = body.retain;
            if body.expires_at_ms.is_some_and(|at| at <= now) && r.state == DeliveryState::Queued {
                // Expired while the broker was down [MQTT-3.3.2-5].
                expired.push(Some(seq));
                continue;
            }
            let mut msg = Message::new(body.topic.into(), body.payload.into(), qos, retain);
            msg.properties = Message::restored_properties(&body.properties);
            msg.expires_at_ms = body.expires_at_ms;
            // The same message as before the restart: its id (the entry's sequence) and,
            // where a topic filter traces it, its trace go on.
            msg.id = MessageId(seq);
            msg.trace = crate::trace::on_entry(&s.deps.cfg, "", &msg.topic, 0);
            let pending = Delivery::new(Arc::new(msg), qos, retain, true);
            match r.state {
                DeliveryState::Queued => {
                    // A QoS 1 message is stored as queued until PUBACK (its send is not
                    // written: that would be a write per delivery), so it may have been sent
                    // before the restart: a re-delivery must carry DUP [MQTT-3.3.1-1], and
                    // DUP only says it might be one. (QoS 2 has "sent" stored: a queued one
                    // was not sent, unless that write was lost in a crash.)
                    let dup = qos == QoS::AtLeastOnce;
                    let pending = Delivery { dup, ..pending };
                    if let crate::delivery::Offer::Dropped(_, seq) = s.state.offer(pending, true) {
                        dropped.push(seq);
                    }
                }
                DeliveryState::Sent { pkid } => s.state.restore_inflight(pkid, pending, false),
                DeliveryState::Released { pkid } => s.state.restore_inflight(pkid, pending, true),
            }
        }
        for pkid in rec.inbound_qos2 {
            s.state.restore_inbound_qos2(pkid);
        }
        if !expired.is_empty() {
            s.deps
                .metrics
                .count_drops(DropReason::Expired, expired.len() as u64);
            let n = expired.len() as u64;
            s.deps
                .metrics
                .drop_ledger
                .add(&s.client_id, DropReason::Expired, n);
        }
        s.persist_delete(dropped.into_iter().chain(expired));
        let queued = s.state.queued() as i64;
        s.deps
            .metrics
            .queued_messages
            .fetch_add(queued, std::sync::atomic::Ordering::Relaxed);
        s
    }
}
