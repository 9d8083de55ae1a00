//! Runtime traces, black-box: the real binary, real MQTT clients over TCP, the trace API over
//! real HTTP (`/api/v1/traces`), a Server-Sent Events reader on a socket, and `courtier ctl`.

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

/// A broker with default settings, and its HTTP address.
fn broker() -> (tempfile::TempDir, BrokerProcess, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(&dir.path().join("data"), &[], &[]);
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

/// A live reader of `/api/v1/traces/{id}/stream`: (event name, JSON data) as they arrive.
struct Sse {
    events: mpsc::Receiver<(String, Value)>,
}

impl Sse {
    /// Connected and past the opening `trace` event.
    fn open(http: SocketAddr, id: u64) -> Sse {
        let mut s = TcpStream::connect(http).unwrap();
        write!(
            s,
            "GET /api/v1/traces/{id}/stream HTTP/1.1\r\nHost: {http}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.contains(" 200 "), "{line}");
        let mut chunked = false;
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            let l = line.to_lowercase();
            chunked |= l.starts_with("transfer-encoding") && l.contains("chunked");
            if l.starts_with("content-type") {
                assert!(l.contains("text/event-stream"), "{l}");
            }
        }
        let (tx, events) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            loop {
                let mut piece = String::new();
                if chunked {
                    let mut size = String::new();
                    if r.read_line(&mut size).unwrap_or(0) == 0 {
                        return;
                    }
                    let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    let mut buf = vec![0; n + 2];
                    if r.read_exact(&mut buf).is_err() {
                        return;
                    }
                    piece.push_str(&String::from_utf8_lossy(&buf[..n]));
                } else if r.read_line(&mut piece).unwrap_or(0) == 0 {
                    return;
                }
                text.push_str(&piece);
                while let Some(end) = text.find("\n\n") {
                    let ev: String = text.drain(..end + 2).collect();
                    let mut name = "message".to_owned();
                    let mut data = String::new();
                    for l in ev.lines() {
                        if let Some(n) = l.strip_prefix("event: ") {
                            name = n.to_owned();
                        } else if let Some(d) = l.strip_prefix("data: ") {
                            data.push_str(d);
                        }
                    }
                    if !data.is_empty() {
                        let _ = tx.send((name, serde_json::from_str(&data).unwrap()));
                    }
                }
            }
        });
        let sse = Sse { events };
        let (name, v) = sse.next();
        assert_eq!(name, "trace");
        assert_eq!(v["id"], id);
        sse
    }

    fn next(&self) -> (String, Value) {
        self.events
            .recv_timeout(Duration::from_secs(10))
            .expect("an event within 10 s")
    }

    /// Records until one has hop `hop`; all of them, in order.
    fn records_until(&self, hop: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let (name, v) = self.next();
            assert_eq!(name, "message", "{v} after {seen:#?}");
            let done = v["hop"] == hop;
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
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

#[test]
fn a_topic_trace_shows_each_hop_live_and_keeps_them_as_json_lines() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"topic": "home/+/light"}));
    let sse = Sse::open(http, id);
    let mut lamp = RawClient::connected(b.addr, "lamp");
    lamp.subscribe(1, &[("home/#", 1)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    // Untraced first: it must not show.
    switch.send(&publish("home/hall/heat", b"21", 1, false, false, 1));
    switch.expect(&puback(1));
    switch.send(&publish("home/hall/light", b"on", 1, false, false, 2));
    switch.expect(&puback(2));
    for _ in 0..2 {
        let p = lamp.recv_publish();
        lamp.send(&puback(p.packet_id.unwrap()));
    }
    let records = sse.records_until("acked");
    assert_eq!(
        hops(&records),
        [
            "received switch",
            "matched switch",
            "queued lamp",
            "sent lamp",
            "acked lamp"
        ],
        "{records:#?}"
    );
    check_fields(&records);
    let msg = &records[0]["msg"];
    assert!(records
        .iter()
        .all(|r| &r["msg"] == msg && r["topic"] == "home/hall/light"));
    assert_eq!(records[0]["qos"], 1);
    assert_eq!(records[0]["actor"], "session");
    assert_eq!(records[1]["actor"], "router");
    assert_eq!(records[3]["actor"], "connection");
    assert!(records[3]["detail"].as_str().unwrap().contains("pkid=2"));

    // The same records for download, one JSON object per line.
    let r = get(http, &format!("/api/v1/traces/{id}/records"));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().contains("jsonl"));
    let kept: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept, records);
    let listed = traces(http);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["topic"], "home/+/light");
    assert_eq!(listed[0]["state"], "active");
    assert_eq!(listed[0]["records"], 5);
    assert_eq!(listed[0]["lost"], 0);
    let left = listed[0]["remaining_secs"].as_u64().unwrap();
    assert!((590..=600).contains(&left), "default 10 minutes: {left}");
    // And in the log, as `[trace]` lines are.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = Vec::new();
    while !log
        .iter()
        .any(|l: &String| l.contains(&format!("trace={id} msg={msg} acked")))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        log.push(b.log.recv_timeout(left).expect("the acked hop logged"));
    }
}

