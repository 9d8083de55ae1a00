//! Supervision: what keeps a panic in one handler from becoming an outage, and what a
//! supervised actor reports to the Guardian (guardian.rs), which sits above its children and is
//! seen by them only as a [`Recipient`] of [`ChildFailed`].
//!
//! actix does not catch a panic in a handler: it unwinds out of the actor's task, tokio catches
//! it there and drops the task, and with it the actor and its mailbox (the arbiter thread and
//! the other actors on it go on). Every `Addr` of that actor is then dead. So each actor runs
//! inside [`Supervise`], which polls it under `catch_unwind`: after a panic the actor value and
//! its mailbox are still there, and `Supervised::restarting` decides what the fault means for
//! that kind of actor (a singleton rebuilds its state and carries on; a Connection or Session
//! ends that one client). One `catch_unwind` per poll of the actor's task, not per message.

use crate::metrics::Metrics;
use actix::dev::ContextFut;
use actix::prelude::*;
use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{self, Poll};

/// Where a supervised actor reports its restarts; `None` when it runs unsupervised (tests).
pub type ReportTo = Option<Recipient<ChildFailed>>;

/// A supervised actor restarted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChildFailed {
    pub actor: &'static str,
}

impl ChildFailed {
    /// Count the restart and tell the Guardian (if there is one).
    pub fn report(supervisor: &ReportTo, metrics: &Metrics, actor: &'static str) {
        metrics.count_restart(actor);
        if let Some(g) = supervisor {
            g.do_send(ChildFailed { actor });
        }
    }
}

/// The kinds of actor a panic is counted by (`courtier_actor_panics_total{actor=...}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Connection,
    Session,
    RetainStore,
    SessionRegistry,
    TopicRouter,
    TopicSubtree,
    SysPublisher,
}

impl ActorKind {
    pub const ALL: [ActorKind; 7] = [
        ActorKind::Connection,
        ActorKind::Session,
        ActorKind::RetainStore,
        ActorKind::SessionRegistry,
        ActorKind::TopicRouter,
        ActorKind::TopicSubtree,
        ActorKind::SysPublisher,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ActorKind::Connection => "Connection",
            ActorKind::Session => "Session",
            ActorKind::RetainStore => "RetainStore",
            ActorKind::SessionRegistry => "SessionRegistry",
            ActorKind::TopicRouter => "TopicRouter",
            ActorKind::TopicSubtree => "TopicSubtree",
            ActorKind::SysPublisher => "SysPublisher",
        }
    }

    /// Index in [`ActorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// What [`Supervise`] does when the actor stops by itself (`ctx.stop()`); after a panic it
/// always calls `Supervised::restarting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// A singleton: stopping is a failure, restart it (actix's `Supervisor` behaviour).
    Restart,
    /// A Connection, Session or the $SYS publisher: stopping is its end.
    End,
}

/// What [`Supervise`] knows of an actor type: constants, so that the task of a Session or
/// Connection (one per client) is no larger than actix's own.
pub trait Supervision: Supervised + Actor<Context = Context<Self>> {
    const KIND: ActorKind;
    const ON_STOP: OnStop;
}

thread_local! {
    /// Set while `restarting` runs after a panic (not after a `ctx.stop()`).
    static AFTER_PANIC: Cell<bool> = const { Cell::new(false) };
}

/// For `restarting`: whether it runs after a panic, and if so, count that panic. Each actor
/// counts its own (it holds the metrics), so that its task carries nothing more.
pub fn count_panic<A: Supervision>(metrics: &Metrics) -> bool {
    let panicked = AFTER_PANIC.get();
    if panicked {
        metrics.count_panic(A::KIND);
    }
    panicked
}

/// Panics within one poll of the task after which a Connection or Session is given up
/// (stopped), and a singleton lets the thread's other tasks run before it goes on: a handler
/// that panics in `restarting` or `started` would otherwise spin.
const PANICS_IN_A_ROW: u32 = 3;

