//! The scenarios that are not a steady stream: idle connections, the retained burst of a Home
//! Assistant start-up, and persistent sessions filled while offline then drained.

use crate::client::Client;
use crate::stats::{proc_rss_bytes, CpuMeter, Report};
use crate::Opts;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Loopback source addresses, 20,000 connections each, so that more than one address's worth
/// of ephemeral ports can connect to one broker port.
fn local_ip(o: &Opts, i: usize) -> Option<IpAddr> {
    let IpAddr::V4(v4) = o.addr().ip() else {
        return None;
    };
    if !v4.is_loopback() || o.count <= 20_000 {
        return None;
    }
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i / 20_000) as u8)))
}

/// Raise the soft open-files limit to the hard limit (and to `want` if allowed).
pub fn raise_nofile(want: u64) -> u64 {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        if l.rlim_max < want as libc::rlim_t {
            let mut higher = l;
            higher.rlim_max = want as libc::rlim_t;
            higher.rlim_cur = want as libc::rlim_t;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &higher) == 0 {
                return want;
            }
        }
        l.rlim_cur = l.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        l.rlim_cur as u64
    }
}

/// Connect `o.count` clients, `o.concurrency` at a time; the clients and how many failed.
async fn connect_all(o: &Opts, pass: &str) -> (Vec<Client>, u64) {
    let proto = o.proto();
    let gate = Arc::new(Semaphore::new(o.concurrency.max(1)));
    let tag = std::process::id();
    let mut set = JoinSet::new();
    for i in 0..o.count {
        let (gate, addr, local) = (gate.clone(), o.addr(), local_ip(o, i));
        let id = format!("b{tag}-{pass}{i}");
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            Client::connect(addr, &id, true, local, proto).await
        });
    }
    let mut clients = Vec::with_capacity(o.count);
    let mut failed = 0u64;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(c)) => clients.push(c),
            Ok(Err(e)) => {
                if failed == 0 {
                    eprintln!("connect failed: {e}");
                }
                failed += 1;
            }
            Err(e) => eprintln!("connect task: {e}"),
        }
    }
    (clients, failed)
}

/// K clients connect, all disconnect, all connect again: connects per second of the first
/// ("cold": each password hashed) and the second pass ("cached").
pub async fn reconnect(o: &Opts) -> io::Result<Report> {
    raise_nofile(o.count as u64 + 1024);
    let meter = CpuMeter::start(o.broker_pid);
    let mut rates = Vec::new();
    let mut failed = 0;
    for pass in ["c", "r"] {
        let started = Instant::now();
        let (clients, f) = connect_all(o, pass).await;
        let wall = started.elapsed().as_secs_f64();
        rates.push((clients.len() as f64 / wall.max(1e-9), wall));
        failed += f;
        for c in clients {
            c.disconnect().await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let cpu = meter.stop();
    let mut r = Report::default();
    r.str("scenario", "reconnect")
        .str("broker", o.label.clone())
        .int("protocol", o.proto().level())
        .int("connections", o.count as u64)
        .int("failed", failed)
        .num("cold_connect_s", rates[0].1)
        .num("cold_connects_per_s", rates[0].0)
        .num("cached_connect_s", rates[1].1)
        .num("cached_connects_per_s", rates[1].0);
    r.cpu(&cpu, 0);
    Ok(r)
}

/// K idle connections: time to connect them all, and the broker's RSS growth per connection.
pub async fn conns(o: &Opts) -> io::Result<Report> {
    let proto = o.proto();
    let limit = raise_nofile(o.count as u64 + 1024);
    if limit < o.count as u64 + 64 {
        eprintln!(
            "warning: open-files limit {limit} is below {} connections",
            o.count
        );
    }
    let rss0 = o.broker_pid.and_then(proc_rss_bytes);
    let meter = CpuMeter::start(o.broker_pid);
    let gate = Arc::new(Semaphore::new(o.concurrency.max(1)));
    let tag = std::process::id();
    let mut set = JoinSet::new();
    for i in 0..o.count {
        let (gate, addr, local) = (gate.clone(), o.addr(), local_ip(o, i));
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            Client::connect(addr, &format!("b{tag}-c{i}"), true, local, proto).await
        });
    }
    let mut clients = Vec::with_capacity(o.count);
    let mut failed = 0u64;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(c)) => clients.push(c),
            Ok(Err(e)) => {
                if failed == 0 {
                    eprintln!("connect failed: {e}");
                }
                failed += 1;
            }
            Err(e) => eprintln!("connect task: {e}"),
        }
    }
    let connect_s = meter.stop().wall_s;
    tokio::time::sleep(Duration::from_secs_f64(o.hold.max(1.0))).await;
    let rss1 = o.broker_pid.and_then(proc_rss_bytes);
    let cpu = meter.stop();
    let n = clients.len() as u64;
    let mut r = Report::default();
    r.str("scenario", "conns")
        .str("broker", o.label.clone())
        .int("protocol", proto.level())
        .int("connections", n)
        .int("failed", failed)
        .num("connect_s", connect_s)
        .num("connects_per_s", n as f64 / connect_s.max(1e-9));
    if let (Some(a), Some(b)) = (rss0, rss1) {
        r.int("broker_rss_before", a)
            .int("broker_rss_after", b)
            .num(
                "bytes_per_conn",
                b.saturating_sub(a) as f64 / n.max(1) as f64,
            );
    }
    r.cpu(&cpu, 0);
    for c in clients {
        drop(c);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(r)
}

