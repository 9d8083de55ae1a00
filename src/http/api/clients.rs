//! /api/v1/clients and /api/v1/subscriptions.

use super::{broker, ApiError};
use crate::http::HttpState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use courtier_actors::admin::ClientQuery;
use serde::Deserialize;

/// Largest page; `limit` above it is cut to it.
pub const MAX_LIMIT: usize = 10_000;
const DEFAULT_LIMIT: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/clients", web::get().to(list))
        .route("/clients/{id}", web::get().to(detail))
        .route("/clients/{id}", web::delete().to(kick))
        .route("/subscriptions", web::get().to(subscriptions));
}

fn no_client() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such client")
}

#[derive(Deserialize)]
struct ListParams {
    /// Client id prefix.
    prefix: Option<String>,
    username: Option<String>,
    connected: Option<bool>,
    /// Cursor: the `next` of the previous page.
    after: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn list(
    state: web::Data<HttpState>,
    q: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let q = q.into_inner();
    let query = ClientQuery {
        prefix: q.prefix,
        username: q.username,
        connected: q.connected,
        after: q.after,
        offset: q.offset,
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
    };
    Ok(HttpResponse::Ok().json(b.clients(&query).await))
}

async fn detail(
    state: web::Data<HttpState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let c = b.client(&id).await.ok_or_else(no_client)?;
    Ok(HttpResponse::Ok().json(c))
}

#[derive(Deserialize)]
struct KickParams {
    #[serde(default)]
    session: bool,
}

/// Disconnect (5.0: DISCONNECT 0x98); `?session=true` deletes the session too.
async fn kick(
    state: web::Data<HttpState>,
    id: web::Path<String>,
    q: web::Query<KickParams>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let k = b.kick(&id, q.session).await.ok_or_else(no_client)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": id.as_str(),
        "was_connected": k.was_connected,
        "session_deleted": k.session_deleted,
    })))
}

#[derive(Deserialize)]
struct SubParams {
    /// Client id prefix.
    client: Option<String>,
    /// Only filters that contain this text (finds a mistyped subscription).
    filter: Option<String>,
    qos: Option<u8>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn subscriptions(
    state: web::Data<HttpState>,
    q: web::Query<SubParams>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let q = q.into_inner();
    let mut all = b.subscriptions(q.client).await;
    all.retain(|s| {
        q.filter.as_deref().is_none_or(|f| s.filter.contains(f)) && q.qos.is_none_or(|n| s.qos == n)
    });
    all.sort_by(|a, b| (&a.client_id, &a.filter).cmp(&(&b.client_id, &b.filter)));
    let total = all.len();
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let items: Vec<_> = all.into_iter().skip(q.offset).take(limit).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "total": total, "items": items })))
}
