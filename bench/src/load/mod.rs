//! Throughput and latency runs: P publishers and S subscribers over a fixed duration
//! (fan-in, fan-out, pairs, fixed-rate latency, latency beside a fixed-rate fan-in).
//!
//! Every payload carries (publisher, sequence, send time), so subscribers count deliveries per
//! publisher, detect reordering and duplicates, and measure latency. Publishers keep at most
//! `inflight` QoS 1/2 messages unacknowledged and, with `closed_loop = N`, never get more than N
//! messages ahead of what their subscribers have received, so a broker that only buffers cannot
//! look fast. Throughput counts deliveries received inside the measured window.

use crate::client::Client;
use crate::pace::Pace;
use crate::stats::{percentile, CpuMeter, Report};
use crate::trace_api::TraceRole;
use crate::wire;
use crate::Opts;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

mod publisher;
mod subscriber;
use publisher::{publisher, PubCfg};
use subscriber::subscriber;

/// Who publishes where and who subscribes to what.
pub struct Plan {
    pub scenario: &'static str,
    pub topics: Vec<String>,
    pub filters: Vec<String>,
    /// Deliveries expected per publish (S for fan-out, 1 otherwise).
    pub per_msg: u64,
    /// Messages per second per publisher (latency runs); None = as fast as allowed.
    pub rate: Option<f64>,
    /// Latency under load: publishers 1.. are a fan-in at this many messages per second each
    /// (`Pace::steady`) beside publisher 0, the probe at `rate`.
    pub load: Option<f64>,
}

