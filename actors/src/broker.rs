//! `Broker`: the handle the server shell uses. Starts the actors in order (store loaded ->
//! retained store -> topic router -> registry with restored sessions -> $SYS), hands accepted
//! sockets to Connection actors spread over the worker arbiters, and runs the shutdown.

use crate::auth::Security;
use crate::bridge::BridgeStatus;
use crate::config::BrokerConfig;
use crate::connection::{Connection, ConnectionDeps};
use crate::guardian::{Guardian, Shutdown};
use crate::metrics::Metrics;
use crate::registry::{Init, SessionRegistry};
use crate::retain::RetainStore;
use crate::session::{Router, SessionDeps};
use crate::supervision::Supervise;
use crate::sys::SysPublisher;
use crate::topics::{TopicIndex, TopicRouter};
use actix::prelude::*;
use courtier_storage::{CommitWriter, Loaded, SessionRecord, Store, WriterCounters};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

#[path = "broker_bridges.rs"]
mod bridges;
#[cfg(feature = "fault-injection")]
#[path = "broker_faults.rs"]
mod faults;
#[cfg(feature = "fault-injection")]
pub use faults::{FailureTarget, PanicTarget};

/// Connections over `max_connections` that are still read, so that their CONNECT can be
/// answered "server busy" (5.0 0x89) instead of a bare close; beyond these, sockets are
/// closed at once, so a flood costs nothing more.
const BUSY_ANSWERS: usize = 16;

/// What a new connection gets (see [`Broker::admission`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Accept,
    /// Over the limit: CONNECT is answered "server busy", then the connection closes.
    Busy,
    /// Far over the limit: closed at once.
    Drop,
}

#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
struct Inner {
    cfg: Arc<BrokerConfig>,
    metrics: Arc<Metrics>,
    guardian: Addr<Guardian>,
    registry: Addr<SessionRegistry>,
    retain: Addr<RetainStore>,
    topics: Addr<TopicRouter>,
    sys: Option<Addr<SysPublisher>>,
    workers: Vec<ArbiterHandle>,
    next_worker: AtomicUsize,
    persist: Arc<CommitWriter>,
    /// Read for its memory counts (/metrics) and closed at shutdown; written only through
    /// `persist`.
    store: Arc<dyn Store>,
    /// Shared by every connection: an `Addr` clone per connection is an allocation of its own.
    connection_deps: Arc<ConnectionDeps>,
    /// The router bridges publish through (with the store writer, like a session's).
    router: Router,
    /// Stored bridge queues from before the restart, by bridge name, until the bridge starts.
    bridge_queues: std::sync::Mutex<std::collections::HashMap<String, SessionRecord>>,
    bridges: std::sync::Mutex<Vec<Arc<BridgeStatus>>>,
}

impl Broker {
    /// Start the broker's actors on `store`, whose contents were read into `loaded`. Must run
    /// inside an actix `System`. Returns once the persisted state is restored, so listeners
    /// opened afterwards see a complete broker.
    pub async fn start(cfg: BrokerConfig, store: Arc<dyn Store>, loaded: Loaded) -> Broker {
        let security = Security::basic(cfg.allow_anonymous);
        Broker::start_with(cfg, security, store, loaded).await
    }