#[test]
fn a_client_trace_shows_connect_subscriptions_deliveries_and_disconnect() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "lamp", "duration_secs": 60}));
    let sse = Sse::open(http, id);
    let mut lamp = RawClient::connected(b.addr, "lamp");
    // One granted, one refused (an invalid filter: 0x80 for a 3.1.1 client).
    lamp.send(&subscribe(1, &[("home/#", 1), ("a/#/b", 0)]));
    lamp.expect(&suback(1, &[1, 0x80]));
    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/hall/light", b"on", 1, false, false, 1));
    switch.expect(&puback(1));
    let p = lamp.recv_publish();
    lamp.send(&puback(p.packet_id.unwrap()));
    lamp.send(&unsubscribe(2, &["home/#"]));
    lamp.expect(&packet(0xB0, &[0, 2]));
    lamp.send(&disconnect());
    let records = sse.records_until("disconnect");
    assert_eq!(
        hops(&records),
        [
            "connect lamp",
            "connack lamp",
            "subscribe lamp",
            "subscribe lamp",
            "queued lamp",
            "sent lamp",
            "acked lamp",
            "unsubscribe lamp",
            "disconnect lamp"
        ],
        "{records:#?}"
    );
    check_fields(&records);
    assert_eq!(records[1]["reason"], "0x00");
    assert!(records[0]["detail"]
        .as_str()
        .unwrap()
        .contains("protocol=3.1.1"));
    assert_eq!(
        (&records[2]["topic"], &records[2]["qos"]),
        (&json!("home/#"), &json!(1))
    );
    assert_eq!(records[3]["topic"], "a/#/b");
    assert!(records[3]["reason"].as_str().unwrap().starts_with("0x80"));
    assert_eq!(records[7]["topic"], "home/#");
    assert_eq!(records[8]["reason"], "client sent DISCONNECT");
}

#[test]
fn take_over_and_keep_alive_timeout_are_events_of_a_traced_client() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "k"}));
    let sse = Sse::open(http, id);
    let first = Connect::v311("k");
    let (_old, _) = RawClient::handshake_with(b.addr, &first);
    let (_new, _) = RawClient::handshake_with(b.addr, &Connect::v311("k").keep_alive(1));
    let records = sse.records_until("keep_alive_timeout");
    let names = hops(&records);
    assert_eq!(names[..2], ["connect k", "connack k"], "{records:#?}");
    // The old connection's end and the new one's CONNACK race; the take-over comes first.
    let mut middle = names[2..names.len() - 1].to_vec();
    assert_eq!(middle[0], "take_over k", "{records:#?}");
    middle.sort();
    assert_eq!(
        middle,
        ["connack k", "connect k", "disconnect k", "take_over k"],
        "{records:#?}"
    );
    assert_eq!(names.last().unwrap(), "keep_alive_timeout k");
    let old_end = records.iter().find(|r| r["hop"] == "disconnect").unwrap();
    assert!(
        old_end["reason"].as_str().unwrap().contains("taken over"),
        "{old_end}"
    );
}

