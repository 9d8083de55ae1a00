//! /api/v1/retained and /api/v1/topics.

use super::topics::{self, Bounds};
use super::{broker, ApiError};
use crate::http::HttpState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

const MAX_LIMIT: usize = super::clients::MAX_LIMIT;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/retained", web::get().to(list))
        .route("/retained/{topic:.*}", web::get().to(one))
        .route("/retained/{topic:.*}", web::delete().to(delete))
        .route("/topics", web::get().to(tree));
}

#[derive(Deserialize)]
struct ListParams {
    /// A topic filter; default "#" (which, as in a SUBSCRIBE, leaves out $SYS).
    filter: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn list(
    state: web::Data<HttpState>,
    q: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let filter = q.filter.as_deref().unwrap_or("#");
    if let Err(e) = courtier_actors::topic::validate_topic_filter(filter) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("filter {filter:?}: {e}"),
        ));
    }
    let all = b.retained(filter).await;
    let total = all.len();
    let limit = q.limit.unwrap_or(100).min(MAX_LIMIT);
    let items: Vec<_> = all.into_iter().skip(q.offset).take(limit).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "total": total, "items": items })))
}

/// A topic name, as the path gives it: wildcards are refused (they would match many).
fn topic_name(topic: &str) -> Result<&str, ApiError> {
    courtier_actors::topic::validate_topic_name(topic)
        .map(|_| topic)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("topic {topic:?}: {e}")))
}

fn none_retained() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no retained message on this topic")
}

async fn one(
    state: web::Data<HttpState>,
    topic: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let topic = topic_name(&topic)?;
    let m = b.retained(topic).await.pop().ok_or_else(none_retained)?;
    Ok(HttpResponse::Ok().json(m))
}

async fn delete(
    state: web::Data<HttpState>,
    topic: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let topic = topic_name(&topic)?;
    match b.delete_retained(topic).await {
        true => Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": topic }))),
        false => Err(none_retained()),
    }
}

#[derive(Deserialize)]
struct TreeParams {
    /// Only the tree under this topic.
    #[serde(default)]
    root: String,
    depth: Option<usize>,
    max_nodes: Option<usize>,
    /// Include $SYS.
    #[serde(default)]
    sys: bool,
}

async fn tree(
    state: web::Data<HttpState>,
    q: web::Query<TreeParams>,
) -> Result<HttpResponse, ApiError> {
    let b = broker(&state)?;
    let mut retained: Vec<String> = b.retained("#").await.into_iter().map(|m| m.topic).collect();
    if q.sys || q.root.starts_with('$') {
        retained.extend(b.retained("$SYS/#").await.into_iter().map(|m| m.topic));
    }
    let filters: Vec<String> = b
        .subscriptions(None)
        .await
        .into_iter()
        .map(|s| s.filter)
        .collect();
    let bounds = Bounds {
        depth: q.depth.unwrap_or(8).clamp(1, 64),
        max_nodes: q.max_nodes.unwrap_or(1000).clamp(1, 100_000),
    };
    let nodes = topics::build(&retained, &filters, q.root.trim_end_matches('/'), bounds);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "root": q.root, "children": nodes })))
}
