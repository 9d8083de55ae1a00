//! The MQTT-over-TCP listener: accepts on the broker's first worker thread and hands each
//! socket to a worker, round robin. (On the main thread, every socket crossed threads and paid
//! two `epoll_ctl` calls; now, with one worker, none does. One accept loop per worker on a
//! shared socket was tried: whichever worker was awake took every connection.)

use crate::listeners::{serve_stream, MqttOptions};
use courtier_actors::broker::Admission;
use courtier_actors::Broker;
use socket2::{SockRef, TcpKeepalive};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// TCP keepalive detects dead peers even for clients with keep-alive 0 (ARCHITECTURE.md §8).
const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(120);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Connections the kernel completes and queues before the broker accepts them (capped by
/// net.core.somaxconn). The default of `TcpListener::bind` is 128 here: 200 clients connecting
/// at once overflowed it, and every dropped SYN costs that client a 1 s retransmission
/// (`courtier-bench conns`: 71 overflows, 10,000 connects in 1.05 s instead of ~0.4 s). A hub
/// restarting in front of hundreds of devices that reconnect together needs the room.
const BACKLOG: i32 = 4096;

pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let fail = |e: io::Error| {
        let hint = crate::hints::listen(&e, addr);
        io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}: {hint}"))
    };
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address");
    for a in tokio::net::lookup_host(addr).await.map_err(fail)? {
        match listen_on(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = e,
        }
    }
    Err(fail(last))
}

fn listen_on(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // As std and tokio do on Unix: a restarted broker can bind while old sockets linger.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// Stops the accept loops when dropped or stopped.
pub struct Accepting(tokio::sync::watch::Sender<bool>);

impl Accepting {
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Drop for Accepting {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Accept on the broker's first worker until [`Accepting::stop`]; `options` for TLS or a
/// listener's own connection limit.
pub fn serve(
    listener: TcpListener,
    broker: &Broker,
    options: Option<Arc<MqttOptions>>,
) -> io::Result<Accepting> {
    // Registered again with the worker's reactor.
    let listener = listener.into_std()?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let b = broker.clone();
    broker.spawn_on_first_worker(move || async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => return log::error!("cannot accept MQTT connections: {e}"),
        };
        tokio::select! {
            _ = stopped.wait_for(|stop| *stop) => {}
            _ = accept_loop(listener, b, options) => {}
        }
    });
    Ok(Accepting(stop))
}

/// Accept until the future is dropped.
async fn accept_loop(listener: TcpListener, broker: Broker, options: Option<Arc<MqttOptions>>) {
    let mut failing = AcceptFailures::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning; the connection waits in
                // the kernel's backlog meanwhile.
                failing.failed(&e);
                actix_rt::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        failing.recovered();
        let busy = match broker.admission() {
            Admission::Accept => false,
            Admission::Busy => {
                log::warn!("connection from {peer} refused: max_connections reached (server busy)");
                true
            }
            Admission::Drop => {
                log::warn!("connection from {peer} dropped: max_connections reached");
                drop(stream);
                continue;
            }
        };
        if let Err(e) = tune(&stream) {
            log::debug!("socket options for {peer}: {e}");
        }
        let Some(options) = &options else {
            broker.accept_tcp(stream, peer, busy);
            continue;
        };
        let slot = match options.limit.as_ref().map(|l| l.acquire()) {
            Some(None) => {
                log::warn!(
                    "connection from {peer} dropped: this listener's max_connections reached"
                );
                continue;
            }
            Some(slot) => slot,
            None => None,
        };
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                log::warn!("socket from {peer}: {e}");
                continue;
            }
        };
        let (b, options) = (broker.clone(), options.clone());
        broker.spawn_on_next_worker(move || async move {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(s) => serve_stream(s, peer, busy, slot, options, b).await,
                Err(e) => log::warn!("socket from {peer}: {e}"),
            }
        });
    }
}

fn tune(stream: &tokio::net::TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_IDLE)
        .with_interval(TCP_KEEPALIVE_INTERVAL);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

/// Logs accept errors without flooding the log: at the open-files limit accept fails every
/// 100 ms for as long as the limit is reached.
#[derive(Default)]
struct AcceptFailures {
    /// Failures since the last message, and when that was.
    since_log: u64,
    logged: Option<std::time::Instant>,
}

impl AcceptFailures {
    fn failed(&mut self, e: &io::Error) {
        self.since_log += 1;
        if self
            .logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            // EMFILE / ENFILE on Linux.
            let hint = match e.raw_os_error() {
                Some(23 | 24) => " (open-files limit reached: raise `ulimit -n` or LimitNOFILE)",
                _ => "",
            };
            log::warn!("accept failed {} time(s): {e}{hint}", self.since_log);
            self.since_log = 0;
            self.logged = Some(std::time::Instant::now());
        }
    }

    fn recovered(&mut self) {
        if self.logged.take().is_some() {
            log::warn!("accepting again ({} more failure(s))", self.since_log);
        }
        self.since_log = 0;
    }
}
