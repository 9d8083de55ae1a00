//! The admin API (/api/v1) over real HTTP against the in-process broker, with real MQTT
//! clients connected (rumqttc 3.1.1 and 5.0): lists, details, kicks (5.0 sees DISCONNECT
//! 0x98), session deletion with RocksDB, retained messages, the topic tree, the broker's
//! settings without secrets, reload, and access control from a non-loopback address.//!
//! One test binary: main.rs holds the helpers, clients.rs the client list, details and kicks,
//! retained.rs the retained messages and topic tree, access.rs the settings, reload and access
//! control, ctl.rs `courtier ctl` against the real binary.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use courtier::config::Settings;
use courtier::ServerThread;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(5);
const FIXTURE: &str = "tests/fixtures/mosquitto_passwd/passwd";

fn settings() -> Settings {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 0;
    s.persistence.enabled = false;
    s
}

fn start(s: Settings) -> ServerThread {
    ServerThread::spawn_configured(s).expect("broker starts")
}

/// One HTTP/1.1 request (Connection: close); the status and the body parsed as JSON
/// (`Value::Null` if it is not JSON).
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, body) = request_text(addr, method, path, headers);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// [`request`] without parsing the body.
fn request_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the HTTP listener");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    (status, body)
}

async fn api(addr: SocketAddr, method: &'static str, path: String) -> (u16, Value) {
    tokio::task::spawn_blocking(move || request(addr, method, &path, &[]))
        .await
        .unwrap()
}

mod v4 {
    use super::*;
    use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet};

    pub fn options(server: &ServerThread, id: &str, clean: bool) -> MqttOptions {
        let mut o = MqttOptions::new(id, "127.0.0.1", server.mqtt_addr.port());
        o.set_clean_session(clean);
        o.set_keep_alive(Duration::from_secs(30));
        o
    }

    /// Connected; returns whether the CONNACK said session present.
    pub async fn connect(o: MqttOptions) -> (AsyncClient, EventLoop, bool) {
        let (c, mut ev) = AsyncClient::new(o, 100);
        let present = until(&mut ev, |p| match p {
            Packet::ConnAck(a) => Some(a.session_present),
            _ => None,
        })
        .await;
        (c, ev, present)
    }

    pub async fn until<T>(ev: &mut EventLoop, mut f: impl FnMut(Packet) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Event::Incoming(p) = ev.poll().await.expect("connected") {
                    if let Some(t) = f(p) {
                        return t;
                    }
                }
            }
        })
        .await
        .expect("expected packet within 5 s")
    }
}

mod v5 {
    use super::*;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};

    pub async fn connect(server: &ServerThread, id: &str) -> (AsyncClient, EventLoop) {
        let mut o = MqttOptions::new(id, "127.0.0.1", server.mqtt_addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        let (c, mut ev) = AsyncClient::new(o, 100);
        until(&mut ev, |p| matches!(p, Packet::ConnAck(_)).then_some(())).await;
        (c, ev)
    }

    pub async fn until<T>(ev: &mut EventLoop, mut f: impl FnMut(Packet) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                if let Event::Incoming(p) = ev.poll().await.expect("connected") {
                    if let Some(t) = f(p) {
                        return t;
                    }
                }
            }
        })
        .await
        .expect("expected packet within 5 s")
    }
}

mod access;
mod clients;
mod ctl;
mod retained;
