//! The MQTT-over-TCP listener: accepts sockets and hands them to the broker.

use courtier_actors::Broker;
use socket2::{SockRef, TcpKeepalive};
use std::io;
use std::time::Duration;
use tokio::net::TcpListener;

/// TCP keepalive detects dead peers even for clients with keep-alive 0 (ARCHITECTURE.md §8).
const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(120);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}

/// Accept until the task is dropped.
pub async fn accept_loop(listener: TcpListener, broker: Broker) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                log::warn!("accept failed: {e}");
                actix_rt::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !broker.has_room() {
            log::warn!("connection from {peer} refused: max_connections reached");
            drop(stream);
            continue;
        }
        if let Err(e) = tune(&stream) {
            log::debug!("socket options for {peer}: {e}");
        }
        match stream.into_std() {
            Ok(std) => broker.accept_tcp(std, peer),
            Err(e) => log::warn!("connection from {peer}: {e}"),
        }
    }
}

fn tune(stream: &tokio::net::TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_IDLE)
        .with_interval(TCP_KEEPALIVE_INTERVAL);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}
