//! `[[listeners]]` with `protocol = "websockets"`: MQTT over WebSocket on its own port, plain
//! or TLS (WSS), served by actix-web like `[http]` (plus /healthz and /readyz, no /metrics).

use super::ws::{self, CertName};
use super::HttpState;
use crate::listeners::WsListener;
use actix_web::dev::{Extensions, ServerHandle};
use actix_web::{web, App, HttpServer};
use std::any::Any;
use std::io;
use std::sync::Arc;
use std::time::Duration;

/// Serve `l` on the current actix System; TLS handshakes get `handshake` to finish.
pub fn serve_ws(
    l: WsListener,
    state: Arc<HttpState>,
    workers: usize,
    handshake: Duration,
) -> io::Result<ServerHandle> {
    let data = web::Data::from(state);
    let endpoint = web::Data::new(l.endpoint.clone());
    let cert_user = l.endpoint.cert_user;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(endpoint.clone())
            .route("/healthz", web::get().to(super::healthz))
            .route("/readyz", web::get().to(super::readyz))
            .route("/mqtt", web::get().to(ws::handler))
            .route("/", web::get().to(ws::handler))
    })
    .workers(workers.max(1))
    .disable_signals()
    .shutdown_timeout(1)
    // The client certificate's user name, read once per connection (see ws::handler).
    .on_connect(move |conn: &dyn Any, ext: &mut Extensions| {
        type Tls = actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>;
        if let Some(tls) = conn.downcast_ref::<Tls>() {
            ext.insert(CertName(
                cert_user.username(tls.get_ref().1.peer_certificates()),
            ));
        }
    });
    let server = match l.tls {
        Some(config) => server
            .tls_handshake_timeout(handshake)
            .listen_rustls_0_23(l.tcp, config)?,
        None => server.listen(l.tcp)?,
    }
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    log::info!(
        "listening for MQTT over WebSocket on {} ({}; /mqtt and /, /healthz, /readyz)",
        l.addr,
        l.endpoint.transport
    );
    Ok(handle)
}
