//! RetainStore: the retained message of every topic, written through to the `Store`.
//!
//! The index maps topic -> `Arc<Message>`, so a subscriber's retained delivery shares the payload
//! with the index instead of copying it. `$SYS` topics are kept in memory only (they are rebuilt
//! every sys_interval, as Mosquitto does). After a supervised restart the index is reloaded from
//! the store: the store is the authority, the index a cache.

use crate::codec::QoS;
use crate::message::Message;
use crate::metrics::Metrics;
use crate::retain_index::RetainedIndex;
use crate::supervision::{ActorKind, ChildFailed, OnStop, ReportTo, Supervision};
use crate::topic;
use actix::prelude::*;
use bytestring::ByteString;
use courtier_storage::writer::Commit;
use courtier_storage::{CommitWriter, Op, RetainedRecord, Store, StoredMessage};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Store (or, with an empty payload, delete [MQTT-3.3.1-10/11]) the retained message of a topic.
/// `stored` gets the store write, which completes once it is durable as the sync setting
/// requires.
///
/// Sent with `do_send`, never `send`: `Addr::send` to a full mailbox keeps the message in the
/// returned request and enqueues it only when that request is polled, and a session polls
/// its pending requests in no fixed order (actix removes finished ones by swapping). Rapid
/// updates of one topic then reached this store out of order and an older payload stayed
/// retained [MQTT-3.3.1-5] (tests/retained.rs caught it under load).
#[derive(Message)]
#[rtype(result = "()")]
pub struct StoreRetained {
    pub msg: Arc<Message>,
    pub stored: tokio::sync::oneshot::Sender<Commit>,
}

/// Retained messages matching each filter, in the order of `filters`.
#[derive(Message)]
#[rtype(result = "Vec<Vec<Arc<Message>>>")]
pub struct MatchRetained {
    pub filters: Vec<ByteString>,
}

/// Make all retained writes durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushRetained;

pub struct RetainStore {
    index: RetainedIndex,
    store: Arc<dyn Store>,
    persist: Arc<CommitWriter>,
    metrics: Arc<Metrics>,
    guardian: ReportTo,
}

impl RetainStore {
    /// Starts from the records loaded at start-up (before any listener opens).
    pub fn new(
        store: Arc<dyn Store>,
        persist: Arc<CommitWriter>,
        metrics: Arc<Metrics>,
        guardian: ReportTo,
        loaded: Vec<RetainedRecord>,
    ) -> Self {
        let mut rs = RetainStore {
            index: RetainedIndex::default(),
            store,
            persist,
            metrics,
            guardian,
        };
        rs.fill(loaded);
        rs
    }

    fn reload(&mut self) {
        match self.store.load_retained() {
            Ok(records) => self.fill(records),
            Err(e) => log::error!("retained messages could not be reloaded from the store: {e}"),
        }
    }

    fn fill(&mut self, records: Vec<RetainedRecord>) {
        // Keep in-memory-only $SYS entries: they are not in the store.
        self.index.retain(topic::is_sys_topic);
        for rec in records {
            let m = rec.message;
            let mut msg = Message::new(
                ByteString::from(m.topic),
                m.payload.into(),
                QoS::from_u8(m.qos).unwrap_or(QoS::AtMostOnce),
                true,
            );
            msg.properties = Message::restored_properties(&m.properties);
            msg.expires_at_ms = m.expires_at_ms;
            self.index.insert(Arc::new(msg));
        }
        self.metrics
            .retained_messages
            .store(self.index.len() as i64, Relaxed);
    }

    fn persist(&self, msg: &Message) -> Commit {
        if topic::is_sys_topic(&msg.topic) {
            return Commit::ready();
        }
        self.persist.commit(vec![if msg.payload.is_empty() {
            Op::DeleteRetained(msg.topic.to_string())
        } else {
            Op::PutRetained(RetainedRecord {
                message: StoredMessage {
                    topic: msg.topic.to_string(),
                    payload: msg.payload.to_vec(),
                    qos: msg.qos as u8,
                    retain: true,
                    properties: msg.stored_properties(),
                    expires_at_ms: msg.expires_at_ms,
                },
            })
        }])
    }
}

