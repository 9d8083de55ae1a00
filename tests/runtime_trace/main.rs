//! Runtime traces, black-box: the real binary, real MQTT clients over TCP, the trace API over
//! real HTTP (`/api/v1/traces`), a Server-Sent Events reader on a socket, and `courtier ctl`.//!
//! One test binary: main.rs holds the helpers (sse.rs the stream reader), messages.rs the hops
//! of traced messages, clients.rs the traces that select clients, lifecycle.rs a trace's end
//! and refused requests, ctl.rs `courtier ctl trace`, log.rs the records' log lines.

#[path = "../common/mod.rs"]
mod common;

use common::http::get;
use common::process::{BrokerProcess, BIN};
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod clients;
mod ctl;
mod lifecycle;
mod log;
mod messages;
mod sse;

use sse::Sse;

/// A broker with default settings, and its HTTP address.
fn broker() -> (tempfile::TempDir, BrokerProcess, SocketAddr) {
    broker_with(&[])
}

/// [`broker`] with more environment (`RUST_LOG`, `COURTIER__...`).
fn broker_with(env: &[(&str, &str)]) -> (tempfile::TempDir, BrokerProcess, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(&dir.path().join("data"), &[], env);
    let http = b
        .startup_log
        .iter()
        .find_map(|l| l.split("listening for HTTP on ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the HTTP listener in the start-up log")
        .parse()
        .unwrap();
    // MQTT listens a moment before /readyz (and the API) says ready.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get(http, "/readyz").status != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    (dir, b, http)
}

/// One HTTP request with `Connection: close`: (status, body).
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// POST /api/v1/traces with `req`; the new trace's id.
fn start_trace(http: SocketAddr, req: Value) -> u64 {
    let (status, body) = request(http, "POST", "/api/v1/traces", Some(&req));
    assert_eq!(status, 201, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_u64()
        .unwrap()
}

fn traces(http: SocketAddr) -> Vec<Value> {
    let r = get(http, "/api/v1/traces");
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    v["traces"].as_array().unwrap().clone()
}

fn hops(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["hop"].as_str().unwrap(),
                r["client"].as_str().unwrap()
            )
        })
        .collect()
}

/// Every record carries the fields the issue lists; times are in µs and never go back.
fn check_fields(records: &[Value]) {
    let mut last = 0;
    for r in records {
        let t = r["time_us"].as_u64().unwrap();
        assert!(t >= last, "{records:#?}");
        // Microseconds since the epoch: after 2020 in µs, not ms.
        assert!(t > 1_577_836_800_000_000, "{r}");
        last = t;
        assert!(r["actor"].is_string() && r["hop"].is_string() && r["client"].is_string());
    }
}