/// Home Assistant start-up: `topics` retained discovery messages, then 20 subscribers to
/// `homeassistant/#` at once. Measures the time until every subscriber has every message.
pub async fn retained_burst(o: &Opts) -> io::Result<Report> {
    let proto = o.proto();
    let tag = std::process::id();
    let subs = o.subscribers.unwrap_or(20);
    let topic = |i: usize| format!("homeassistant/sensor/bench{tag}_{i}/config");
    let payload = vec![b'x'; o.payload];
    let mut p = Client::connect(o.addr(), &format!("b{tag}-rp"), true, None, proto).await?;
    let t = Instant::now();
    let stored = p
        .publish_many(o.topics, topic, o.qos.max(1), true, &payload, o.inflight)
        .await?;
    let publish_s = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let meter = CpuMeter::start(o.broker_pid);
    let mut set = JoinSet::new();
    for i in 0..subs {
        let (addr, qos, want) = (o.addr(), o.qos, o.topics as u64);
        set.spawn(async move {
            let start = Instant::now();
            let mut c = Client::connect(addr, &format!("b{tag}-rs{i}"), true, None, proto).await?;
            c.subscribe(&[("homeassistant/#", qos)]).await?;
            let got = c.receive(want, Duration::from_secs(5)).await?;
            let took = start.elapsed().as_secs_f64();
            c.disconnect().await;
            Ok::<_, io::Error>((got, took))
        });
    }
    let (mut received, mut slowest, mut sum, mut complete) = (0u64, 0f64, 0f64, 0u64);
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok((got, took))) => {
                received += got;
                slowest = slowest.max(took);
                sum += took;
                complete += u64::from(got >= o.topics as u64);
            }
            Ok(Err(e)) => eprintln!("subscriber: {e}"),
            Err(e) => eprintln!("subscriber task: {e}"),
        }
    }
    let cpu = meter.stop();
    // Clear the retained messages again.
    p.publish_many(o.topics, topic, 1, true, &[], o.inflight)
        .await?;
    p.disconnect().await;

    let mut r = Report::default();
    r.str("scenario", "retained-burst")
        .str("broker", o.label.clone())
        .int("protocol", proto.level())
        .int("qos", o.qos.into())
        .int("topics", o.topics as u64)
        .int("stored", stored)
        .num("store_s", publish_s)
        .int("subscribers", subs as u64)
        .int("subscribers_complete", complete)
        .int("received", received)
        .num("all_received_s", slowest)
        .num("mean_received_s", sum / subs.max(1) as f64)
        .num("msgs_per_s", received as f64 / slowest.max(1e-9));
    r.cpu(&cpu, received);
    Ok(r)
}

/// QoS 1 into offline persistent sessions, then reconnect them all and drain.
pub async fn persistent(o: &Opts) -> io::Result<Report> {
    let proto = o.proto();
    let tag = std::process::id();
    let qos = o.qos.max(1);
    let subs = o.subscribers.unwrap_or(10);
    let id = |i: usize| format!("b{tag}-ps{i}");
    let filter = format!("bench/{tag}/persist/#");
    for i in 0..subs {
        Client::connect(o.addr(), &id(i), true, None, proto)
            .await?
            .disconnect()
            .await;
        let mut c = Client::connect(o.addr(), &id(i), false, None, proto).await?;
        c.subscribe(&[(&filter, qos)]).await?;
        c.disconnect().await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let meter = CpuMeter::start(o.broker_pid);
    let payload = vec![b'x'; o.payload];
    let mut p = Client::connect(o.addr(), &format!("b{tag}-pp"), true, None, proto).await?;
    let t = Instant::now();
    let topic = |_| format!("bench/{tag}/persist/x");
    let acked = p
        .publish_many(o.messages, topic, qos, false, &payload, o.inflight)
        .await?;
    let enqueue_s = t.elapsed().as_secs_f64();
    p.disconnect().await;

    let t = Instant::now();
    let mut set = JoinSet::new();
    for i in 0..subs {
        let (addr, name, want) = (o.addr(), id(i), acked);
        set.spawn(async move {
            let mut c = Client::connect(addr, &name, false, None, proto).await?;
            let got = c.receive(want, Duration::from_secs(5)).await?;
            c.disconnect().await;
            Ok::<_, io::Error>(got)
        });
    }
    let mut received = 0u64;
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(got)) => received += got,
            Ok(Err(e)) => eprintln!("session: {e}"),
            Err(e) => eprintln!("session task: {e}"),
        }
    }
    let drain_s = t.elapsed().as_secs_f64();
    let cpu = meter.stop();
    for i in 0..subs {
        Client::connect(o.addr(), &id(i), true, None, proto)
            .await?
            .disconnect()
            .await;
    }
    let expected = acked * subs as u64;
    let mut r = Report::default();
    r.str("scenario", "persistent")
        .str("broker", o.label.clone())
        .int("protocol", proto.level())
        .int("qos", qos.into())
        .int("sessions", subs as u64)
        .int("messages", o.messages as u64)
        .int("acked", acked)
        .num("enqueue_s", enqueue_s)
        .num("enqueue_per_s", acked as f64 / enqueue_s.max(1e-9))
        .num("drain_s", drain_s)
        .num("msgs_per_s", received as f64 / drain_s.max(1e-9))
        .int("expected", expected)
        .int("received", received)
        .int("lost", expected.saturating_sub(received))
        .str(
            "zero_loss",
            if received >= expected { "ok" } else { "FAILED" },
        );
    r.cpu(&cpu, received);
    Ok(r)
}
