//! SessionRegistry: client id -> Session actor. Creates sessions (on the worker arbiter of the
//! connection that asks, so that a client's packets do not cross threads between its
//! connection and its session; restored sessions by a hash of the client id), restores
//! persisted ones at start-up, forgets ended ones, and shuts them all down.

use crate::message::ClientId;
use crate::session::messages::{Restored, Revoke, RevokedBy, ShutdownSession};
use crate::session::{Session, SessionDeps};
use crate::supervision::{ActorKind, ChildFailed, OnStop, ReportTo, Supervise, Supervision};
use actix::prelude::*;
use actix::WeakAddr;
use courtier_storage::SessionRecord;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Find or create the session of `client_id`. `replace` names a session id the caller found
/// already ended: the registry then starts a new one in its place.
#[derive(Message)]
#[rtype(result = "Connected")]
pub struct Connect {
    pub client_id: ClientId,
    pub replace: Option<u64>,
    /// The broker worker the connection runs on ([`current_worker`]); a new session is started
    /// there.
    pub worker: Option<usize>,
}

thread_local! {
    static WORKER: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Mark the current thread as broker worker `n` (done once per worker arbiter at start-up).
pub fn set_current_worker(n: usize) {
    WORKER.set(Some(n));
}

/// The broker worker this thread is, if it is one (WebSocket connections run on actix-web's
/// threads, which are not: their sessions are placed by client id).
pub fn current_worker() -> Option<usize> {
    WORKER.get()
}

pub struct Connected {
    pub session: Addr<Session>,
    pub session_id: u64,
}

/// A session ended (sent by the session itself).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionGone {
    pub client_id: ClientId,
    pub session_id: u64,
}

/// Close every connection and persist every persistent session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ShutdownSessions;

pub struct SessionRegistry {
    /// Weak: a strong `Addr` is two allocations of its own (~70 bytes per client), and the
    /// registry does not decide how long a session lives. A connected session is held by its
    /// connection, an offline persistent one by its own subscriber entry (session/mod.rs,
    /// `hold_while_offline`); a session that nobody holds (its connection died before
    /// attaching) stops, and its entry no longer upgrades.
    sessions: HashMap<ClientId, (WeakAddr<Session>, u64)>,
    next_id: u64,
    arbiters: Vec<ArbiterHandle>,
    /// One copy shared by every session: cloning `SessionDeps` cloned three `Addr`s, ~216 bytes
    /// of allocations per session.
    deps: Option<Arc<SessionDeps>>,
    guardian: ReportTo,
}

impl SessionRegistry {
    pub fn new(arbiters: Vec<ArbiterHandle>, guardian: ReportTo) -> Self {
        SessionRegistry {
            sessions: HashMap::new(),
            next_id: 1,
            arbiters,
            deps: None,
            guardian,
        }
    }

    fn arbiter_for(&self, client_id: &str, worker: Option<usize>) -> Option<&ArbiterHandle> {
        if self.arbiters.is_empty() {
            return None;
        }
        if let Some(arbiter) = worker.and_then(|n| self.arbiters.get(n)) {
            return Some(arbiter);
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        client_id.hash(&mut h);
        Some(&self.arbiters[h.finish() as usize % self.arbiters.len()])
    }

    fn spawn(
        &mut self,
        make: impl FnOnce(u64, Arc<SessionDeps>) -> Session + Send + 'static,
        client_id: &ClientId,
        worker: Option<usize>,
    ) -> (Addr<Session>, u64) {
        let id = self.next_id;
        self.next_id += 1;
        let deps = self.deps.clone().expect("deps set before use");
        let addr = match self.arbiter_for(client_id, worker) {
            Some(arb) => Supervise::start_in_arbiter(arb, move |_| make(id, deps)),
            None => Supervise::start(move |_| make(id, deps)),
        };
        (addr, id)
    }

    fn update_gauge(&self) {
        if let Some(d) = &self.deps {
            d.metrics
                .sessions
                .store(self.sessions.len() as i64, Relaxed);
        }
    }
}

/// The session behind `addr`, if it still runs.
fn live(addr: &WeakAddr<Session>) -> Option<Addr<Session>> {
    addr.upgrade().filter(|a| a.connected())
}

impl Actor for SessionRegistry {
    type Context = Context<Self>;
}

impl Supervised for SessionRegistry {
    /// The map lives in the actor value, which actix keeps; drop entries whose session actor
    /// has stopped, then report.
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        if let Some(d) = &self.deps {
            crate::supervision::count_panic::<Self>(&d.metrics);
        }
        self.sessions.retain(|_, (addr, _)| live(addr).is_some());
        self.update_gauge();
        log::warn!(
            "SessionRegistry restarted with {} sessions",
            self.sessions.len()
        );
        if let Some(d) = &self.deps {
            ChildFailed::report(&self.guardian, &d.metrics, "SessionRegistry");
        }
    }
}

impl Supervision for SessionRegistry {
    const KIND: ActorKind = ActorKind::SessionRegistry;
    const ON_STOP: OnStop = OnStop::Restart;
}

