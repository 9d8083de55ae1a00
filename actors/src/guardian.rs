//! Guardian: the top supervisor. It starts the singletons (RetainStore, TopicRouter,
//! SessionRegistry) under actix `Supervisor`s, is told about every restart, and owns the
//! shutdown sequence.
//!
//! Each singleton runs in a [`Supervise`] task: when it stops itself (`ctx.stop()`) or panics
//! in a handler, `Supervised::restarting` runs on the same actor value, behind the same
//! address, restores its state (from the store, or what the other actors hold) and reports
//! here. Release builds unwind on panic (`panic = "unwind"`) so that this can happen.

use crate::metrics::Metrics;
use crate::registry::{SessionRegistry, ShutdownSessions};
use crate::retain::{FlushRetained, RetainStore};
pub use crate::supervision::ChildFailed;
use crate::supervision::Supervise;
#[cfg(feature = "fault-injection")]
pub use crate::supervision::{InjectFailure, InjectPanic};
use crate::topics::{TopicIndex, TopicRouter};
use actix::prelude::*;
use courtier_storage::{CommitWriter, RetainedRecord, Store};
use std::sync::Arc;

/// Stop the broker's actors in order: sessions (connections closed, persistent sessions
/// saved), then retained messages flushed, then the store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

pub struct Guardian {
    pub(crate) retain: Addr<RetainStore>,
    pub(crate) topics: Addr<TopicRouter>,
    pub(crate) index: Arc<TopicIndex>,
    pub(crate) registry: Addr<SessionRegistry>,
    persist: Arc<CommitWriter>,
}

impl Guardian {
    /// Start the Guardian and the singletons it supervises, on the current arbiter.
    pub fn start(
        store: Arc<dyn Store>,
        persist: Arc<CommitWriter>,
        metrics: Arc<Metrics>,
        arbiters: Vec<ArbiterHandle>,
        retained: Vec<RetainedRecord>,
        strategy: crate::config::SharedStrategy,
    ) -> Addr<Guardian> {
        Guardian::create(move |ctx| {
            let me = Some(ctx.address().recipient());
            let (s, w, m, g) = (store, persist.clone(), metrics.clone(), me.clone());
            let retain = Supervise::start(move |_| RetainStore::new(s, w, m, g, retained));
            let index = Arc::new(TopicIndex::new(strategy, metrics.clone()));
            let (m, g, a, i) = (metrics.clone(), me.clone(), arbiters.clone(), index.clone());
            let topics = Supervise::start(move |_| TopicRouter::new(i, a, m, g));
            // On the first worker, where the accept loop starts connections: with one worker a
            // CONNECT's registry round trip then stays on one thread.
            let first = arbiters.first().cloned();
            let make = move |_: &mut Context<SessionRegistry>| SessionRegistry::new(arbiters, me);
            let registry = match first {
                Some(arbiter) => Supervise::start_in_arbiter(&arbiter, make),
                None => Supervise::start(make),
            };
            Guardian {
                retain,
                topics,
                index,
                registry,
                persist,
            }
        })
    }
}

impl Actor for Guardian {
    type Context = Context<Self>;
}

impl Handler<ChildFailed> for Guardian {
    type Result = ();
    fn handle(&mut self, msg: ChildFailed, _ctx: &mut Context<Self>) {
        log::warn!("guardian: supervised actor {} restarted", msg.actor);
    }
}

impl Handler<Shutdown> for Guardian {
    type Result = ResponseFuture<()>;
    fn handle(&mut self, _: Shutdown, _ctx: &mut Context<Self>) -> Self::Result {
        let registry = self.registry.clone();
        let retain = self.retain.clone();
        let persist = self.persist.clone();
        Box::pin(async move {
            log::info!("shutdown: closing client connections and saving sessions");
            let _ = registry.send(ShutdownSessions).await;
            let _ = retain.send(FlushRetained).await;
            if let Err(e) = persist.flush().await {
                log::error!("shutdown: store flush failed: {e}");
            }
            log::info!("shutdown: state flushed");
        })
    }
}
