//! The local side of a bridge: its persistent subscriber entry and store queue, the inbox
//! publishers deliver into, the messages it publishes locally, and its `$SYS` state topic.

use super::queue::{Limits, OutQueue, Outgoing};
use super::{queue_id, BridgeSpec, BridgeStatus};
use crate::codec::{PublishProperties, QoS, SubscriptionOptions};
use crate::delivery::{Delivery, DrainInbox, Inbox};
use crate::message::{ClientId, Message, MessageId};
use crate::session::{Routed, Router};
use crate::topics::messages::Subscriber;
use actix::prelude::*;
use bytes::Bytes;
use courtier_storage::{CommitWriter, Op, SessionMeta, SessionRecord};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::Notify;

/// Turns the inbox's wake-up into a notification of the bridge's task.
struct Waker(Arc<Notify>);

impl Actor for Waker {
    type Context = Context<Self>;
}

impl Handler<DrainInbox> for Waker {
    type Result = ();
    fn handle(&mut self, _: DrainInbox, _: &mut Context<Self>) {
        self.0.notify_one();
    }
}

pub struct Local {
    pub spec: Arc<BridgeSpec>,
    pub status: Arc<BridgeStatus>,
    pub queue: OutQueue,
    /// Notified when the inbox gets a delivery.
    pub notify: Arc<Notify>,
    router: Router,
    persist: Arc<CommitWriter>,
    subscriber: Arc<Subscriber>,
    store_id: String,
    taken: Vec<Delivery>,
    /// The queue is dropping messages: the first drop of a run is logged at WARN, the rest
    /// only counted, until the queue has room again.
    overflowing: bool,
}

impl Local {
    /// Register the bridge's store queue (awaited, so its entries are kept from now on), put
    /// back what `restored` holds, then subscribe the `out` filters. Must run on an arbiter.
    pub async fn start(
        spec: Arc<BridgeSpec>,
        status: Arc<BridgeStatus>,
        router: Router,
        persist: Arc<CommitWriter>,
        restored: Option<SessionRecord>,
        session_id: u64,
    ) -> Local {
        let notify = Arc::new(Notify::new());
        let wake = Waker(notify.clone()).start().recipient();
        let store_id = queue_id(&spec.name);
        let subscriber = Arc::new(Subscriber {
            client_id: ClientId::from(store_id.as_str()),
            session_id,
            inbox: Inbox::default(),
            wake,
            persistent: AtomicBool::new(true),
            online: AtomicBool::new(true),
            backlog: AtomicUsize::new(0),
            filters: Default::default(),
        });
        let meta = SessionMeta {
            client_id: store_id.clone(),
            protocol_level: spec.protocol.level(),
            subscriptions: Vec::new(),
            last_seen_ms: crate::message::unix_ms(),
            expiry_interval_secs: Some(u32::MAX),
        };
        if let Err(e) = persist.commit(vec![Op::PutSession(meta)]).wait().await {
            log::error!("bridge {}: cannot register its store queue: {e}", spec.name);
        }
        let limits = Limits {
            max_messages: spec.max_queued_messages,
            max_bytes: spec.max_queued_bytes,
            overflow: spec.queue_overflow,
        };
        let mut local = Local {
            queue: OutQueue::new(limits),
            spec,
            status,
            notify,
            router,
            persist,
            subscriber,
            store_id,
            taken: Vec::new(),
            overflowing: false,
        };
        if let Some(rec) = restored {
            local.restore(rec);
        }
        for t in local.spec.topics.iter().filter(|t| t.direction.is_out()) {
            let options = SubscriptionOptions {
                qos: t.qos,
                // What the bridge publishes locally never goes back out (loop prevention).
                no_local: true,
                retain_as_published: true,
                retain_handling: 0,
            };
            let filter = t.local_filter();
            let sub = local.subscriber.clone();
            if local
                .router
                .subscribe(filter.into(), sub, options)
                .await
                .is_err()
            {
                log::error!("bridge {}: local subscription failed", local.spec.name);
            }
        }
        local.update_gauges();
        local
    }