impl Actor for RetainStore {
    type Context = Context<Self>;
}

impl Supervised for RetainStore {
    /// After a stop or a panic the index is not trusted: it is rebuilt from the store, once
    /// every write submitted before the failure is in it. Messages wait in the mailbox
    /// meanwhile (`ctx.wait`), so none is matched against a half-built index.
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        crate::supervision::count_panic::<Self>(&self.metrics);
        let persist = self.persist.clone();
        ctx.wait(
            async move { persist.flush().await }
                .into_actor(self)
                .map(|flushed, act, _| {
                    if let Err(e) = flushed {
                        log::error!("RetainStore restart: store flush failed: {e}");
                    }
                    act.reload();
                    log::warn!(
                        "RetainStore restarted; reloaded {} retained messages",
                        act.index.len()
                    );
                }),
        );
        ChildFailed::report(&self.guardian, &self.metrics, "RetainStore");
    }
}

impl Supervision for RetainStore {
    const KIND: ActorKind = ActorKind::RetainStore;
    const ON_STOP: OnStop = OnStop::Restart;
}

impl Handler<StoreRetained> for RetainStore {
    type Result = ();
    fn handle(&mut self, msg: StoreRetained, _ctx: &mut Context<Self>) {
        let commit = self.persist(&msg.msg);
        if msg.msg.payload.is_empty() {
            self.index.remove(&msg.msg.topic);
        } else {
            self.index.insert(msg.msg);
        }
        self.metrics
            .retained_messages
            .store(self.index.len() as i64, Relaxed);
        // The publisher may be gone; the message is stored all the same.
        let _ = msg.stored.send(commit);
    }
}

impl Handler<MatchRetained> for RetainStore {
    type Result = MessageResult<MatchRetained>;
    /// The retained messages each filter matches. One whose expiry interval has passed is
    /// not sent [MQTT-3.3.2-5]: it is deleted here (from the index and the store) and counted
    /// as dropped, `expired`.
    fn handle(&mut self, msg: MatchRetained, _ctx: &mut Context<Self>) -> Self::Result {
        let mut out: Vec<Vec<Arc<Message>>> =
            msg.filters.iter().map(|f| self.index.matching(f)).collect();
        let now = crate::message::unix_ms();
        let mut expired: Vec<ByteString> = Vec::new();
        for matches in &mut out {
            matches.retain(|m| {
                let gone = m.is_expired(now);
                if gone && !expired.contains(&m.topic) {
                    expired.push(m.topic.clone());
                }
                !gone
            });
        }
        for topic in expired {
            log::debug!("retained message on {:?} expired; deleted", &*topic);
            self.metrics.count_drop(crate::metrics::DropReason::Expired);
            self.index.remove(&topic);
            if !topic::is_sys_topic(&topic) {
                let _ = self
                    .persist
                    .commit(vec![Op::DeleteRetained(topic.to_string())]);
            }
        }
        self.metrics
            .retained_messages
            .store(self.index.len() as i64, Relaxed);
        MessageResult(out)
    }
}

impl Handler<FlushRetained> for RetainStore {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: FlushRetained, _ctx: &mut Context<Self>) -> Self::Result {
        let persist = self.persist.clone();
        Box::pin(async move {
            if let Err(e) = persist.flush().await {
                log::error!("flushing the store failed: {e}");
            }
        })
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectFailure> for RetainStore {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectFailure, ctx: &mut Context<Self>) {
        log::error!("RetainStore: injected failure, stopping for restart");
        // Simulate losing the in-memory index: restarting() must rebuild it from the store.
        self.index = RetainedIndex::default();
        ctx.stop();
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for RetainStore {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        // Half-way through a change, as a bug would leave it: the restart rebuilds the index.
        self.index = RetainedIndex::default();
        panic!("RetainStore: injected panic");
    }
}
