//! `courtier healthcheck`: is the broker configured by these settings answering MQTT? For the
//! container's HEALTHCHECK, which must not need curl or a shell.
//!
//! Sends an MQTT 3.1.1 CONNECT (empty client id, clean session: it can take over nobody) to the
//! first plain MQTT listener and waits for a CONNACK; any return code counts, since "not
//! authorized" also proves the broker is up. A TLS or WebSocket listener only gets a TCP
//! connection (the broker accepts it), as the probe carries no certificate or HTTP client.

use crate::config::{Protocol, Settings};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// CONNECT, MQTT 3.1.1, clean session, keep-alive 0, client id "".
const CONNECT: [u8; 14] = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 0, 0, 0];
const DISCONNECT: [u8; 2] = [0xE0, 0];

/// Where to probe: `host:port` and whether to speak MQTT there.
pub fn target(settings: &Settings) -> (String, bool) {
    let local = |bind: &str| match bind {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" | "[::]" => "::1".to_owned(),
        other => other.to_owned(),
    };
    let host_port = |bind: &str, port: u16| crate::config::host_port(&local(bind), port);
    let plain = settings
        .listeners
        .iter()
        .find(|l| l.protocol == Protocol::Mqtt && !l.is_tls());
    match (plain, settings.listeners.first()) {
        (Some(l), _) => (host_port(&l.bind, l.port), true),
        (None, Some(l)) => (host_port(&l.bind, l.port), false),
        (None, None) => (
            host_port(&settings.listener.bind, settings.listener.port),
            true,
        ),
    }
}

/// Probes [`target`]; `Err` says what failed.
pub fn probe(settings: &Settings, timeout: Duration) -> Result<String, String> {
    let (addr, mqtt) = target(settings);
    let socket = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&socket, timeout)
        .map_err(|e| format!("{addr}: cannot connect: {e}"))?;
    if !mqtt {
        return Ok(format!("{addr}: accepting connections"));
    }
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    stream
        .write_all(&CONNECT)
        .map_err(|e| format!("{addr}: sending CONNECT: {e}"))?;
    let mut connack = [0u8; 4];
    stream
        .read_exact(&mut connack)
        .map_err(|e| format!("{addr}: no CONNACK: {e}"))?;
    if connack[0] != 0x20 || connack[1] != 2 {
        return Err(format!("{addr}: not a CONNACK: {connack:02x?}"));
    }
    let _ = stream.write_all(&DISCONNECT);
    Ok(format!("{addr}: CONNACK return code {}", connack[3]))
}