    /// [`Broker::start`] with the authentication and authorization the broker consults.
    pub async fn start_with(
        cfg: BrokerConfig,
        security: Security,
        store: Arc<dyn Store>,
        loaded: Loaded,
    ) -> Broker {
        let cfg = Arc::new(cfg);
        let metrics = Arc::new(Metrics::default());
        // Message ids double as store sequences and body ids: start above every sequence
        // stored and every body id ever stored, deleted ones too, so none is reused (and above
        // the clock, in case the store is older than this process's counter).
        let max_seq = loaded
            .sessions
            .iter()
            .flat_map(|s| s.messages.iter().map(|(seq, _)| *seq))
            .max()
            .unwrap_or(0)
            .max(loaded.body_high_water);
        crate::message::MessageId::ensure_above(max_seq);
        // Bridge queues are stored like sessions but belong to the bridges, not the registry.
        let (bridge_queues, sessions): (Vec<_>, Vec<_>) = loaded
            .sessions
            .into_iter()
            .partition(|s| s.meta.client_id.starts_with(crate::bridge::QUEUE_PREFIX));
        let bridge_queues = bridge_queues
            .into_iter()
            .map(|s| {
                (
                    s.meta.client_id[crate::bridge::QUEUE_PREFIX.len()..].to_owned(),
                    s,
                )
            })
            .collect();
        let store_handle = store.clone();
        let persist = CommitWriter::start_counted(
            store.clone(),
            cfg.sync,
            cfg.sync_interval,
            WriterCounters {
                write_errors: metrics.store_write_errors.clone(),
                panics: metrics.store_writer_panics.clone(),
            },
        );
        let threads = match cfg.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let workers: Vec<ArbiterHandle> = (0..threads).map(|_| Arbiter::new().handle()).collect();
        for (n, w) in workers.iter().enumerate() {
            w.spawn_fn(move || crate::registry::set_current_worker(n));
        }
        log::info!(
            "starting broker: {} worker threads, {} store",
            threads,
            store.backend_name()
        );
        let guardian = Guardian::start(
            store,
            persist.clone(),
            metrics.clone(),
            workers.clone(),
            loaded.retained,
            cfg.shared_subscription_strategy,
        );
        let (retain, topics, index, registry) = guardian
            .send(Children)
            .await
            .expect("guardian just started");
        let deps = SessionDeps {
            topics: topics.clone(),
            index: index.clone(),
            retain: retain.clone(),
            registry: registry.clone(),
            persist: persist.clone(),
            cfg: cfg.clone(),
            metrics: metrics.clone(),
            security: security.clone(),
            router: Router::new(
                topics.clone(),
                index.clone(),
                retain.clone(),
                Some(persist.clone()),
            )
            .with_live(cfg.live.clone()),
        };
        let router = deps.router.clone();
        let restored = registry.send(Init(deps, sessions)).await.unwrap_or(0);
        if restored > 0 {
            log::info!("restored {restored} persistent sessions");
        }
        let sys = cfg.sys_interval.map(|every| {
            let router = Router::new(topics.clone(), index.clone(), retain.clone(), None);
            let publisher = SysPublisher::new(router, retain.clone(), metrics.clone(), every)
                .with_trace(cfg.trace.clone());
            Supervise::start(move |_| publisher)
        });
        crate::drop_summary::spawn_logger(metrics.clone());
        let connection_deps = Arc::new(ConnectionDeps {
            registry: registry.clone(),
            security,
            cfg: cfg.clone(),
            metrics: metrics.clone(),
        });
        Broker {
            inner: Arc::new(Inner {
                cfg,
                metrics,
                guardian,
                registry,
                retain,
                topics,
                sys,
                workers,
                next_worker: AtomicUsize::new(0),
                persist,
                store: store_handle,
                connection_deps,
                router,
                bridge_queues: std::sync::Mutex::new(bridge_queues),
                bridges: std::sync::Mutex::default(),
            }),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// What the store's engine holds in memory, for /metrics (`None` without such a store).
    pub fn store_memory(&self) -> Option<courtier_storage::StoreMemory> {
        self.inner.store.memory()
    }

    /// Retained messages and their payload bytes, for /metrics.
    pub async fn retained_stats(&self) -> crate::sys::RetainedStats {
        crate::sys::retained_stats(&self.inner.retain).await
    }

    pub(crate) fn registry(&self) -> &Addr<SessionRegistry> {
        &self.inner.registry
    }

    pub(crate) fn retain(&self) -> &Addr<RetainStore> {
        &self.inner.retain
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.inner.cfg
    }

    fn connection_deps(&self) -> Arc<ConnectionDeps> {
        self.inner.connection_deps.clone()
    }

    /// Whether another connection may be opened (`max_connections`), and if not, whether it
    /// is still answered with a "server busy" CONNACK.
    pub fn admission(&self) -> Admission {
        let Some(max) = self.inner.cfg.max_connections else {
            return Admission::Accept;
        };
        let open = self.inner.metrics.connections_open.load(Relaxed).max(0) as usize;
        if open < max {
            Admission::Accept
        } else if open < max + BUSY_ANSWERS {
            Admission::Busy
        } else {
            Admission::Drop
        }
    }

    /// Run `task` on the first worker arbiter (the TCP accept loop: with one worker, every
    /// socket is then served on the thread that accepted it).
    pub fn spawn_on_first_worker<F, Fut>(&self, task: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        self.inner.workers[0].spawn_fn(move || {
            actix_rt::spawn(task());
        });
    }

    /// Run `task` on the next worker arbiter, round robin like [`Broker::accept_tcp`] (a TLS
    /// handshake, then the connection it opens, on that worker).
    pub fn spawn_on_next_worker<F, Fut>(&self, task: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let n = self.inner.next_worker.fetch_add(1, Relaxed) % self.inner.workers.len();
        self.inner.workers[n].spawn_fn(move || {
            actix_rt::spawn(task());
        });
    }

    /// Serve an accepted TCP socket on the next worker arbiter (round robin): on this thread
    /// when that is the one, else handed over to it.
    pub fn accept_tcp(&self, stream: tokio::net::TcpStream, peer: SocketAddr, busy: bool) {
        let deps = self.connection_deps();
        let n = self.inner.next_worker.fetch_add(1, Relaxed) % self.inner.workers.len();
        if crate::registry::current_worker() == Some(n) {
            let (r, w) = stream.into_split();
            Connection::start(r, w, peer.to_string(), "tcp", deps, busy, None);
            return;
        }
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => return log::warn!("socket from {peer}: {e}"),
        };
        self.inner.workers[n].spawn_fn(move || match tokio::net::TcpStream::from_std(stream) {
            Ok(s) => {
                let (r, w) = s.into_split();
                Connection::start(r, w, peer.to_string(), "tcp", deps, busy, None);
            }
            Err(e) => log::warn!("socket from {peer}: {e}"),
        });
    }

    /// Serve any byte stream (TLS, WebSocket adapters) on the current arbiter.
    pub fn accept_stream<R, W>(
        &self,
        reader: R,
        writer: W,
        peer: String,
        transport: &'static str,
        busy: bool,
    ) where
        R: AsyncRead + Unpin + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        self.accept_stream_as(reader, writer, peer, transport, busy, None);
    }

