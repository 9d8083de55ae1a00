//! Session actor: one per client id, outliving its connections.
//!
//! Owns the subscriptions, the inflight window, packet ids, QoS 2 states, the bounded queue and
//! the Will of the attached connection. Handlers are thin: they call the pure `SessionState` and
//! write the packets it returns into the connection's outbox.
//!
//! - `link.rs`: the attached connection
//! - `attach.rs`: a connection attaching, detaching, taken over; broker shutdown
//! - `inbound.rs`: packets from the client, acks handled there; `publish.rs` PUBLISH and
//!   its 5.0 reason codes; `subscribe.rs` SUBSCRIBE and UNSUBSCRIBE
//! - `answer.rs` + `replies.rs`: their replies, in order of receipt
//! - `outbound.rs`: `Delivery` and draining the state into the writer
//! - `persist.rs`: what a persistent session writes to the store, and restoring one
//! - `admin.rs`: the admin API's snapshot of the session, and an administrator's disconnect
//! - `fault.rs`: a panic in one of its handlers ends the client's connection alone
//! - `handover.rs`: a shared subscription's unacknowledged messages to another member when the
//!   connection breaks

mod admin;
mod answer;
mod attach;
mod deliverable;
mod denied;
pub mod fault;
mod handover;
mod inbound;
pub mod inflight;
mod link;
pub mod messages;
mod outbound;
pub(crate) mod persist;
mod publish;
pub mod queue;
mod receive;
pub mod replies;
pub(crate) mod route;
pub mod state;
mod state_types;
mod sub_ids;
mod sub_log;
mod subscribe;

use crate::codec::{LastWill, ProtocolVersion};
use crate::config::BrokerConfig;
use crate::message::{ClientId, Message, MessageId};
use crate::metrics::Metrics;
use crate::registry::{SessionGone, SessionRegistry};
use crate::retain::RetainStore;
use crate::topics::messages::Subscriber;
use crate::topics::{TopicIndex, TopicRouter};
use actix::prelude::*;
use courtier_storage::{CommitWriter, Op};
use link::{Link, LinkExtra};
pub use route::{Routed, Router};
use state::SessionState;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// What every session needs from the broker; cheap to clone and `Send`, so a session can be
/// started on any arbiter.
#[derive(Clone)]
pub struct SessionDeps {
    pub topics: Addr<TopicRouter>,
    /// The tries publishers match in (read-only here).
    pub index: Arc<TopicIndex>,
    pub retain: Addr<RetainStore>,
    pub registry: Addr<SessionRegistry>,
    /// Every store write goes through the group-commit writer.
    pub persist: Arc<CommitWriter>,
    pub cfg: Arc<BrokerConfig>,
    pub metrics: Arc<Metrics>,
    /// What a client may publish, subscribe to and receive (auth.rs).
    pub security: crate::auth::Security,
    /// Publish and subscribe routing, shared by every session.
    pub router: Router,
}

pub struct Session {
    /// Unique per session incarnation (see `Subscriber::session_id`).
    id: u64,
    client_id: ClientId,
    state: SessionState,
    link: Option<Link>,
    /// The session outlives the connection and is persisted (3.x clean session 0, 5.0 a
    /// non-zero Session Expiry Interval).
    persistent: bool,
    /// Whether a client has used this session before (drives CONNACK session-present).
    known: bool,
    protocol: ProtocolVersion,
    ended: bool,
    /// A task waiting for room in the outbox is under way.
    waiting_for_writer: bool,
    /// Bumped at every attach, so an expiry timer set while offline knows it is stale.
    expiry_generation: u32,
    /// 5.0: the client's Session Expiry Interval, seconds (`u32::MAX`: never); `None` for
    /// 3.x sessions, which expire after the broker's `session_expiry_secs`.
    expiry_interval: Option<u32>,
    /// Seconds left before expiry, for a session restored from the store (`u32::MAX`: never).
    restored_left_secs: u32,
    me: Option<Arc<Subscriber>>,
    /// The inbox's previous batch, kept for its capacity (see `crate::delivery`).
    inbox_spare: Vec<crate::delivery::Delivery>,
    /// Shared by every session: each `Addr` clone is an allocation of its own (~72 bytes).
    deps: Arc<SessionDeps>,
    /// The runtime traces selecting this client, cached (see `trace_live::ClientMask`).
    live: crate::trace_live::ClientMask,
}

