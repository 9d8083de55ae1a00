//! MQTT over WebSocket: the handshake, and a bridge that turns a WebSocket into a byte stream
//! for the broker's one Connection actor (same codec, sessions, limits, keep-alive, wills and
//! logging as TCP; there is no second MQTT implementation here).
//!
//! Bytes, not packets, cross the bridge: binary frame payloads are written to an in-memory pipe
//! the Connection reads, whatever the frame boundaries (a packet may span frames, a frame may
//! hold several packets: the codec streams), and what the Connection writes leaves as binary
//! frames. Each pipe is bounded, so a client that floods frames waits for the broker exactly as
//! a TCP client waits on its socket buffer.

use super::HttpState;
use crate::listeners::{ConnLimit, GaugeKind, Held, OpenGauge, Slot};
use crate::tls::CertUser;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Item, Message, MessageStream, Session};
use bytes::BytesMut;
use courtier_actors::broker::Admission;
use courtier_actors::Broker;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// The subprotocols of MQTT over WebSocket: "mqtt" (3.1.1, 5.0) and "mqttv3.1" (3.1).
pub const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// What a WebSocket listener adds to the handler: its transport name ("websocket", "wss"),
/// the user name its client certificates give, and its own connection limit. `[http]` has the
/// default: plain, no certificate, no limit of its own.
#[derive(Clone)]
pub struct Endpoint {
    pub transport: &'static str,
    pub cert_user: CertUser,
    pub limit: Option<Arc<ConnLimit>>,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint {
            transport: "websocket",
            cert_user: CertUser::None,
            limit: None,
        }
    }
}

/// The user name a WSS connection's client certificate gives, set when the connection opens.
pub struct CertName(pub Result<Option<String>, String>);

/// Bytes buffered in each direction of the bridge before the writer waits.
const PIPE_BYTES: usize = 64 * 1024;

/// Largest WebSocket frame accepted. A whole frame is buffered before it is handed over, so this
/// bounds memory per client; a frame may hold a whole MQTT packet, so it is at least
/// max_packet_size (capped: larger packets must then arrive in several frames, which the
/// protocol allows).
fn max_frame_bytes(max_packet_size: u32) -> usize {
    (max_packet_size as usize).clamp(PIPE_BYTES, 16 << 20)
}

fn refuse(status: actix_web::http::StatusCode, why: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(why + "\n")
}

/// `GET /mqtt` and `GET /`: upgrade to WebSocket and serve MQTT.
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<HttpState>,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let (Some(broker), true) = (state.broker(), state.is_ready()) else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the broker is not accepting connections (starting or stopping)".into(),
        );
    };
    // Over max_connections a few more are upgraded, so that their CONNECT is answered
    // "server busy" (5.0 0x89) as over TCP; far over, the upgrade itself is refused.
    let busy = match broker.admission() {
        Admission::Accept => false,
        Admission::Busy => true,
        Admission::Drop => {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "max_connections reached".into(),
            )
        }
    };
    let endpoint = req
        .app_data::<web::Data<Endpoint>>()
        .map(|e| e.get_ref().clone())
        .unwrap_or_default();
    let peer = req
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    let cert_username = match (endpoint.cert_user, req.conn_data::<CertName>()) {
        (CertUser::None, _) => None,
        (_, Some(CertName(Ok(name)))) => name.clone(),
        (_, found) => {
            let why = found.and_then(|c| c.0.clone().err());
            let why = why.unwrap_or_else(|| "no client certificate".into());
            log::warn!("websocket connection from {peer} refused: {why}");
            return refuse(StatusCode::FORBIDDEN, why);
        }
    };
    let slot = match endpoint.limit.as_ref().map(|l| l.acquire()) {
        Some(None) => {
            log::warn!(
                "websocket connection from {peer} refused: this listener's max_connections reached"
            );
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "max_connections of this listener reached".into(),
            );
        }
        Some(slot) => slot,
        None => None,
    };
    let offered: Vec<String> = req
        .headers()
        .get_all("sec-websocket-protocol")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_owned()))
        .filter(|p| !p.is_empty())
        .collect();
    // No header at all is accepted (some tools send none); a list without MQTT is not.
    if !offered.is_empty() && !offered.iter().any(|p| SUBPROTOCOLS.contains(&p.as_str())) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "unsupported WebSocket subprotocol {offered:?}: this endpoint speaks MQTT, offer \"mqtt\" or \"mqttv3.1\""
            ),
        );
    }
    match actix_ws::handle_with_protocols(&req, body, &SUBPROTOCOLS) {
        Ok((response, session, stream)) => {
            let conn = Accepted {
                peer,
                busy,
                transport: endpoint.transport,
                slot,
                cert_username,
            };
            serve(broker, session, stream, conn);
            response
        }
        Err(e) => {
            log::info!("websocket handshake from {peer} refused: {e}");
            refuse(
                StatusCode::BAD_REQUEST,
                format!("this endpoint speaks MQTT over WebSocket; handshake failed: {e}"),
            )
        }
    }
}

