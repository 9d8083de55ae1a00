//! The listeners the settings ask for: `[[listeners]]` tables (MQTT or WebSocket, plain or
//! TLS, each with its own `max_connections`), or `[listener]` alone when there are none.
//! Ports are bound and certificates read before the broker loads its state, so a port in use
//! or a bad key file stops start-up at once.
//!
//! A TLS handshake runs on the worker that will serve the connection, never on the accept
//! loop, and has `connect_timeout` to finish: a slow or silent peer costs one task, not the
//! other clients' accepts.

use crate::config::{Protocol, Settings};
use crate::tls::{self, CertUser};
use courtier_actors::Broker;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

/// How one MQTT listener's connections are served beyond plain TCP.
pub struct MqttOptions {
    pub transport: &'static str,
    pub tls: Option<TlsAcceptor>,
    pub cert_user: CertUser,
    pub limit: Option<Arc<ConnLimit>>,
}

pub struct MqttListener {
    pub tcp: tokio::net::TcpListener,
    pub addr: SocketAddr,
    /// `None`: plain TCP without a limit of its own, served by the fast path.
    pub options: Option<Arc<MqttOptions>>,
}

/// A WebSocket listener for actix-web.
pub struct WsListener {
    pub tcp: std::net::TcpListener,
    pub addr: SocketAddr,
    pub tls: Option<rustls::ServerConfig>,
    pub endpoint: crate::http::ws::Endpoint,
}

#[derive(Default)]
pub struct Bound {
    pub mqtt: Vec<MqttListener>,
    pub ws: Vec<WsListener>,
    /// The certificates, keys and clients' CAs of the TLS listeners, which SIGHUP reloads.
    pub certs: Vec<tls::TlsFiles>,
}

/// Bind every listener and read every certificate and key.
pub async fn bind(settings: &Settings) -> io::Result<Bound> {
    let mut bound = Bound::default();
    if settings.listeners.is_empty() {
        let tcp = crate::listener::bind(&settings.listener.listen_addr()).await?;
        let addr = tcp.local_addr()?;
        bound.mqtt.push(MqttListener {
            tcp,
            addr,
            options: None,
        });
        return Ok(bound);
    }
    for (i, spec) in settings.listeners.iter().enumerate() {
        let tls = match spec.is_tls() {
            true => {
                let (config, certs) = tls::server_config(i, spec)?;
                bound.certs.push(certs);
                Some(config)
            }
            false => None,
        };
        let limit = spec.limit().map(ConnLimit::new);
        let cert_user = CertUser::of(spec);
        let transport = spec.transport();
        match spec.protocol {
            Protocol::Mqtt => {
                let tcp = crate::listener::bind(&spec.listen_addr()).await?;
                let addr = tcp.local_addr()?;
                let options = (tls.is_some() || limit.is_some()).then(|| {
                    Arc::new(MqttOptions {
                        transport,
                        tls: tls.map(TlsAcceptor::from),
                        cert_user,
                        limit,
                    })
                });
                bound.mqtt.push(MqttListener { tcp, addr, options });
            }
            Protocol::Websockets => {
                let tcp = crate::http::bind(&spec.listen_addr(), "MQTT over WebSocket")?;
                let addr = tcp.local_addr()?;
                bound.ws.push(WsListener {
                    tcp,
                    addr,
                    tls: tls.map(|c| (*c).clone()),
                    endpoint: crate::http::ws::Endpoint {
                        transport,
                        cert_user,
                        limit,
                    },
                });
            }
        }
    }
    Ok(bound)
}

/// Serve one connection accepted by a listener with [`MqttOptions`], on the current worker:
/// the TLS handshake if any, then the Connection actor.
pub async fn serve_stream(
    stream: TcpStream,
    peer: SocketAddr,
    busy: bool,
    slot: Option<Slot>,
    options: Arc<MqttOptions>,
    broker: Broker,
) {
    let Some(acceptor) = &options.tls else {
        let (r, w) = stream.into_split();
        let reader = Held::new(r, slot, None);
        return broker.accept_stream_as(reader, w, peer.to_string(), "tcp", busy, None);
    };
    let metrics = broker.metrics().clone();
    let deadline = broker.config().connect_timeout;
    let failed = |why: String| {
        metrics.tls_handshake_failures.fetch_add(1, Relaxed);
        log::warn!("TLS handshake from {peer} failed: {why}");
    };
    let tls = match actix_rt::time::timeout(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return failed(e.to_string()),
        Err(_) => {
            return failed(format!(
                "not finished within {deadline:?} (connect_timeout)"
            ))
        }
    };
    let username = match options
        .cert_user
        .username(tls.get_ref().1.peer_certificates())
    {
        Ok(name) => name,
        Err(why) => {
            log::warn!("connection from {peer} refused: {why}");
            return;
        }
    };
    metrics.tls_connections_total.fetch_add(1, Relaxed);
    metrics.tls_connections_open.fetch_add(1, Relaxed);
    let gauge = OpenGauge(metrics.clone(), GaugeKind::Tls);
    let (r, w) = tokio::io::split(tls);
    let reader = Held::new(r, slot, Some(gauge));
    let transport = options.transport;
    broker.accept_stream_as(
        reader,
        w,
        peer.to_string(),
        transport,
        busy,
        username.map(Into::into),
    );
}

/// A listener's own `max_connections`.
pub struct ConnLimit {
    max: usize,
    open: AtomicUsize,
}

impl ConnLimit {
    pub fn new(max: usize) -> Arc<ConnLimit> {
        Arc::new(ConnLimit {
            max,
            open: AtomicUsize::new(0),
        })
    }

    /// A place for one more connection, held until the connection ends; `None` when full.
    pub fn acquire(self: &Arc<Self>) -> Option<Slot> {
        self.open
            .fetch_update(Relaxed, Relaxed, |n| (n < self.max).then_some(n + 1))
            .ok()
            .map(|_| Slot(self.clone()))
    }
}

pub struct Slot(Arc<ConnLimit>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Relaxed);
    }
}

/// Which open-connections gauge a connection holds.
pub enum GaugeKind {
    Tls,
    Wss,
}

/// Decrements its gauge when the connection ends.
pub struct OpenGauge(pub Arc<courtier_actors::metrics::Metrics>, pub GaugeKind);

impl OpenGauge {
    fn gauge(&self) -> &AtomicI64 {
        match self.1 {
            GaugeKind::Tls => &self.0.tls_connections_open,
            GaugeKind::Wss => &self.0.wss_connections_open,
        }
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        self.gauge().fetch_sub(1, Relaxed);
    }
}

/// A connection's reader carrying what must be released when the connection ends (the
/// Connection actor drops its reader when it stops).
pub struct Held<R> {
    inner: R,
    _slot: Option<Slot>,
    _gauge: Option<OpenGauge>,
}

impl<R> Held<R> {
    pub fn new(inner: R, slot: Option<Slot>, gauge: Option<OpenGauge>) -> Held<R> {
        Held {
            inner,
            _slot: slot,
            _gauge: gauge,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Held<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}