impl Session {
    pub fn new(id: u64, client_id: ClientId, deps: Arc<SessionDeps>) -> Session {
        Session {
            id,
            state: SessionState::new(&deps.cfg),
            client_id,
            link: None,
            persistent: false,
            known: false,
            protocol: ProtocolVersion::V311,
            ended: false,
            waiting_for_writer: false,
            expiry_generation: 0,
            expiry_interval: None,
            restored_left_secs: u32::MAX,
            me: None,
            inbox_spare: Vec::new(),
            deps,
            live: Default::default(),
        }
    }

    /// The runtime traces selecting this client: 0 at the cost of one atomic load when none
    /// runs, two when others run.
    #[inline(always)]
    fn live_mask(&self) -> u32 {
        self.live.get(&self.deps.cfg.live, &self.client_id)
    }

    /// This session as the topic tries see it, made at its first subscription: a session
    /// that never subscribes (a sensor that only publishes) does not pay for the entry, its
    /// inbox and the wake-up `Recipient` (~210 bytes, an `Addr` clone among them).
    fn subscriber(&mut self, ctx: &mut Context<Self>) -> Arc<Subscriber> {
        self.me
            .get_or_insert_with(|| {
                Arc::new(Subscriber {
                    client_id: self.client_id.clone(),
                    session_id: self.id,
                    inbox: Default::default(),
                    wake: ctx.address().recipient(),
                    persistent: std::sync::atomic::AtomicBool::new(self.persistent),
                    online: std::sync::atomic::AtomicBool::new(self.link.is_some()),
                    backlog: Default::default(),
                    filters: Default::default(),
                })
            })
            .clone()
    }

    /// Publish the Will of the connection that just went away (MQTT-3.1.2-8).
    fn publish_will(&self, will: LastWill) {
        if let Err(e) = crate::topic::validate_topic_name(&will.topic) {
            log::warn!("client {:?}: will not published: {e}", &*self.client_id);
            return;
        }
        log::info!(
            "client {:?}: publishing will to {:?} (qos {}, retain {})",
            &*self.client_id,
            &*will.topic,
            will.qos as u8,
            will.retain
        );
        // Will properties travel as a PUBLISH's do [MQTT-3.1.3-9], their expiry counted from
        // now, when the Will is published.
        let properties = will.properties.into_publish();
        let expires_at_ms = Message::expiry_from(properties.as_deref(), crate::message::unix_ms());
        let msg = Arc::new(Message {
            id: MessageId::next(),
            trace: crate::trace::on_entry(
                &self.deps.cfg,
                &self.client_id,
                &will.topic,
                self.live_mask(),
            )
            .entered(crate::message::Via::Will, self.protocol),
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties,
            expires_at_ms,
            origin: self.client_id.clone(),
        });
        crate::trace::received(&msg, "will", Some(self.protocol));
        // Delivered now; the retained store write (if any) completes in a detached task, not
        // `ctx.spawn`: a clean session stops right after its Will is handed over, and stopping
        // would cancel the actor's own futures. The Will goes to the session's own
        // subscriptions too, through its mailbox like any other delivery.
        let routed = self.deps.router.publish(&msg, None);
        if !routed.is_ready() {
            actix_rt::spawn(async move {
                if let Err(e) = routed.completion().await {
                    log::error!("will could not be stored: {e}");
                }
            });
        }
    }

    /// Remove every subscription from the subtrees (fire and forget: the subtree checks the
    /// session id, so a late removal never hits a newer session's subscription).
    fn drop_subscriptions(&mut self) {
        let filters: Vec<_> = self.state.subscriptions.keys().cloned().collect();
        // The map, and the tasks below once they are done: ~1 KB per subscription.
        crate::heap_release::freed(filters.len() * 1024);
        for filter in filters {
            let router = self.deps.router.clone();
            let (client, id) = (self.client_id.clone(), self.id);
            actix_rt::spawn(async move {
                let _ = router.unsubscribe(filter, client, id).await;
            });
        }
    }

    /// Forget subscriptions, queued and in-flight messages, here and in the store (clean
    /// start, or the session's end).
    fn discard_state(&mut self) {
        self.drop_subscriptions();
        let queued = self.state.queued() as i64;
        self.deps.metrics.queued_messages.fetch_sub(queued, Relaxed);
        self.state.clear();
        self.persist(vec![Op::DeleteSession(self.client_id.to_string())]);
    }