/// An actor's task: its `ContextFut`, polled under `catch_unwind` (see the module doc).
pub struct Supervise<A: Supervision> {
    fut: ContextFut<A, Context<A>>,
}

impl<A: Supervision> Supervise<A> {
    /// Start the actor `f` makes on the current arbiter.
    pub fn start<F>(f: F) -> Addr<A>
    where
        F: FnOnce(&mut Context<A>) -> A,
    {
        let mut ctx = Context::new();
        let act = f(&mut ctx);
        let addr = ctx.address();
        let fut = ctx.into_future(act);
        actix_rt::spawn(Supervise { fut });
        addr
    }

    /// Start the actor `f` makes on `arbiter`; its address is usable at once.
    pub fn start_in_arbiter<F>(arbiter: &ArbiterHandle, f: F) -> Addr<A>
    where
        F: FnOnce(&mut Context<A>) -> A + Send + 'static,
    {
        let (tx, rx) = actix::dev::channel::channel(16);
        arbiter.spawn_fn(move || {
            let mut ctx = Context::with_receiver(rx);
            let act = f(&mut ctx);
            let fut = ctx.into_future(act);
            actix_rt::spawn(Supervise { fut });
        });
        Addr::new(tx)
    }
}

impl<A: Supervision> Future for Supervise<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let name = A::KIND.name();
        let mut panics = 0;
        loop {
            let poll = catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.fut).poll(cx)));
            let panicked = match poll {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(())) if A::ON_STOP == OnStop::End => return Poll::Ready(()),
                Ok(Poll::Ready(())) => false,
                Err(_) => {
                    // The panic hook has logged it, with its backtrace.
                    panics += 1;
                    log::error!("{name}: recovering from a panic");
                    true
                }
            };
            // `restarting` runs here: after a panic for every kind, after a stop for
            // singletons. After a panic it runs even when no strong address is left (a
            // Connection is only held weakly): the address held meanwhile keeps actix from
            // taking the actor for gone before it could close its client.
            let hold = panicked.then(|| this.fut.address());
            AFTER_PANIC.set(panicked);
            let restarted = catch_unwind(AssertUnwindSafe(|| this.fut.restart()));
            AFTER_PANIC.set(false);
            drop(hold);
            match restarted {
                Ok(true) => {}
                Ok(false) => return Poll::Ready(()),
                Err(_) => {
                    panics += 1;
                    log::error!("{name}: panicked while restarting");
                }
            }
            if panics >= PANICS_IN_A_ROW {
                if A::ON_STOP == OnStop::End {
                    log::error!("{name}: panicked {panics} times in a row; stopped");
                    return Poll::Ready(());
                }
                // A singleton is needed: let the thread's other tasks run, then go on.
                log::error!("{name}: panicked {panics} times in a row; going on after a yield");
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }
}

/// Test-only: make a supervised actor fail (stop itself) so supervision can be exercised.
#[cfg(feature = "fault-injection")]
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct InjectFailure;

/// Test-only: make an actor panic in a handler, as a bug would.
#[cfg(feature = "fault-injection")]
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct InjectPanic;

/// Panics caught in background tasks that are not actors ([`spawn_task`]), process-wide.
static TASK_PANICS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Panics caught in background tasks since the process started
/// (`courtier_actor_panics_total{actor="BackgroundTask"}`).
pub fn task_panics() -> u64 {
    TASK_PANICS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Run a background task that is not an actor (the keep-alive sweep, the heap release, the
/// drop summary) on the current thread's runtime. tokio would catch a panic in it and drop the
/// task silently, and the broker would go on without it (no keep-alive enforced on that
/// thread, say). Here the panic (logged at ERROR by the process's panic hook) is counted and
/// the task started again, from a new future of `make`; it ends when one returns.
pub fn spawn_task<F, Fut>(what: &'static str, mut make: F)
where
    F: FnMut() -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    use futures_util::FutureExt;
    actix_rt::spawn(async move {
        while AssertUnwindSafe(make()).catch_unwind().await.is_err() {
            TASK_PANICS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            log::error!("{what}: panicked (the panic is logged above); started again");
        }
    });
}
