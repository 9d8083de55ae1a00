//! `[[listeners]]` with `protocol = "websockets"`: MQTT over WebSocket on its own port, plain
//! or TLS (WSS), served by actix-web like `[http]` (plus /healthz and /readyz, no /metrics).
//!
//! WSS handshakes are run here with tokio-rustls rather than by actix-web's own TLS acceptor,
//! which drops a failed handshake without a word: like the MQTT TLS listener's, a failed one is
//! logged with the peer's address and the reason and counted
//! (`courtier_tls_handshake_failures_total`), and has `connect_timeout` to finish.

use super::ws::{self, CertName};
use super::HttpState;
use crate::listeners::WsListener;
use crate::tls::CertUser;
use actix_http::{HttpService, Protocol};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Extensions, ServerHandle};
use actix_web::{web, App, HttpServer};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

type Tcp = actix_rt::net::TcpStream;

/// The routes of a WebSocket listener.
fn app(
    data: web::Data<HttpState>,
    endpoint: web::Data<ws::Endpoint>,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(data)
        .app_data(endpoint)
        .route("/healthz", web::get().to(super::healthz))
        .route("/readyz", web::get().to(super::readyz))
        .route("/mqtt", web::get().to(ws::handler))
        .route("/", web::get().to(ws::handler))
}

/// Serve `l` on the current actix System; TLS handshakes get `handshake` to finish.
pub fn serve_ws(
    l: WsListener,
    state: Arc<HttpState>,
    workers: usize,
    handshake: Duration,
) -> io::Result<ServerHandle> {
    let (addr, transport) = (l.addr, l.endpoint.transport);
    let data = web::Data::from(state.clone());
    let endpoint = web::Data::new(l.endpoint.clone());
    let server = match l.tls {
        None => HttpServer::new(move || app(data.clone(), endpoint.clone()))
            .workers(workers.max(1))
            .disable_signals()
            .shutdown_timeout(1)
            .listen(l.tcp)?
            .run(),
        Some(mut config) => {
            // As actix-web's own acceptor: WebSocket is HTTP/1.1.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            let tls = Handshake {
                acceptor: TlsAcceptor::from(Arc::new(config)),
                deadline: handshake,
                state,
            };
            let cert_user = l.endpoint.cert_user;
            actix_server::Server::build()
                .workers(workers.max(1))
                .disable_signals()
                .shutdown_timeout(1)
                .listen(format!("wss-{addr}"), l.tcp, move || {
                    let tls = tls.clone();
                    let app = app(data.clone(), endpoint.clone())
                        .into_factory()
                        .map_err(|e: actix_web::Error| e.error_response());
                    fn_service(move |io: Tcp| tls.clone().accept(io)).and_then(
                        HttpService::build()
                            .on_connect_ext(move |io: &TlsStream<Tcp>, ext: &mut Extensions| {
                                cert_name(cert_user, io, ext)
                            })
                            .finish(map_config(app, |_| AppConfig::default()))
                            .map_err(|_| ()),
                    )
                })?
                .run()
        }
    };
    let handle = server.handle();
    actix_rt::spawn(server);
    log::info!(
        "listening for MQTT over WebSocket on {addr} ({transport}; /mqtt and /, /healthz, /readyz)"
    );
    Ok(handle)
}

/// The client certificate's user name, read once per connection (see ws::handler).
fn cert_name(cert_user: CertUser, io: &TlsStream<Tcp>, ext: &mut Extensions) {
    ext.insert(CertName(
        cert_user.username(io.get_ref().1.peer_certificates()),
    ));
}

/// The TLS handshake of a WSS connection, with its deadline, logging and counting.
#[derive(Clone)]
struct Handshake {
    acceptor: TlsAcceptor,
    deadline: Duration,
    state: Arc<HttpState>,
}

impl Handshake {
    async fn accept(
        self,
        io: Tcp,
    ) -> Result<(TlsStream<Tcp>, Protocol, Option<std::net::SocketAddr>), ()> {
        let peer = io.peer_addr().ok();
        let _ = io.set_nodelay(true);
        let why = match actix_rt::time::timeout(self.deadline, self.acceptor.accept(io)).await {
            Ok(Ok(tls)) => return Ok((tls, Protocol::Http1, peer)),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("not finished within {:?} (connect_timeout)", self.deadline),
        };
        let peer = peer.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
        log::warn!("TLS handshake from {peer} failed (wss): {why}");
        self.state.count_tls_handshake_failure();
        Err(())
    }
}
