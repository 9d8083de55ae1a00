//! The admin API under /api/v1 on the `[http]` listener (README.md, "Admin API"): JSON
//! snapshots of clients, subscriptions, topics and retained messages, disconnects, the
//! broker's settings and reload. Every route sits behind [`access`]; every mutating call is
//! logged at INFO with who made it.
//!
//! Reads are typed messages to the registry, the sessions and the retained store
//! (`courtier_actors::admin`), answered between deliveries: the API never holds a lock the
//! message flow needs.

pub mod access;
mod bridges;
mod broker;
mod clients;
mod dashboard;
mod retained;
pub mod topics;
pub mod traces;

use super::HttpState;
use access::{Access, Credentials, Decision};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpResponse};
use std::sync::{Arc, Mutex};

/// `POST /api/v1/reload`: reloads what SIGHUP reloads, answering what was reloaded or why not.
pub type ReloadHook = Arc<dyn Fn() -> Result<serde_json::Value, ReloadError> + Send + Sync>;

/// Why a reload failed: the message, and the file and line when a file is at fault.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadError {
    pub error: String,
    pub file: Option<String>,
    pub line: Option<usize>,
}

/// What the API needs besides the broker, set once the server has started.
pub struct Admin {
    pub access: Access,
    /// `GET /api/v1/broker`: version, listeners, effective settings (no secrets).
    pub info: serde_json::Value,
    pub reload: Mutex<ReloadHook>,
}

/// Who made the request, in the request's extensions (set by [`guard`]), for handlers that
/// record it (e.g. who started a trace).
#[derive(Clone)]
pub struct Caller(pub String);

/// Register the API's routes and the dashboard on an app (one line in `super::serve`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/dashboard")
            .wrap(from_fn(guard))
            .route(web::get().to(dashboard::page)),
    );
    let api = web::scope("/api/v1")
        .wrap(from_fn(guard))
        .configure(clients::routes)
        .configure(retained::routes)
        .configure(broker::routes)
        .configure(traces::routes)
        .configure(bridges::routes);
    cfg.service(api);
}

fn json_error(status: actix_web::http::StatusCode, msg: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": msg }))
}

/// Access control and the log of mutating calls.
async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    use actix_web::http::StatusCode;
    let state = req.app_data::<web::Data<HttpState>>().cloned();
    let admin = state.as_ref().and_then(|s| s.admin());
    let (Some(admin), Some(peer)) = (admin, req.peer_addr()) else {
        let resp = json_error(StatusCode::SERVICE_UNAVAILABLE, "the broker is starting");
        return Ok(req.into_response(resp));
    };
    let credentials = Credentials::parse(
        req.headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let refuse = |req: ServiceRequest, resp: HttpResponse| Ok(req.into_response(resp));
    let who = match admin.access.decide(peer.ip(), credentials).await {
        Decision::Allow(who) => who,
        Decision::LoopbackOnly => {
            return refuse(
                req,
                json_error(
                    StatusCode::FORBIDDEN,
                    "the admin API answers loopback only: set [admin] users or token_file",
                ),
            )
        }
        Decision::Unauthorized { tried } => {
            if tried {
                log::warn!(
                    "admin API: refused {} {} from {}: bad credentials",
                    req.method(),
                    req.path(),
                    peer.ip()
                );
            }
            let mut resp = json_error(StatusCode::UNAUTHORIZED, "credentials required");
            resp.headers_mut().insert(
                actix_web::http::header::WWW_AUTHENTICATE,
                actix_web::http::header::HeaderValue::from_static("Basic realm=\"courtier admin\""),
            );
            return refuse(req, resp);
        }
        Decision::TooSoon => {
            return refuse(
                req,
                json_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many failed attempts: wait a second",
                ),
            )
        }
    };
    let mutating = req.method() != Method::GET && req.method() != Method::HEAD;
    let line = mutating.then(|| format!("{} {}", req.method(), req.uri()));
    req.extensions_mut().insert(Caller(who.clone()));
    let resp = next.call(req).await?;
    if let Some(line) = line {
        log::info!("admin API: {who}: {line} -> {}", resp.status().as_u16());
    }
    Ok(resp.map_into_boxed_body())
}

/// An error answer: its status and `{"error": ...}`.
#[derive(Debug)]
pub struct ApiError(actix_web::http::StatusCode, String);

impl ApiError {
    pub fn new(status: actix_web::http::StatusCode, msg: impl Into<String>) -> ApiError {
        ApiError(status, msg.into())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0
    }
    fn error_response(&self) -> HttpResponse {
        json_error(self.0, &self.1)
    }
}

/// The broker, or 503 while it starts.
fn broker(state: &HttpState) -> Result<&courtier_actors::Broker, ApiError> {
    state.broker().ok_or_else(|| {
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "the broker is starting",
        )
    })
}

impl From<crate::security::FileError> for ReloadError {
    fn from(e: crate::security::FileError) -> ReloadError {
        ReloadError {
            error: e.to_string(),
            file: Some(e.path.to_string_lossy().into_owned()),
            line: e.line,
        }
    }
}

/// The API's state for a server started with `settings`: access rules (the token file is
/// read here; an unreadable one stops start-up), the broker's description, and a reload that
/// re-reads the security files named at start-up until [`crate::Server::set_reload`].
pub fn admin(
    settings: &crate::config::Settings,
    security: &crate::security::SecurityFiles,
    http_addr: Option<std::net::SocketAddr>,
    listeners: &[(std::net::SocketAddr, &'static str)],
) -> std::io::Result<Arc<Admin>> {
    let cfg = &settings.admin;
    let tokens = match cfg.token_file.as_os_str().is_empty() {
        true => Vec::new(),
        false => access::read_tokens(&cfg.token_file).map_err(std::io::Error::other)?,
    };
    if !cfg.users.is_empty() && settings.security.password_file.as_os_str().is_empty() {
        log::warn!("[admin] users are set but [security] password_file is not: no user can log in");
    }
    let info = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "listeners": listeners
            .iter()
            .map(|(a, t)| serde_json::json!({ "address": a.to_string(), "transport": t }))
            .chain(http_addr.map(|a| serde_json::json!({ "address": a.to_string(), "transport": "http" })))
            .collect::<Vec<_>>(),
        "settings": serde_json::to_value(settings).unwrap_or_default(),
    });
    let (files, sec) = (security.clone(), settings.security.clone());
    let reload: ReloadHook = Arc::new(move || {
        files.reload(&sec)?;
        Ok(serde_json::json!({ "reloaded": ["security"] }))
    });
    Ok(Arc::new(Admin {
        access: Access::new(cfg.users.clone(), tokens, security.clone()),
        info,
        reload: Mutex::new(reload),
    }))
}
