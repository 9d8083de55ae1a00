//! /api/v1/broker and /api/v1/reload.

use super::{broker, Admin, ApiError};
use crate::http::HttpState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use std::sync::atomic::Ordering::Relaxed;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/broker", web::get().to(info))
        .route("/reload", web::post().to(reload));
}

/// The broker's version, uptime, listeners and effective settings, and a few live counts.
/// The settings hold file paths but never their contents: no password, token or key.
async fn info(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let admin = admin(&state)?;
    let m = b.metrics();
    let mut out = admin.info.clone();
    out["uptime_seconds"] = m.uptime_secs().into();
    out["clients_connected"] = m.clients_connected.load(Relaxed).into();
    out["sessions"] = m.sessions.load(Relaxed).into();
    out["subscriptions"] = m.subscriptions.load(Relaxed).into();
    out["retained_messages"] = m.retained_messages.load(Relaxed).into();
    Ok(HttpResponse::Ok().json(out))
}

fn admin(state: &HttpState) -> Result<&Admin, ApiError> {
    state
        .admin()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the broker is starting"))
}

/// What SIGHUP does, on the blocking pool (it reads files).
async fn reload(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let hook = admin(&state)?.reload.lock().expect("not poisoned").clone();
    match web::block(move || hook()).await {
        Ok(Ok(done)) => Ok(HttpResponse::Ok().json(done)),
        Ok(Err(e)) => Ok(HttpResponse::UnprocessableEntity().json(e)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string(),
        )),
    }
}
