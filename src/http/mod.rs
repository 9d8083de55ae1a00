//! The HTTP side of Courtier, on actix-web and the broker's actix System: MQTT over WebSocket
//! ([`ws`]), Prometheus metrics ([`metrics`]) and health checks, on the `[http]` listener and
//! optionally a separate `[metrics]` listener.
//!
//! The listeners are bound and serving before the broker has loaded its state, so that /healthz
//! answers at once and /readyz can say "starting" (503) until the broker is ready and the MQTT
//! listener accepts; WebSocket upgrades are refused until then, too.

pub mod api;
mod listeners;
pub mod metrics;
mod metrics_bridges;
mod metrics_text;
pub mod ws;
pub use listeners::serve_ws;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use courtier_actors::Broker;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

const STARTING: u8 = 0;
const READY: u8 = 1;
const STOPPING: u8 = 2;

/// Shared by every HTTP worker: the broker once started, and the readiness phase.
pub struct HttpState {
    broker: OnceLock<Broker>,
    phase: AtomicU8,
    store_backend: &'static str,
    started: Instant,
    /// WSS handshakes that failed before the broker (and its metrics) was ready.
    early_tls_failures: AtomicU64,
    admin: OnceLock<Arc<api::Admin>>,
}

impl HttpState {
    pub fn new(store_backend: &'static str) -> Arc<HttpState> {
        Arc::new(HttpState {
            broker: OnceLock::new(),
            phase: AtomicU8::new(STARTING),
            store_backend,
            started: Instant::now(),
            early_tls_failures: AtomicU64::new(0),
            admin: OnceLock::new(),
        })
    }
    /// The broker's state is loaded and every listener accepts.
    pub fn set_ready(&self, broker: Broker) {
        let early = self.early_tls_failures.swap(0, Relaxed);
        let failures = &broker.metrics().tls_handshake_failures;
        failures.fetch_add(early, Relaxed);
        let _ = self.broker.set(broker);
        self.phase.store(READY, Relaxed);
    }
    /// A WSS handshake failed: counted with the MQTT listeners' failures.
    pub fn count_tls_handshake_failure(&self) {
        match self.broker() {
            Some(b) => b.metrics().tls_handshake_failures.fetch_add(1, Relaxed),
            None => self.early_tls_failures.fetch_add(1, Relaxed),
        };
    }

    /// The admin API's access rules and broker description (set once at start-up).
    pub fn set_admin(&self, admin: Arc<api::Admin>) {
        let _ = self.admin.set(admin);
    }
    pub fn admin(&self) -> Option<&api::Admin> {
        self.admin.get().map(|a| &**a)
    }
    pub fn set_stopping(&self) {
        self.phase.store(STOPPING, Relaxed);
    }
    pub fn broker(&self) -> Option<&Broker> {
        self.broker.get()
    }
    pub fn is_ready(&self) -> bool {
        self.phase.load(Relaxed) == READY
    }
}

async fn healthz(state: web::Data<HttpState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "uptime_seconds": state.started.elapsed().as_secs(),
    }))
}

async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    let (ready, status) = match state.phase.load(Relaxed) {
        READY => (true, "ready"),
        STARTING => (false, "starting"),
        _ => (false, "stopping"),
    };
    let body = serde_json::json!({
        "status": status,
        "store": state.store_backend,
        "listeners": if ready { "accepting" } else { "not accepting" },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// What one listener serves.
#[derive(Clone, Copy)]
pub struct Routes {
    pub websocket: bool,
    pub metrics: bool,
    /// The admin API under /api/v1.
    pub api: bool,
}

pub fn bind(addr: &str, what: &str) -> io::Result<TcpListener> {
    TcpListener::bind(addr).map_err(|e| {
        let hint = crate::hints::listen(&e, addr);
        io::Error::new(
            e.kind(),
            format!("cannot listen for {what} on {addr}: {e}: {hint}"),
        )
    })
}

/// Serve `listener` on the current actix System with `workers` threads. Signals are left to
/// main.rs, which stops the HTTP servers as part of the broker's shutdown.
pub fn serve(
    listener: TcpListener,
    state: Arc<HttpState>,
    routes: Routes,
    workers: usize,
) -> io::Result<(SocketAddr, ServerHandle)> {
    let addr = listener.local_addr()?;
    let data = web::Data::from(state);
    let server = HttpServer::new(move || {
        let mut app = App::new()
            .app_data(data.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz));
        if routes.metrics {
            app = app.route("/metrics", web::get().to(metrics::handler));
        }
        if routes.websocket {
            app = app
                .route("/mqtt", web::get().to(ws::handler))
                .route("/", web::get().to(ws::handler));
        }
        if routes.api {
            app = app.configure(api::routes);
        }
        app
    })
    .workers(workers.max(1))
    .disable_signals()
    // WebSocket clients are closed by the broker's shutdown before the server stops; what is
    // left (clients that never sent CONNECT) is cut after this.
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    let mut served = vec!["/healthz", "/readyz"];
    if routes.metrics {
        served.push("/metrics");
    }
    if routes.api {
        served.extend(["/api/v1", "/dashboard"]);
    }
    if routes.websocket {
        served.insert(0, "MQTT over WebSocket on /mqtt and /");
    }
    log::info!("listening for HTTP on {addr} ({})", served.join(", "));
    Ok((addr, handle))
}

#[cfg(test)]
mod tests;