#[test]
fn username_and_address_traces_select_the_clients_that_connect() {
    let (_dir, b, http) = broker();
    let by_user = start_trace(http, json!({"username": "alice"}));
    let by_addr = start_trace(http, json!({"address": "127.0.0.1"}));
    let user = Sse::open(http, by_user);
    let addr = Sse::open(http, by_addr);
    let phone = Connect {
        username: Some("alice".into()),
        ..Connect::v311("phone")
    };
    let (mut c, _) = RawClient::handshake_with(b.addr, &phone);
    c.send(&publish("x/y", b"1", 0, false, false, 0));
    let expected = [
        "connect phone",
        "connack phone",
        "received phone",
        "matched phone",
    ];
    assert_eq!(hops(&user.records_until("matched")), expected);
    // Every test client comes from 127.0.0.1.
    assert_eq!(hops(&addr.records_until("matched")), expected);
    let _other = RawClient::connected(b.addr, "other");
    assert_eq!(
        hops(&addr.records_until("connack")),
        ["connect other", "connack other"]
    );
}

#[test]
fn two_traces_at_once_each_get_only_their_records() {
    let (_dir, b, http) = broker();
    let a = start_trace(http, json!({"client": "a-pub"}));
    let t = start_trace(http, json!({"topic": "b/#"}));
    let (sa, st) = (Sse::open(http, a), Sse::open(http, t));
    let mut pa = RawClient::connected(b.addr, "a-pub");
    let mut other = RawClient::connected(b.addr, "other");
    other.send(&publish("b/1", b"x", 0, false, false, 0));
    pa.send(&publish("x", b"x", 0, false, false, 0));
    let seen_t = st.records_until("matched");
    assert_eq!(hops(&seen_t), ["received other", "matched other"]);
    assert_eq!(seen_t[0]["topic"], "b/1");
    let seen_a = sa.records_until("matched");
    assert_eq!(
        hops(&seen_a),
        [
            "connect a-pub",
            "connack a-pub",
            "received a-pub",
            "matched a-pub"
        ]
    );
    assert_eq!(seen_a[2]["topic"], "x");
    // A message both select goes to both.
    pa.send(&publish("b/2", b"x", 0, false, false, 0));
    assert_eq!(sa.records_until("matched")[0]["topic"], "b/2");
    assert_eq!(st.records_until("matched")[0]["topic"], "b/2");
    assert_eq!(traces(http).len(), 2);
}

#[test]
fn a_trace_ends_on_time_and_delete_forgets_it() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "c", "duration_secs": 1}));
    let sse = Sse::open(http, id);
    let started = Instant::now();
    let (name, v) = sse.next();
    assert_eq!((name.as_str(), &v["reason"]), ("end", &json!("expired")));
    assert!(started.elapsed() < Duration::from_secs(3));
    // Ended: listed as expired, records still downloadable, nothing recorded any more.
    let listed = traces(http);
    assert_eq!(listed[0]["state"], "expired");
    assert_eq!(listed[0]["remaining_secs"], 0);
    let _c = RawClient::connected(b.addr, "c");
    let after = get(http, &format!("/api/v1/traces/{id}")).body;
    assert!(after.contains("\"records\":0"), "{after}");
    let (status, _) = request(http, "GET", &format!("/api/v1/traces/{id}/stream"), None);
    assert_eq!(status, 410);
    assert_eq!(
        request(http, "DELETE", &format!("/api/v1/traces/{id}"), None).0,
        204
    );
    assert_eq!(get(http, &format!("/api/v1/traces/{id}")).status, 404);
    assert_eq!(
        request(http, "DELETE", &format!("/api/v1/traces/{id}"), None).0,
        404
    );
    assert!(traces(http).is_empty());

    // DELETE of a running trace ends its live readers.
    let id = start_trace(http, json!({"topic": "#"}));
    let sse = Sse::open(http, id);
    assert_eq!(
        request(http, "DELETE", &format!("/api/v1/traces/{id}"), None).0,
        204
    );
    let (name, v) = sse.next();
    assert_eq!((name.as_str(), &v["reason"]), ("end", &json!("stopped")));
}

