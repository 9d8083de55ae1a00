//! `courtier ctl trace client|topic|username|address VALUE`: start a runtime trace, print its
//! records as they come, one line each, until Ctrl-C or the trace's end, then delete it.
//! `courtier ctl traces`: the traces running (and ended ones still kept).

use super::client::Api;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct TraceArgs {
    /// What to trace
    #[arg(value_enum)]
    pub kind: Kind,
    /// The client id, topic filter ('home/#'), username or address (IP, or IP:port)
    pub value: String,
    /// How long the trace runs, seconds (the broker caps it; default 600)
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// The most log lines the trace writes per second (0: every record; default: the
    /// broker's `[trace] log_lines_per_sec`)
    #[arg(long, value_name = "N")]
    pub log_lines_per_sec: Option<u32>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    Topic,
    Username,
    Address,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Client => "client",
            Kind::Topic => "topic",
            Kind::Username => "username",
            Kind::Address => "address",
        }
    }
}

pub fn list(api: &Api) -> Result<(), String> {
    let v = api.json("GET", "/api/v1/traces", None)?;
    let traces = v["traces"].as_array().cloned().unwrap_or_default();
    if traces.is_empty() {
        println!("no traces");
        return Ok(());
    }
    println!(
        "{:>4}  {:<8}  {:<24}  {:<8}  {:>9}  {:>8}  {:>6}",
        "ID", "KIND", "VALUE", "STATE", "REMAINING", "RECORDS", "LOST"
    );
    for t in traces {
        let (kind, value) = ["client", "topic", "username", "address"]
            .iter()
            .find_map(|k| t[*k].as_str().map(|v| (*k, v)))
            .unwrap_or(("?", "?"));
        println!(
            "{:>4}  {:<8}  {:<24}  {:<8}  {:>8}s  {:>8}  {:>6}",
            t["id"],
            kind,
            value,
            t["state"].as_str().unwrap_or("?"),
            t["remaining_secs"],
            t["records"],
            t["lost"]
        );
    }
    Ok(())
}

/// Start the trace, stream it on a thread, and delete it when the stream ends or on Ctrl-C.
pub fn follow(api: &Api, args: &TraceArgs) -> Result<(), String> {
    let mut req = json!({ args.kind.key(): args.value });
    if let Some(d) = args.duration {
        req["duration_secs"] = json!(d);
    }
    if let Some(n) = args.log_lines_per_sec {
        req["log_lines_per_sec"] = json!(n);
    }
    let started = api.json("POST", "/api/v1/traces", Some(&req.to_string()))?;
    let id = started["id"].as_u64().ok_or("no trace id in the answer")?;
    eprintln!(
        "trace {id}: {} {:?} for {}s (Ctrl-C stops it)",
        args.kind.key(),
        args.value,
        started["remaining_secs"]
    );
    let mut stream = api.send("GET", &format!("/api/v1/traces/{id}/stream"), None)?;
    if stream.status != 200 {
        let _ = api.json("DELETE", &format!("/api/v1/traces/{id}"), None);
        return Err(format!("stream: HTTP {}", stream.status));
    }
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut pending = String::new();
        let result = loop {
            match stream.chunk() {
                Ok(Some(bytes)) => {
                    pending.push_str(&String::from_utf8_lossy(&bytes));
                    while let Some(end) = pending.find("\n\n") {
                        let ev: String = pending.drain(..end + 2).collect();
                        print_event(&ev);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        let _ = done_tx.send(result);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let streamed = rt.block_on(async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Ok(()),
            r = done_rx => r.unwrap_or(Ok(())),
        }
    });
    // Gone already if it ended and was dropped; either way it should not outlive us.
    match api.json("DELETE", &format!("/api/v1/traces/{id}"), None) {
        Ok(_) => eprintln!("trace {id} stopped and deleted"),
        Err(e) if e.contains("HTTP 404") => {}
        Err(e) => eprintln!("courtier ctl: {e}"),
    }
    streamed
}

/// Print one Server-Sent Event human-readably: a record as one line, `lost` and `end` as notes
/// on stderr, keep-alive comments not at all.
fn print_event(ev: &str) {
    let (mut name, mut data) = ("message", String::new());
    for line in ev.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n;
        } else if let Some(d) = line.strip_prefix("data: ") {
            data.push_str(d);
        }
    }
    if data.is_empty() {
        return;
    }
    let v: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
    match name {
        "message" => println!("{}", human(&v)),
        "lost" => eprintln!(
            "({} records lost: this terminal read too slowly)",
            v["lost"]
        ),
        "end" => eprintln!(
            "trace {} ended: {}",
            v["id"],
            v["reason"].as_str().unwrap_or("?")
        ),
        _ => {}
    }
}

/// `12:03:04.123456 msg=7 sent client="lamp" topic="home/hall/light" qos=1 pkid=1 ...`
pub fn human(r: &Value) -> String {
    let us = r["time_us"].as_u64().unwrap_or(0);
    let secs = us / 1_000_000;
    let mut line = format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        us % 1_000_000
    );
    if let Some(id) = r["msg"].as_u64() {
        line.push_str(&format!(" msg={id}"));
    }
    line.push_str(&format!(
        " {} client={:?}",
        r["hop"].as_str().unwrap_or("?"),
        r["client"].as_str().unwrap_or("")
    ));
    if let Some(t) = r["topic"].as_str() {
        line.push_str(&format!(" topic={t:?}"));
    }
    if let Some(q) = r["qos"].as_u64() {
        line.push_str(&format!(" qos={q}"));
    }
    if let Some(why) = r["reason"].as_str() {
        line.push_str(&format!(" reason={why}"));
    }
    if let Some(d) = r["detail"].as_str() {
        line.push(' ');
        line.push_str(d);
    }
    line
}
