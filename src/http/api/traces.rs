//! Runtime traces over HTTP (`courtier_actors::trace_live`): start one by client id, topic
//! filter, username or peer address, list them, read one live as Server-Sent Events, download
//! its kept records as JSON Lines, stop it.
//!
//! ```text
//! POST   /api/v1/traces                 {"client": "hall-switch", "duration_secs": 300} → 201
//!                                       (optional "log_lines_per_sec": 0 logs every record)
//! GET    /api/v1/traces                 the traces, with time left and counts
//! GET    /api/v1/traces/{id}            one of them
//! GET    /api/v1/traces/{id}/stream     text/event-stream, one JSON record per event
//! GET    /api/v1/traces/{id}/records    the kept records, JSON Lines (?format=json: an array)
//! DELETE /api/v1/traces/{id}            stop it and forget its records → 204
//! ```
//!
//! The handlers read the trace registry's snapshot or its per-trace locks, never an actor's
//! mailbox: the API cannot stall message flow, and a slow reader only loses records.

use crate::http::HttpState;
use actix_web::{http::StatusCode, web, HttpResponse};
use bytes::Bytes;
use courtier_actors::trace_live::{LiveTrace, LiveTraces, Reader, Selector, StartError};
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// An SSE comment this often while nothing happens: proxies keep the stream open, and a reader
/// that went away is noticed (the write fails) and its channel freed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/traces", web::post().to(start))
        .route("/traces", web::get().to(list))
        .route("/traces/{id}", web::get().to(show))
        .route("/traces/{id}", web::delete().to(delete))
        .route("/traces/{id}/stream", web::get().to(stream))
        .route("/traces/{id}/records", web::get().to(records));
}

/// A refused request: its status and `{"error": "..."}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.0).json(json!({ "error": self.1 }))
    }
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> ApiError {
    ApiError(status, message.to_string())
}

type Answer = Result<HttpResponse, ApiError>;

/// The broker's trace registry; `Err` (503) until the broker is ready.
fn registry(state: &HttpState) -> Result<Arc<LiveTraces>, ApiError> {
    state
        .broker()
        .map(|b| b.config().live.clone())
        .ok_or_else(|| error(StatusCode::SERVICE_UNAVAILABLE, "the broker is starting"))
}

/// What `GET /api/v1/traces` says of one trace.
fn describe(t: &LiveTrace) -> serde_json::Value {
    let (kind, value) = t.selector.parts();
    json!({
        "id": t.id,
        kind: value,
        "state": t.ended().unwrap_or("active"),
        "started_us": t.started_us,
        "remaining_secs": t.remaining().as_secs_f64().ceil() as u64,
        "records": t.records(),
        "kept": t.records() - t.overwritten(),
        "lost": t.lost(),
        "readers": t.readers(),
        "log_lines_per_sec": t.log_limit,
        "unlogged": t.unlogged(),
    })
}

/// What `POST /api/v1/traces` asks for: exactly one selector, and optionally a duration and a
/// log limit.
struct Request {
    selector: Selector,
    duration: Option<Duration>,
    log_limit: Option<u32>,
}

fn request(body: &serde_json::Value) -> Result<Request, String> {
    let obj = body.as_object().ok_or("expected a JSON object")?;
    let mut found = Vec::new();
    for (key, value) in obj {
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or(format!("{key:?} must be a string"))
        };
        match key.as_str() {
            "client" => found.push(Selector::Client(text()?)),
            "topic" => found.push(Selector::Topic(text()?)),
            "username" => found.push(Selector::Username(text()?)),
            "address" => found.push(Selector::Address(text()?)),
            "duration_secs" | "log_lines_per_sec" => {}
            other => return Err(format!("unknown field {other:?}")),
        }
    }
    let duration = match obj.get("duration_secs") {
        None => None,
        Some(d) => match d.as_u64() {
            Some(secs) if secs > 0 => Some(Duration::from_secs(secs)),
            _ => return Err("\"duration_secs\" must be a positive integer".into()),
        },
    };
    let log_limit =
        match obj.get("log_lines_per_sec") {
            None => None,
            Some(n) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => return Err(
                    "\"log_lines_per_sec\" must be an integer from 0 (every record) to 4294967295"
                        .into(),
                ),
            },
        };
    match (found.pop(), found.is_empty()) {
        (Some(selector), true) => Ok(Request {
            selector,
            duration,
            log_limit,
        }),
        _ => Err("give exactly one of \"client\", \"topic\", \"username\", \"address\"".into()),
    }
}

