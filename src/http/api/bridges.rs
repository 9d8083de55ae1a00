//! `GET /api/v1/bridges`: each bridge's state and counters (what /metrics has, as JSON).

use super::{broker, ApiError};
use crate::http::HttpState;
use actix_web::{web, HttpResponse};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/bridges", web::get().to(list));
}

async fn list(state: web::Data<HttpState>) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": b.bridges() })))
}