struct Shared {
    base: Instant,
    window_end_ns: AtomicU64,
    received: AtomicU64,
    /// Bytes the subscribers read from their sockets (deliveries and PUBRELs).
    bytes_in: AtomicU64,
    in_window: AtomicU64,
    out_of_order: AtomicU64,
    delivered: Vec<AtomicU64>,
    wake: Vec<Notify>,
    /// Latencies of publisher 0's messages (latency runs).
    latencies: Option<Mutex<Vec<u64>>>,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

pub async fn run(o: &Opts, plan: Plan) -> io::Result<Report> {
    let pubs = plan.topics.len();
    let sh = Arc::new(Shared {
        base: Instant::now(),
        window_end_ns: AtomicU64::new(u64::MAX),
        received: AtomicU64::new(0),
        bytes_in: AtomicU64::new(0),
        in_window: AtomicU64::new(0),
        out_of_order: AtomicU64::new(0),
        delivered: (0..pubs).map(|_| AtomicU64::new(0)).collect(),
        wake: (0..pubs).map(|_| Notify::new()).collect(),
        latencies: plan.rate.map(|_| Mutex::new(Vec::new())),
    });
    let tag = std::process::id();
    let proto = o.proto();
    let mut subs = Vec::new();
    for (i, filter) in plan.filters.iter().enumerate() {
        let mut c = Client::connect(o.addr(), &format!("b{tag}-s{i}"), true, None, proto).await?;
        c.subscribe(&[(filter, o.qos)]).await?;
        subs.push(if proto.v5 {
            tokio::spawn(subscriber::<true>(c, sh.clone()))
        } else {
            tokio::spawn(subscriber::<false>(c, sh.clone()))
        });
    }
    let mut conns = Vec::new();
    for i in 0..pubs {
        let c = Client::connect(o.addr(), &format!("b{tag}-p{i}"), true, None, proto).await?;
        c.check_qos(o.qos)?;
        conns.push(c);
    }
    let trace = match &o.trace_first {
        Some(url) => {
            let traced = match o.trace_role {
                TraceRole::Subscriber => format!("b{tag}-s0"),
                TraceRole::Publisher => format!("b{tag}-p0"),
            };
            let id = crate::trace_api::start(url, &traced).await?;
            let reader = o.trace_stream.then(|| crate::trace_api::read(url, id));
            Some((url, id, reader))
        }
        None => None,
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let meter = CpuMeter::start(o.broker_pid);
    let duration = Duration::from_secs_f64(o.duration);
    let deadline = tokio::time::Instant::now() + duration;
    sh.window_end_ns
        .store(sh.now_ns() + duration.as_nanos() as u64, Relaxed);
    let mut tasks = Vec::new();
    // Publishers that stay connected without sending (--only-first, --first-rate 0).
    let mut idle = Vec::new();
    for (i, (c, topic)) in conns.into_iter().zip(plan.topics.iter()).enumerate() {
        let rate = match i {
            0 => o.first_rate.or(plan.rate),
            _ => plan.load.or(plan.rate),
        };
        if (o.only_first && i > 0) || rate == Some(0.0) {
            idle.push(c);
            continue;
        }
        let pace = match (i, plan.load) {
            (1.., Some(r)) => Some(Pace::steady(r)),
            _ => rate.map(Pace::probe),
        };
        let cfg = PubCfg {
            idx: i,
            topic: topic.clone(),
            qos: o.qos,
            payload: o.payload.max(wire::HEADER_LEN),
            window: c.window(o.inflight),
            closed_loop: o.closed_loop,
            per_msg: plan.per_msg,
            pace,
            deadline,
        };
        tasks.push(if proto.v5 {
            tokio::spawn(publisher::<true>(c, sh.clone(), cfg))
        } else {
            tokio::spawn(publisher::<false>(c, sh.clone(), cfg))
        });
    }
    let (mut sent, mut acked, mut errors) = (0u64, 0u64, 0u64);
    for t in tasks {
        match t.await {
            Ok(Ok((s, a))) => (sent, acked) = (sent + s, acked + a),
            Ok(Err(e)) => {
                eprintln!("publisher: {e}");
                errors += 1;
            }
            Err(e) => eprintln!("publisher task: {e}"),
        }
    }
    let expected = if o.qos > 0 { acked } else { sent } * plan.per_msg;
    wait_for(&sh.received, expected).await;
    let cpu = meter.stop();
    for s in &subs {
        s.abort();
    }
    drop(idle);
    let mut stream_records = None;
    if let Some((url, id, reader)) = trace {
        crate::trace_api::delete(url, id).await?;
        stream_records = reader.map(|r| r.load(Relaxed));
    }
    let first = sh.delivered[0].load(Relaxed);
    let rest: u64 = sh.delivered[1..].iter().map(|d| d.load(Relaxed)).sum();
    let received = sh.received.load(Relaxed);
    let in_window = sh.in_window.load(Relaxed);

    let mut r = Report::default();
    r.str("scenario", plan.scenario)
        .str("broker", o.label.clone())
        .int("protocol", proto.level())
        .int("qos", o.qos.into())
        .int("payload", o.payload.max(wire::HEADER_LEN) as u64)
        .int("user_properties", proto.user_properties as u64)
        .int("topic_alias_max", proto.topic_alias_max.into())
        .int("publishers", pubs as u64)
        .int("subscribers", plan.filters.len() as u64)
        .num("duration_s", o.duration)
        .int("inflight", o.inflight as u64)
        .int("closed_loop", o.closed_loop.unwrap_or(0))
        .int("traced_clients", o.trace_first.is_some() as u64)
        .str("traced", crate::trace_api::label(o))
        .int("first_delivered", first)
        .int("rest_delivered", rest)
        .int("sent", sent)
        .int("acked", acked)
        .int("expected", expected)
        .int("received", received)
        .int("lost", expected.saturating_sub(received))
        .int("out_of_order", sh.out_of_order.load(Relaxed))
        .int("errors", errors)
        .num("msgs_per_s", in_window as f64 / o.duration)
        .num("publish_per_s", sent as f64 / o.duration)
        .int("rx_bytes", sh.bytes_in.load(Relaxed))
        .num(
            "rx_bytes_per_msg",
            sh.bytes_in.load(Relaxed) as f64 / received.max(1) as f64,
        );
    if o.qos > 0 {
        r.str(
            "zero_loss",
            if received >= expected && errors == 0 {
                "ok"
            } else {
                "FAILED"
            },
        );
    }
    if let Some(load) = plan.load {
        let n = pubs.saturating_sub(1) as u64;
        r.int("load_publishers", n)
            .num("load_rate_per_s", load * n as f64)
            .num("load_msgs_per_s", rest as f64 / o.duration);
    }
    if let Some(l) = &sh.latencies {
        let mut l = std::mem::take(&mut *l.lock().unwrap());
        l.sort_unstable();
        let us = |p: f64| percentile(&l, p) as f64 / 1000.0;
        r.num("rate_per_s", plan.rate.unwrap_or(0.0))
            .num("p50_us", us(50.0))
            .num("p90_us", us(90.0))
            .num("p99_us", us(99.0))
            .num("max_us", us(100.0));
    }
    if let Some(n) = stream_records {
        r.int("stream_records", n);
    }
    r.cpu(&cpu, received);
    Ok(r)
}

/// Wait until `counter` reaches `target`, giving up after 2 s without progress.
pub async fn wait_for(counter: &AtomicU64, target: u64) {
    let (mut last, mut since) = (0, Instant::now());
    loop {
        let now = counter.load(Relaxed);
        if now >= target || since.elapsed() > Duration::from_secs(2) {
            return;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
