//! A running Courtier: the broker core plus its listeners, started in the order the
//! architecture requires (state loaded before any listener opens) and stopped within a deadline.

use crate::config::{OnCorruption, Settings};
use crate::http::{self, HttpState, Routes};
pub use crate::reloader::Reloader;
use crate::security::SecurityFiles;
use crate::{listener, listeners};
use actix_web::dev::ServerHandle;
use courtier_actors::Broker;
use courtier_storage::{Loaded, MemoryStore, Store};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

pub struct Server {
    pub broker: Broker,
    /// The bound MQTT/TCP address (useful with port 0).
    pub mqtt_addr: SocketAddr,
    /// The bound `[http]` address (WebSocket, health, metrics), if enabled.
    pub http_addr: Option<SocketAddr>,
    /// The bound `[metrics]` address, if enabled.
    pub metrics_addr: Option<SocketAddr>,
    /// Every MQTT and WebSocket listener with its transport ("tcp", "tls", "websocket",
    /// "wss"), in configuration order (`[http]` not included).
    pub listeners: Vec<(SocketAddr, &'static str)>,
    /// The password and ACL files in force; [`Server::reload_security`] replaces them.
    pub security: SecurityFiles,
    /// The TLS listeners' certificates, keys and clients' CAs; [`Server::reload_certificates`]
    /// reads them again.
    certs: Vec<crate::tls::TlsFiles>,
    accept: Vec<listener::Accepting>,
    http_state: Arc<HttpState>,
    http_servers: Vec<ServerHandle>,
    shutdown_timeout: Duration,
}

/// What opening the store found wrong (each is logged at ERROR by the store and counted).
#[derive(Clone, Copy, Default)]
pub struct StoreFindings {
    /// A corrupt store was moved aside.
    pub corrupted: bool,
    /// A damaged write-ahead log was recovered up to the damage (a copy kept beside it).
    pub wal_damaged: bool,
    /// The disk was too full to open the store for writing: it was loaded read-only and
    /// refuses writes until there is room (counted as a failed write).
    pub read_only: bool,
}

/// The store the settings ask for, opened and read: RocksDB in `persistence.data_dir`, or
/// memory when persistence is disabled. Returns the store, its contents, and what was found
/// wrong with it.
pub fn open_store(settings: &Settings) -> io::Result<(Arc<dyn Store>, Loaded, StoreFindings)> {
    let p = &settings.persistence;
    if !p.enabled {
        log::info!("persistence disabled: sessions and retained messages live in memory only");
        return Ok((
            Arc::new(MemoryStore::new()),
            Loaded::default(),
            StoreFindings::default(),
        ));
    }
    std::fs::create_dir_all(&p.data_dir).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot create data_dir {}: {e}: {}",
                p.data_dir.display(),
                crate::hints::path(&e, &p.data_dir)
            ),
        )
    })?;
    let path = p.data_dir.join("store");
    let policy = match p.on_corruption {
        OnCorruption::MoveAside => courtier_storage::OnCorruption::MoveAside,
        OnCorruption::Fail => courtier_storage::OnCorruption::Fail,
    };
    let cap_mb = usize::try_from(p.write_buffer_cap_mb).unwrap_or(usize::MAX);
    courtier_storage::set_write_buffer_cap(cap_mb.saturating_mul(1024 * 1024));
    let started = std::time::Instant::now();
    let opened = courtier_storage::open_rocks(&path, policy).map_err(|e| {
        let hint = crate::hints::store(&e, &path);
        io::Error::other(format!("store {}: {e}: {hint}", path.display()))
    })?;
    let loaded = crate::mosquitto_import::on_open(settings, &opened.store, opened.loaded)?;
    log::info!(
        "store {} opened{} in {:?}: {} persistent sessions, {} retained messages (sync = {:?})",
        path.display(),
        if opened.read_only_free.is_some() {
            " read-only"
        } else {
            ""
        },
        started.elapsed(),
        loaded.sessions.len(),
        loaded.retained.len(),
        p.sync
    );
    let findings = StoreFindings {
        corrupted: opened.moved_aside.is_some(),
        wal_damaged: opened.wal_damage.is_some(),
        read_only: opened.read_only_free.is_some(),
    };
    Ok((opened.store, loaded, findings))
}

