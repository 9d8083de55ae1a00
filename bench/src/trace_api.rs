//! `--trace-first URL`: a runtime trace of the run's first subscriber (or, `--trace-role
//! publisher`, its first publisher), started over the broker's API (`POST /api/v1/traces`) once
//! the clients are connected and deleted at the end, to measure what one traced client costs
//! the others and itself (Courtier only); `--trace-stream` reads its live stream meanwhile, as
//! an open dashboard does.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 request with `Connection: close`: the status line and the body.
async fn request(url: &str, method: &str, path: &str, body: &str) -> io::Result<(u16, String)> {
    let host = url
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("{url}: only http:// URLs")))?
        .trim_end_matches('/');
    let mut s = TcpStream::connect(host).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).await?;
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((status, body))
}

/// Start a trace of `client`; its id (the `"id"` of the answer).
pub async fn start(url: &str, client: &str) -> io::Result<u64> {
    let body = format!("{{\"client\":\"{client}\",\"duration_secs\":3600}}");
    let (status, answer) = request(url, "POST", "/api/v1/traces", &body).await?;
    if status != 201 {
        return Err(io::Error::other(format!("trace: HTTP {status}: {answer}")));
    }
    answer
        .split("\"id\":")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|id| id.trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("trace: no id in {answer}")))
}

pub async fn delete(url: &str, id: u64) -> io::Result<()> {
    request(url, "DELETE", &format!("/api/v1/traces/{id}"), "").await?;
    Ok(())
}

/// Which client of the run `--trace-first` traces.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TraceRole {
    /// The first subscriber: the hops at its session (queued, sent, acked).
    Subscriber,
    /// The first publisher: every hop of its messages (received, matched, queued, sent, acked).
    Publisher,
}

/// Which client the run traces, for the report.
pub fn label(o: &crate::Opts) -> &'static str {
    match (&o.trace_first, o.trace_role) {
        (None, _) => "none",
        (Some(_), TraceRole::Subscriber) => "first subscriber",
        (Some(_), TraceRole::Publisher) => "first publisher",
    }
}

/// Read `GET /api/v1/traces/{id}/stream` until it ends, counting the records (`data:` lines
/// with a `time_us`): the counter it returns.
pub fn read(url: &str, id: u64) -> Arc<AtomicU64> {
    let records = Arc::new(AtomicU64::new(0));
    let count = records.clone();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    tokio::spawn(async move {
        let Ok(mut s) = TcpStream::connect(&host).await else {
            eprintln!("trace stream: cannot connect to {host}");
            return;
        };
        let req = format!("GET /api/v1/traces/{id}/stream HTTP/1.1\r\nHost: {host}\r\n\r\n");
        if s.write_all(req.as_bytes()).await.is_err() {
            return;
        }
        let mut lines = tokio::io::BufReader::new(s).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("data: {\"time_us\"") {
                count.fetch_add(1, Relaxed);
            }
        }
    });
    records
}