    /// The session is over (clean session disconnected, or replaced): unsubscribe, forget the
    /// persisted copy, tell the registry, stop.
    fn end(&mut self, ctx: &mut Context<Self>) {
        if self.ended {
            return;
        }
        self.ended = true;
        // A Will still waiting out its delay goes when the session ends [MQTT-3.1.3-9].
        if let Some(will) = self.state.take_delayed_will() {
            self.publish_will(will);
        }
        self.discard_state();
        self.deps.registry.do_send(SessionGone {
            client_id: self.client_id.clone(),
            session_id: self.id,
        });
        ctx.stop();
    }

    fn detach_link(&mut self) -> Option<Link> {
        let link = self.link.take()?;
        self.deps.metrics.client_disconnected(self.protocol);
        self.set_online(false);
        Some(link)
    }

    /// Whether a connection is attached, for shared subscriptions choosing a member.
    fn set_online(&self, online: bool) {
        if let Some(me) = &self.me {
            me.online.store(online, Relaxed);
        }
    }

    /// Keep this offline persistent session running: the registry holds sessions weakly, the
    /// connection is gone, and actix stops an actor no one can send to. Its subscriber entry
    /// (made here if it has none) holds a `Recipient` of it until `end` stops it.
    fn hold_while_offline(&mut self, ctx: &mut Context<Self>) {
        self.subscriber(ctx);
    }

    /// How long this session outlives its connection: the client's 5.0 Session Expiry
    /// Interval, or for 3.x the broker's `session_expiry_secs` (Mosquitto's
    /// persistent_client_expiration); `None`: never expires.
    fn expiry(&self) -> Option<std::time::Duration> {
        match self.expiry_interval {
            Some(u32::MAX) => None,
            Some(secs) => Some(std::time::Duration::from_secs(secs.into())),
            None => self.deps.cfg.session_expiry,
        }
    }

    /// A persistent session whose client stays away for `left` is deleted, with its data
    /// [MQTT-4.1.0-2]; `None`: it never expires.
    fn schedule_expiry(&mut self, left: Option<std::time::Duration>, ctx: &mut Context<Self>) {
        let Some(left) = left else {
            return;
        };
        let generation = self.expiry_generation;
        ctx.run_later(left, move |act, ctx| {
            if act.link.is_none() && act.expiry_generation == generation {
                log::info!(
                    "client {:?}: persistent session expired after {:?} offline; deleted",
                    &*act.client_id,
                    act.expiry().unwrap_or_default()
                );
                act.deps.metrics.sessions_expired.fetch_add(1, Relaxed);
                act.end(ctx);
            }
        });
    }

    /// Mark this session persistent or not, for routers deciding what to write for it.
    fn set_persistent(&mut self, persistent: bool) {
        self.persistent = persistent;
        if let Some(me) = &self.me {
            me.persistent.store(persistent, Relaxed);
        }
    }
}

/// Runs when the actor value goes, however it stopped: subscriptions may still name this
/// session for a moment, and deliveries pushed meanwhile must not pile up in its inbox.
impl Drop for Session {
    fn drop(&mut self) {
        if let Some(me) = &self.me {
            me.inbox.close();
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    /// A session that stopped without `end` (nobody held it: its connection died before
    /// attaching) still leaves the registry, so the sessions gauge stays true.
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if !self.ended {
            self.deps.registry.do_send(SessionGone {
                client_id: self.client_id.clone(),
                session_id: self.id,
            });
        }
    }

    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.link.is_none() && self.persistent {
            self.hold_while_offline(ctx);
            let left = match std::mem::replace(&mut self.restored_left_secs, u32::MAX) {
                u32::MAX => None,
                secs => Some(std::time::Duration::from_secs(secs.into())),
            };
            self.schedule_expiry(left, ctx);
        }
        // Restored sessions re-enter their subscriptions before any client can publish, so
        // messages published before the client returns are queued.
        if !self.state.subscriptions.is_empty() {
            let subs: Vec<_> = self
                .state
                .subscriptions
                .iter()
                .map(|(f, o)| (f.clone(), *o))
                .collect();
            let router = self.deps.router.clone();
            let me = self.subscriber(ctx);
            ctx.wait(
                async move {
                    for (filter, opts) in subs {
                        let _ = router.subscribe(filter, me.clone(), opts).await;
                    }
                }
                .into_actor(self),
            );
        }
    }
}

#[cfg(test)]
#[path = "size_tests.rs"]
mod size_tests;