    /// [`Broker::accept_stream`] for a client a TLS listener identified by its certificate
    /// (`use_identity_as_username` / `use_subject_as_username`): `cert_username` is its user
    /// name, whatever its CONNECT says, and no password is asked for (Mosquitto's behaviour).
    pub fn accept_stream_as<R, W>(
        &self,
        reader: R,
        writer: W,
        peer: String,
        transport: &'static str,
        busy: bool,
        cert_username: Option<bytestring::ByteString>,
    ) where
        R: AsyncRead + Unpin + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let deps = self.connection_deps();
        Connection::start(reader, writer, peer, transport, deps, busy, cert_username);
    }

    /// New `[trace]` settings (SIGHUP): messages entering from now on, and the clients the
    /// filters name, are traced by them (`None` turns `[trace]` off); runtime traces started
    /// from now on log at most `log_lines_per_sec` lines a second.
    pub fn set_trace(
        &self,
        filter: Option<Arc<crate::trace::TraceFilter>>,
        log_lines_per_sec: u32,
    ) {
        self.inner.cfg.trace.replace(filter);
        self.inner.cfg.live.set_log_limit(log_lines_per_sec);
    }

    /// After a reload of the security settings: close the connection of every client whose
    /// user `revoked_by` names as withdrawn (5.0: DISCONNECT 0x98 administrative action; 3.x:
    /// closed). Others stay connected.
    pub fn revoke(&self, revoked_by: crate::session::messages::RevokedBy) {
        self.inner
            .registry
            .do_send(crate::registry::RevokeUsers(revoked_by));
    }

    /// Close every client, save sessions, flush the store. The caller applies the deadline.
    pub async fn shutdown(&self) {
        let _ = self.inner.guardian.send(Shutdown).await;
        // Give the writers a moment to flush what the sessions queued (DISCONNECTs, acks).
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
        for w in &self.inner.workers {
            w.stop();
        }
        // Everything submitted is written and flushed; then the store is closed here rather
        // than by whichever holder drops it last, which may be after the process has begun to
        // exit (see `Store::close`).
        let persist = self.inner.persist.clone();
        let store = self.inner.store.clone();
        let _ = actix_rt::task::spawn_blocking(move || {
            persist.stop();
            store.close();
        })
        .await;
    }
}

/// Ask the Guardian for the singletons it started.
#[derive(Message)]
#[rtype(result = "(Addr<RetainStore>, Addr<TopicRouter>, Arc<TopicIndex>, Addr<SessionRegistry>)")]
struct Children;

impl Handler<Children> for Guardian {
    type Result = MessageResult<Children>;
    fn handle(&mut self, _: Children, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult((
            self.retain.clone(),
            self.topics.clone(),
            self.index.clone(),
            self.registry.clone(),
        ))
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