/// Hand the registry its dependencies and the persisted sessions to restore. Sent once by the
/// broker at start-up, before any listener opens (so restored sessions queue messages from the
/// start).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Init(pub SessionDeps, pub Vec<SessionRecord>);

/// Answers once every restored session is ready for clients, its subscriptions back in the
/// tries: the broker opens its listeners only then, so a message published at once is
/// queued for an offline persistent subscriber [MQTT-3.1.2-23], not dropped as unmatched.
impl Handler<Init> for SessionRegistry {
    type Result = ResponseFuture<usize>;
    fn handle(&mut self, msg: Init, _ctx: &mut Context<Self>) -> Self::Result {
        let records = msg.1;
        self.deps = Some(Arc::new(msg.0));
        let n = records.len();
        let mut ready = Vec::with_capacity(n);
        for rec in records {
            let client_id = ClientId::from(rec.meta.client_id.clone());
            let (addr, id) = self.spawn(
                move |id, deps| Session::from_record(id, rec, deps),
                &client_id,
                None,
            );
            ready.push(addr.send(Restored));
            self.sessions.insert(client_id, (addr.downgrade(), id));
        }
        self.update_gauge();
        Box::pin(async move {
            // A session that ended meanwhile (expired at once) answers with an error: fine.
            futures_util::future::join_all(ready).await;
            n
        })
    }
}

impl Handler<Connect> for SessionRegistry {
    type Result = MessageResult<Connect>;
    fn handle(&mut self, msg: Connect, _ctx: &mut Context<Self>) -> Self::Result {
        if let Some((addr, id)) = self.sessions.get(&msg.client_id) {
            if let Some(addr) = live(addr).filter(|_| msg.replace != Some(*id)) {
                return MessageResult(Connected {
                    session: addr,
                    session_id: *id,
                });
            }
        }
        let cid = msg.client_id.clone();
        let make = move |id, deps| Session::new(id, cid, deps);
        let (addr, id) = self.spawn(make, &msg.client_id, msg.worker);
        self.sessions.insert(msg.client_id, (addr.downgrade(), id));
        self.update_gauge();
        MessageResult(Connected {
            session: addr,
            session_id: id,
        })
    }
}

impl Handler<SessionGone> for SessionRegistry {
    type Result = ();
    fn handle(&mut self, msg: SessionGone, _ctx: &mut Context<Self>) {
        if let Some((_, id)) = self.sessions.get(&msg.client_id) {
            if *id == msg.session_id {
                self.sessions.remove(&msg.client_id);
                self.update_gauge();
            }
        }
    }
}

impl Handler<ShutdownSessions> for SessionRegistry {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: ShutdownSessions, _ctx: &mut Context<Self>) -> Self::Result {
        let all: Vec<_> = self
            .sessions
            .values()
            .filter_map(|(a, _)| live(a))
            .map(|a| a.send(ShutdownSession))
            .collect();
        Box::pin(async move {
            futures_util::future::join_all(all).await;
        })
    }
}

/// Ask every session with a connection whether its user is still allowed after a reload
/// (see [`Revoke`]).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RevokeUsers(pub RevokedBy);

impl Handler<RevokeUsers> for SessionRegistry {
    type Result = ();
    fn handle(&mut self, msg: RevokeUsers, _ctx: &mut Context<Self>) {
        for addr in self.sessions.values().filter_map(|(a, _)| live(a)) {
            addr.do_send(Revoke(msg.0.clone()));
        }
    }
}

/// A snapshot of the directory for the admin API: one pass over the map; sorting, and asking
/// the sessions themselves, happen afterwards, outside this actor (which CONNECTs wait for).
impl Handler<crate::admin::ListSessions> for SessionRegistry {
    type Result = MessageResult<crate::admin::ListSessions>;
    fn handle(
        &mut self,
        msg: crate::admin::ListSessions,
        _ctx: &mut Context<Self>,
    ) -> Self::Result {
        let prefix = msg.prefix.as_deref().unwrap_or("");
        let after = msg.after.as_deref();
        let out: Vec<(ClientId, Addr<Session>)> = self
            .sessions
            .iter()
            .filter(|(id, _)| {
                let id: &str = id;
                id.starts_with(prefix) && after.is_none_or(|a| id > a)
            })
            .filter_map(|(id, (addr, _))| Some((id.clone(), live(addr)?)))
            .collect();
        MessageResult(out)
    }
}

impl Handler<crate::admin::FindSession> for SessionRegistry {
    type Result = Option<Addr<Session>>;
    fn handle(&mut self, msg: crate::admin::FindSession, _ctx: &mut Context<Self>) -> Self::Result {
        self.sessions.get(&msg.0).and_then(|(addr, _)| live(addr))
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectFailure> for SessionRegistry {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectFailure, ctx: &mut Context<Self>) {
        log::error!("SessionRegistry: injected failure, stopping for restart");
        ctx.stop();
    }
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for SessionRegistry {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        panic!("SessionRegistry: injected panic");
    }
}