impl Server {
    /// Start on the current actix System with the store the settings ask for.
    pub async fn start_configured(settings: &Settings) -> io::Result<Server> {
        let bound = listeners::bind(settings).await?;
        let (store, loaded, found) = open_store(settings)?;
        let server = Server::start_with(settings, bound, store, loaded).await?;
        let metrics = server.broker.metrics();
        if found.corrupted {
            metrics.store_corruptions.fetch_add(1, Relaxed);
        }
        if found.wal_damaged {
            metrics.store_wal_corruptions.fetch_add(1, Relaxed);
        }
        if found.read_only {
            metrics.store_write_errors.fetch_add(1, Relaxed);
        }
        Ok(server)
    }

    /// Start on the current actix System with the given store (read here).
    ///
    /// The HTTP listeners are bound with the MQTT one and serve at once: /healthz answers while
    /// state is restored, and /readyz says 503 until the broker is ready and the listeners accept.
    pub async fn start(settings: &Settings, store: Arc<dyn Store>) -> io::Result<Server> {
        let bound = listeners::bind(settings).await?;
        let loaded = store
            .load()
            .map_err(|e| io::Error::other(format!("store: {e}")))?;
        Server::start_with(settings, bound, store, loaded).await
    }

    /// The port is bound first (by the callers), so a port already in use fails before any
    /// state is read; connections are accepted only once the broker's state is restored (until
    /// then they wait in the kernel's backlog).
    async fn start_with(
        settings: &Settings,
        bound: listeners::Bound,
        store: Arc<dyn Store>,
        loaded: Loaded,
    ) -> io::Result<Server> {
        let mqtt_addr = match (bound.mqtt.first(), bound.ws.first()) {
            (Some(l), _) => l.addr,
            (None, Some(l)) => l.addr,
            (None, None) => return Err(io::Error::other("no listener configured")),
        };
        let security = SecurityFiles::load(&settings.security).map_err(io::Error::other)?;
        let http_listener = match settings.http.enabled {
            true => Some(http::bind(&settings.http.listen_addr(), "HTTP")?),
            false => None,
        };
        let metrics_listener = match settings.metrics.enabled {
            true => Some(http::bind(&settings.metrics.listen_addr(), "metrics")?),
            false => None,
        };
        let http_state = HttpState::new(store.backend_name());
        let mut http_servers = Vec::new();
        let mut serve = |l, routes, workers| -> io::Result<SocketAddr> {
            let (addr, handle) = http::serve(l, http_state.clone(), routes, workers)?;
            http_servers.push(handle);
            Ok(addr)
        };
        let workers = match settings.broker.worker_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let websocket = Routes {
            websocket: true,
            metrics: settings.http.metrics,
            api: true,
        };
        let metrics_only = Routes {
            websocket: false,
            metrics: true,
            api: false,
        };
        let http_addr = http_listener
            .map(|l| serve(l, websocket, workers))
            .transpose()?;
        let metrics_addr = metrics_listener
            .map(|l| serve(l, metrics_only, 1))
            .transpose()?;
        let certs = bound.certs;
        let mut addrs = Vec::new();
        let handshake = Duration::from_secs(settings.broker.connect_timeout_secs);
        for l in bound.ws {
            addrs.push((l.addr, l.endpoint.transport));
            let handle = http::serve_ws(l, http_state.clone(), workers, handshake)?;
            http_servers.push(handle);
        }
        let broker =
            Broker::start_with(settings.broker_config(), security.security(), store, loaded).await;
        crate::bridge::start_all(&broker, &settings.bridges).await?;
        let mut accept = Vec::new();
        for l in bound.mqtt {
            let transport = l.options.as_ref().map_or("tcp", |o| o.transport);
            log::info!("listening for MQTT on {} ({transport})", l.addr);
            addrs.push((l.addr, transport));
            accept.push(listener::serve(l.tcp, &broker, l.options)?);
        }
        http_state.set_admin(http::api::admin(settings, &security, http_addr, &addrs)?);
        http_state.set_ready(broker.clone());
        Ok(Server {
            broker,
            mqtt_addr,
            http_addr,
            metrics_addr,
            listeners: addrs,
            security,
            certs,
            accept,
            http_state,
            http_servers,
            shutdown_timeout: settings.broker.shutdown_timeout(),
        })
    }