#[test]
fn bad_trace_requests_say_why() {
    let (_dir, _b, http) = broker();
    for (body, needle) in [
        (json!({"client": "a", "topic": "b"}), "exactly one"),
        (json!({}), "exactly one"),
        (json!({"topic": "a/#/b"}), "invalid topic filter"),
        (json!({"client": ""}), "empty client"),
        (json!({"clientid": "a"}), "unknown field"),
        (json!({"client": "a", "duration_secs": 0}), "positive"),
        (json!({"client": 7}), "must be a string"),
    ] {
        let (status, text) = request(http, "POST", "/api/v1/traces", Some(&body));
        assert_eq!(status, 400, "{body}: {text}");
        assert!(text.contains(needle), "{body}: {text}");
    }
    assert_eq!(request(http, "GET", "/api/v1/traces/nope", None).0, 404);
    // A duration beyond the maximum is capped, not refused.
    let id = start_trace(http, json!({"client": "a", "duration_secs": 1_000_000}));
    let t: Value = serde_json::from_str(&get(http, &format!("/api/v1/traces/{id}")).body).unwrap();
    assert!(t["remaining_secs"].as_u64().unwrap() <= 3600, "{t}");
}

/// `courtier ctl trace topic 'home/#'` prints each hop until Ctrl-C, then deletes its trace;
/// `courtier ctl traces` lists them.
#[test]
fn ctl_trace_streams_to_the_terminal_and_cleans_up_on_ctrl_c() {
    let (_dir, b, http) = broker();
    let url = format!("http://{http}");
    let out = Command::new(BIN)
        .args(["ctl", "--url", &url, "traces"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no traces\n");

    let mut ctl = Command::new(BIN)
        .args(["ctl", "--url", &url, "trace", "topic", "home/#"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(ctl.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.starts_with("trace ") && line.contains("home/#"),
        "{line}"
    );
    let listed = Command::new(BIN)
        .args(["ctl", "--url", &url, "traces"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("topic") && listed.contains("home/#"),
        "{listed}"
    );
    // Publish once ctl's stream is attached.
    let deadline = Instant::now() + Duration::from_secs(10);
    while traces(http)[0]["readers"] != 1 {
        assert!(Instant::now() < deadline, "ctl never read the stream");
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/door", b"open", 0, false, false, 0));
    let (tx, lines) = mpsc::channel();
    let stdout = ctl.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        first.contains(" received client=\"switch\" topic=\"home/door\" qos=0"),
        "{first}"
    );
    // HH:MM:SS.micros at the start.
    assert_eq!(first.as_bytes()[8], b'.', "{first}");
    let second = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(second.contains(" matched client=\"switch\""), "{second}");

    let ok = Command::new("kill")
        .args(["-INT", &ctl.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = ctl.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped and deleted"), "{rest}");
    assert!(traces(http).is_empty());
}

#[test]
fn ctl_sends_credentials_and_reports_api_errors() {
    let (_dir, _b, http) = broker();
    let url = format!("http://{http}");
    let out = Command::new(BIN)
        .args(["ctl", "--url", &url, "trace", "topic", "a/#/b"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("HTTP 400") && err.contains("invalid topic filter"),
        "{err}"
    );
    let out = Command::new(BIN)
        .args(["ctl", "--url", "https://x", "traces"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --user needs --password; --token and --user exclude each other.
    for args in [
        &["--user", "u"][..],
        &["--token", "t", "--user", "u", "--password", "p"],
    ] {
        let out = Command::new(BIN)
            .arg("ctl")
            .args(args)
            .arg("traces")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
    }
    // Accepted by today's API, which asks for no credentials on loopback.
    let out = Command::new(BIN)
        .args(["ctl", "--url", &url, "--token", "t0k", "traces"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}