    /// The stored queue of a previous run, in order.
    fn restore(&mut self, rec: SessionRecord) {
        let n = rec.messages.len();
        for (seq, r) in rec.messages {
            let body = Arc::try_unwrap(r.body).unwrap_or_else(|shared| (*shared).clone());
            let qos = QoS::from_u8(r.qos).unwrap_or(QoS::AtLeastOnce);
            let mut msg = Message::new(body.topic.into(), body.payload.into(), qos, body.retain);
            msg.properties = Message::restored_properties(&body.properties);
            msg.expires_at_ms = body.expires_at_ms;
            msg.id = MessageId(seq);
            let retain = msg.retain;
            self.enqueue(Outgoing::new(Some(seq), Arc::new(msg), qos, retain));
        }
        if n > 0 {
            log::info!("bridge {}: {n} queued messages restored", self.spec.name);
        }
    }

    fn enqueue(&mut self, item: Outgoing) {
        let dropped = self.queue.push(item);
        if dropped.is_empty() {
            self.overflowing = false;
            return;
        }
        self.status.dropped.fetch_add(dropped.len() as u64, Relaxed);
        if !self.overflowing {
            self.overflowing = true;
            log::warn!(
                "bridge {}: queue full ({} messages, {} bytes): dropping messages ({}); \
                 see courtier_bridge_messages_dropped_total",
                self.spec.name,
                self.queue.len(),
                self.queue.bytes(),
                self.spec.queue_overflow.name()
            );
        }
        self.delete(dropped.iter().filter_map(|o| o.seq));
    }

    /// Move what publishers delivered into the queue.
    pub fn drain(&mut self) {
        let mut taken = std::mem::take(&mut self.taken);
        self.subscriber.inbox.take(&mut taken);
        for d in taken.drain(..) {
            let seq = d.seq();
            self.enqueue(Outgoing::new(seq, d.msg, d.qos, d.retain));
        }
        self.taken = taken;
        self.update_gauges();
    }

    /// The remote has the message (or, QoS 0, it was written): forget its store entry.
    pub fn completed(&mut self, item: Outgoing) {
        self.status.sent.fetch_add(1, Relaxed);
        self.delete(item.seq);
    }

    fn delete(&self, seqs: impl IntoIterator<Item = u64>) {
        let ops: Vec<Op> = seqs
            .into_iter()
            .map(|seq| Op::DeleteMessage {
                client_id: self.store_id.clone(),
                seq,
            })
            .collect();
        self.persist.submit(ops);
    }

    pub fn update_gauges(&self) {
        self.status.queued.store(self.queue.len() as u64, Relaxed);
        let bytes = self.queue.bytes() as u64;
        self.status.queued_bytes.store(bytes, Relaxed);
    }

    /// Publish a message received from the remote on `topic` (already mapped); the returned
    /// [`Routed`] completes when the local broker owns it (then the remote gets its ack).
    pub fn publish(
        &self,
        topic: String,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        properties: Option<Box<PublishProperties>>,
    ) -> Routed {
        let mut msg = Message::new(topic.into(), payload, qos, retain);
        if let Some(mut p) = properties {
            // Per-hop properties stay on the remote's side.
            p.topic_alias = None;
            p.subscription_identifiers.clear();
            msg.expires_at_ms = Message::expiry_from(Some(&p), crate::message::unix_ms());
            msg.properties = Some(p);
        }
        msg.origin = self.subscriber.client_id.clone();
        self.status.received.fetch_add(1, Relaxed);
        self.router.publish(&Arc::new(msg), Some(&self.subscriber))
    }

    /// The connection state, retained, on the notification topic ("1" up, "0" down).
    pub fn notify_state(&self, up: bool) {
        self.status.connected.store(up, Relaxed);
        if !self.spec.notifications {
            return;
        }
        let payload = Bytes::from_static(if up { b"1" } else { b"0" });
        let msg = Message::new(
            self.spec.state_topic().into(),
            payload,
            QoS::AtLeastOnce,
            true,
        );
        drop(self.router.publish(&Arc::new(msg), None));
    }
}