    /// What a reload changes (SIGHUP and `POST /api/v1/reload`), as a handle the API's hook
    /// can keep.
    pub fn reloader(&self) -> Reloader {
        Reloader::new(
            self.security.clone(),
            self.certs.clone(),
            self.broker.clone(),
        )
    }

    /// What `POST /api/v1/reload` runs (main.rs: the same as SIGHUP). Until this is called
    /// it re-reads the password and ACL files named at start-up.
    pub fn set_reload(&self, hook: http::api::ReloadHook) {
        if let Some(admin) = self.http_state.admin() {
            *admin.reload.lock().expect("not poisoned") = hook;
        }
    }

    /// Stop accepting, close clients, save sessions, flush the store; give up waiting after
    /// the shutdown deadline.
    /// WebSocket clients are Connection actors too, so the broker's shutdown closes them like
    /// TCP clients; the HTTP servers stop after that.
    pub async fn stop(self) {
        for a in &self.accept {
            a.stop();
        }
        self.http_state.set_stopping();
        log::info!("shutting down (deadline {:?})", self.shutdown_timeout);
        if actix_rt::time::timeout(self.shutdown_timeout, self.broker.shutdown())
            .await
            .is_err()
        {
            log::error!(
                "shutdown did not finish within {:?}; exiting anyway",
                self.shutdown_timeout
            );
        }
        for handle in &self.http_servers {
            handle.stop(true).await;
        }
    }
}

/// A server on its own thread and actix System: for tests and embedding in another runtime.
pub struct ServerThread {
    pub mqtt_addr: SocketAddr,
    pub http_addr: Option<SocketAddr>,
    pub metrics_addr: Option<SocketAddr>,
    /// See [`Server::listeners`].
    pub listeners: Vec<(SocketAddr, &'static str)>,
    pub broker: Broker,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// With the store the settings ask for (RocksDB in data_dir, unless disabled).
    pub fn spawn_configured(settings: Settings) -> io::Result<ServerThread> {
        ServerThread::spawn_inner(settings, None)
    }

    pub fn spawn(settings: Settings, store: Arc<dyn Store>) -> io::Result<ServerThread> {
        ServerThread::spawn_inner(settings, Some(store))
    }

    fn spawn_inner(settings: Settings, store: Option<Arc<dyn Store>>) -> io::Result<ServerThread> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("courtier".into())
            .spawn(move || {
                let sys = actix_rt::System::new();
                sys.block_on(async move {
                    let started = match store {
                        Some(store) => Server::start(&settings, store).await,
                        None => Server::start_configured(&settings).await,
                    };
                    match started {
                        Ok(server) => {
                            let addrs = (
                                server.mqtt_addr,
                                server.http_addr,
                                server.metrics_addr,
                                server.listeners.clone(),
                            );
                            let _ = ready_tx.send(Ok((addrs, server.broker.clone())));
                            let _ = stop_rx.await;
                            server.stop().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let ((mqtt_addr, http_addr, metrics_addr, listeners), broker) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("broker thread died during start-up"))??;
        Ok(ServerThread {
            mqtt_addr,
            http_addr,
            metrics_addr,
            listeners,
            broker,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Shut down and wait for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}