async fn start(state: web::Data<HttpState>, body: web::Bytes) -> Answer {
    let live = registry(&state)?;
    let req = serde_json::from_slice(&body)
        .map_err(|e| format!("invalid JSON: {e}"))
        .and_then(|v| request(&v))
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let trace = live
        .start_with(req.selector, req.duration, req.log_limit)
        .map_err(|e| match e {
            StartError::Full => error(StatusCode::CONFLICT, e),
            _ => error(StatusCode::BAD_REQUEST, e),
        })?;
    // A username or address trace also selects the clients connected already; they are
    // selected before the answer, so a client's next packet after it is traced.
    let already = match state.broker() {
        Some(b) => b.connected_selected_by(&trace.selector).await,
        None => Vec::new(),
    };
    live.select(&trace, &already);
    let (kind, value) = trace.selector.parts();
    let connected = match already.len() {
        0 => String::new(),
        n => format!(", selecting {n} clients connected already"),
    };
    log::info!(
        "trace {} started: {kind} {value:?} for {}s{connected}",
        trace.id,
        trace.remaining().as_secs_f64().round()
    );
    let (id, left) = (trace.id, trace.remaining());
    let ends = live.clone();
    actix_rt::spawn(async move {
        actix_rt::time::sleep(left).await;
        ends.expire(id);
    });
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/traces/{id}")))
        .json(describe(&trace)))
}

async fn list(state: web::Data<HttpState>) -> Answer {
    let live = registry(&state)?;
    live.sweep();
    let traces: Vec<_> = live.list().iter().map(|t| describe(t)).collect();
    Ok(HttpResponse::Ok().json(json!({ "traces": traces })))
}

/// The trace named by the path, or the response saying why not.
fn find(state: &HttpState, id: &str) -> Result<(Arc<LiveTraces>, Arc<LiveTrace>), ApiError> {
    let live = registry(state)?;
    id.parse()
        .ok()
        .and_then(|id| live.get(id))
        .map(|t| (live, t))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, format!("no trace {id:?}")))
}

async fn show(state: web::Data<HttpState>, id: web::Path<String>) -> Answer {
    let (_, t) = find(&state, &id)?;
    Ok(HttpResponse::Ok().json(describe(&t)))
}

async fn delete(state: web::Data<HttpState>, id: web::Path<String>) -> Answer {
    let (live, t) = find(&state, &id)?;
    live.delete(t.id);
    log::info!("trace {} deleted", t.id);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Deserialize)]
struct Format {
    format: Option<String>,
}

async fn records(
    state: web::Data<HttpState>,
    id: web::Path<String>,
    q: web::Query<Format>,
) -> Answer {
    let (_, t) = find(&state, &id)?;
    let kept = t.kept();
    Ok(match q.format.as_deref() {
        None | Some("jsonl") => {
            let mut body = String::new();
            for r in &kept {
                body.push_str(&serde_json::to_string(&**r).unwrap_or_default());
                body.push('\n');
            }
            HttpResponse::Ok()
                .content_type("application/jsonl")
                .insert_header((
                    "Content-Disposition",
                    format!("attachment; filename=\"trace-{}.jsonl\"", t.id),
                ))
                .body(body)
        }
        Some("json") => HttpResponse::Ok().json(kept.iter().map(|r| &**r).collect::<Vec<_>>()),
        Some(other) => {
            let why = format!("unknown format {other:?}: jsonl or json");
            return Err(error(StatusCode::BAD_REQUEST, why));
        }
    })
}

/// One Server-Sent Event.
fn event(name: Option<&str>, data: &str) -> Bytes {
    match name {
        Some(n) => Bytes::from(format!("event: {n}\ndata: {data}\n\n")),
        None => Bytes::from(format!("data: {data}\n\n")),
    }
}

/// Where a live stream is: the opening `trace` event, records, then the closing `end` event.
enum Phase {
    Open,
    Reading,
    Done,
}

async fn stream(state: web::Data<HttpState>, id: web::Path<String>) -> Answer {
    let (_, t) = find(&state, &id)?;
    let Some(reader) = t.read() else {
        return Err(error(
            StatusCode::GONE,
            format!(
                "trace {} has ended ({}); its records: /api/v1/traces/{}/records",
                t.id,
                t.ended().unwrap_or("ended"),
                t.id
            ),
        ));
    };
    let body = futures_util::stream::unfold(
        (reader, t, Phase::Open),
        |(mut reader, t, phase)| async move {
            let next = match phase {
                Phase::Open => event(Some("trace"), &describe(&t).to_string()),
                Phase::Reading => next_event(&mut reader, &t).await,
                Phase::Done => return None,
            };
            let phase = match phase {
                Phase::Open => Phase::Reading,
                _ if next.starts_with(b"event: end") => Phase::Done,
                _ => Phase::Reading,
            };
            Some((Ok::<_, std::convert::Infallible>(next), (reader, t, phase)))
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// The next event of a live stream: `lost` if records were lost since the last one, else the
/// next record, a keep-alive comment, or `end` once the trace ended.
async fn next_event(reader: &mut Reader, t: &LiveTrace) -> Bytes {
    let lost = reader.lost.swap(0, Relaxed);
    if lost > 0 {
        return event(Some("lost"), &json!({ "lost": lost }).to_string());
    }
    match actix_rt::time::timeout(KEEP_ALIVE, reader.rx.recv()).await {
        Ok(Some(record)) => event(None, &serde_json::to_string(&*record).unwrap_or_default()),
        Ok(None) => event(
            Some("end"),
            &json!({ "id": t.id, "reason": t.ended().unwrap_or("ended") }).to_string(),
        ),
        Err(_) => Bytes::from_static(b": keep-alive\n\n"),
    }
}