/// An upgraded connection, before its Connection actor starts.
struct Accepted {
    peer: String,
    busy: bool,
    transport: &'static str,
    slot: Option<Slot>,
    cert_username: Option<String>,
}

/// Start the Connection actor over the bridge, on the current (HTTP worker) arbiter.
fn serve(broker: &Broker, session: Session, stream: MessageStream, conn: Accepted) {
    let Accepted {
        peer,
        busy,
        transport,
        slot,
        cert_username,
    } = conn;
    let metrics = broker.metrics().clone();
    metrics.ws_connections_open.fetch_add(1, Relaxed);
    metrics.ws_connections_total.fetch_add(1, Relaxed);
    let gauge = (transport == "wss").then(|| {
        metrics.wss_connections_open.fetch_add(1, Relaxed);
        metrics.wss_connections_total.fetch_add(1, Relaxed);
        OpenGauge(metrics.clone(), GaugeKind::Wss)
    });
    let stream = stream.max_frame_size(max_frame_bytes(broker.config().max_packet_size));
    // conn_in: the Connection reads what `feed` writes; conn_out: `drain` reads what it writes.
    let (conn_in, feed) = tokio::io::duplex(PIPE_BYTES);
    let (conn_out, drain) = tokio::io::duplex(PIPE_BYTES);
    let conn_in = Held::new(conn_in, slot, gauge);
    let user = cert_username.map(Into::into);
    broker.accept_stream_as(conn_in, conn_out, peer.clone(), transport, busy, user);
    let inbound = frames_to_bytes(stream, session.clone(), feed, peer);
    let outbound = bytes_to_frames(drain, session);
    actix_rt::spawn(async move {
        futures_util::future::join(inbound, outbound).await;
        metrics.ws_connections_open.fetch_sub(1, Relaxed);
    });
}

/// Client -> broker. Ends on close, error or a text frame; then the Connection reads EOF and
/// closes as for a TCP client that went away (Will included).
async fn frames_to_bytes(
    mut stream: MessageStream,
    mut session: Session,
    mut feed: DuplexStream,
    peer: String,
) {
    let reject = |why: &str| {
        log::info!("websocket {peer}: {why}; closing");
        Some(CloseReason {
            code: CloseCode::Unsupported,
            description: Some(format!(
                "{why}: MQTT over WebSocket uses binary frames only"
            )),
        })
    };
    let mut close = None;
    while let Some(item) = stream.recv().await {
        let data = match item {
            Ok(Message::Binary(b)) => b,
            Ok(Message::Continuation(Item::FirstBinary(b) | Item::Continue(b) | Item::Last(b))) => {
                b
            }
            Ok(Message::Text(_)) | Ok(Message::Continuation(Item::FirstText(_))) => {
                close = reject("text frame received");
                break;
            }
            Ok(Message::Ping(p)) => {
                if session.pong(&p).await.is_err() {
                    break;
                }
                continue;
            }
            Ok(Message::Pong(_)) | Ok(Message::Nop) => continue,
            Ok(Message::Close(_)) => break,
            Err(e) => {
                log::info!("websocket {peer}: protocol error: {e}; closing");
                close = Some(CloseReason {
                    code: CloseCode::Protocol,
                    description: Some(e.to_string()),
                });
                break;
            }
        };
        // Waits while the Connection is behind (back-pressure); fails once it has closed.
        if feed.write_all(&data).await.is_err() {
            break;
        }
    }
    if close.is_some() {
        let _ = session.close(close).await;
    }
    let _ = feed.shutdown().await;
}

/// Broker -> client: whatever the Connection's writer wrote, as binary frames. Ends when the
/// Connection shuts its writer down (it closed), then closes the WebSocket normally.
async fn bytes_to_frames(mut drain: DuplexStream, mut session: Session) {
    let mut buf = BytesMut::with_capacity(PIPE_BYTES);
    loop {
        buf.reserve(PIPE_BYTES);
        match drain.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if session.binary(buf.split().freeze()).await.is_err() {
                    return; // The client is gone; dropping `drain` fails the writer.
                }
            }
        }
    }
    let _ = session.close(Some(CloseCode::Normal.into())).await;
}
