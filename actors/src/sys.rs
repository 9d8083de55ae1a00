//! $SYS publisher: broker statistics as retained messages under `$SYS/broker/`, with Mosquitto's
//! topic names and meanings, every sys_interval. Clients cannot publish into `$SYS` (see the
//! session's PUBLISH handling).
//!
//! Values that live in other actors (the retained index) are fetched once per tick; load
//! averages are computed here, so every tick publishes one consistent snapshot.

use crate::codec::QoS;
use crate::message::Message;
use crate::metrics::Metrics;
use crate::process;
use crate::retain::{MatchRetained, RetainStore};
use crate::session::Router;
use crate::sys_load::{LoadAverage, LOAD_TOPICS, WINDOWS};
use crate::trace;
use crate::trace_config::ConfigTrace;
use actix::prelude::*;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Retained messages (including `$SYS`) and the bytes of their payloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetainedStats {
    pub count: u64,
    pub payload_bytes: u64,
}

/// Count the retained messages by asking the RetainStore for all of them: the index shares each
/// message by `Arc`, so this clones pointers, not payloads, and keeps the RetainStore free of
/// extra bookkeeping on its hot path.
pub async fn retained_stats(retain: &Addr<RetainStore>) -> RetainedStats {
    let filters = vec!["#".into(), "$SYS/#".into()];
    let lists = retain
        .send(MatchRetained { filters })
        .await
        .unwrap_or_default();
    let mut stats = RetainedStats::default();
    for m in lists.iter().flatten() {
        stats.count += 1;
        stats.payload_bytes += m.payload.len() as u64;
    }
    stats
}

/// What a tick knows besides the shared counters.
#[derive(Debug, Clone, Default)]
pub struct SysExtra {
    pub retained: RetainedStats,
    pub heap_current: Option<u64>,
    pub heap_maximum: Option<u64>,
    /// `$SYS/broker/load/<name>/<window>` -> value per minute.
    pub loads: Vec<(String, f64)>,
}

pub struct SysPublisher {
    router: Router,
    retain: Addr<RetainStore>,
    metrics: Arc<Metrics>,
    interval: Duration,
    loads: [LoadAverage; LOAD_TOPICS.len()],
    last_tick: Instant,
    heap_maximum: u64,
    /// `[trace]`: $SYS messages are traced only when a filter names them (`"#"` does not
    /// match `$SYS/...` [MQTT-4.7.2-1]).
    trace: Arc<ConfigTrace>,
}

/// The counters behind `LOAD_TOPICS`, in the same order.
fn load_counters(m: &Metrics) -> [u64; LOAD_TOPICS.len()] {
    [
        m.packets_received.load(Relaxed),
        m.packets_sent.load(Relaxed),
        m.publish_received.load(Relaxed),
        m.publish_sent.load(Relaxed),
        m.dropped_total(),
        m.bytes_received.load(Relaxed),
        m.bytes_sent.load(Relaxed),
        m.clients_connected_total.load(Relaxed),
        m.connections_total.load(Relaxed),
    ]
}

impl SysPublisher {
    pub fn new(
        router: Router,
        retain: Addr<RetainStore>,
        metrics: Arc<Metrics>,
        interval: Duration,
    ) -> Self {
        SysPublisher {
            router,
            retain,
            metrics,
            interval,
            loads: Default::default(),
            last_tick: Instant::now(),
            heap_maximum: 0,
            trace: Arc::default(),
        }
    }

    /// Trace the publications that `filter` matches (see trace.rs).
    pub fn with_trace(mut self, filter: Arc<ConfigTrace>) -> Self {
        self.trace = filter;
        self
    }

    /// The current values, as (topic, payload), in Mosquitto's formats.
    pub fn values(m: &Metrics, x: &SysExtra) -> Vec<(String, String)> {
        let connected = m.clients_connected.load(Relaxed).max(0);
        let total = m.sessions.load(Relaxed).max(connected);
        let queued = m.queued_messages.load(Relaxed).max(0) as u64;
        let stored = x.retained.count + queued;
        let n = |v: &std::sync::atomic::AtomicU64| v.load(Relaxed).to_string();
        let mut by_protocol: Vec<(String, String)> = m
            .clients_by_protocol()
            .iter()
            .map(|(p, n)| (format!("$SYS/broker/clients/protocol/{p}"), n.to_string()))
            .collect();
        let mut out: Vec<(&str, String)> = vec![
            ("uptime", format!("{} seconds", m.uptime_secs())),
            ("clients/connected", connected.to_string()),
            ("clients/active", connected.to_string()),
            ("clients/disconnected", (total - connected).to_string()),
            ("clients/inactive", (total - connected).to_string()),
            ("clients/total", total.to_string()),
            (
                "clients/maximum",
                m.clients_maximum.load(Relaxed).to_string(),
            ),
            ("clients/expired", n(&m.sessions_expired)),
            ("messages/received", n(&m.packets_received)),
            ("messages/sent", n(&m.packets_sent)),
            ("messages/stored", stored.to_string()),
            ("publish/messages/received", n(&m.publish_received)),
            ("publish/messages/sent", n(&m.publish_sent)),
            ("publish/messages/dropped", m.dropped_total().to_string()),
            (
                "publish/bytes/received",
                sum(&m.publish_in.bytes).to_string(),
            ),
            ("publish/bytes/sent", sum(&m.publish_out.bytes).to_string()),
            ("bytes/received", n(&m.bytes_received)),
            ("bytes/sent", n(&m.bytes_sent)),
            (
                "subscriptions/count",
                m.subscriptions.load(Relaxed).to_string(),
            ),
            (
                "shared_subscriptions/count",
                m.shared_subscriptions.load(Relaxed).to_string(),
            ),
            ("shared_subscriptions/deliveries", n(&m.shared_deliveries)),
            ("retained messages/count", x.retained.count.to_string()),
            ("store/messages/count", stored.to_string()),
            // Queued messages' payload bytes are not tracked yet: retained payloads only.
            ("store/messages/bytes", x.retained.payload_bytes.to_string()),
            ("tls/handshake_failures", n(&m.tls_handshake_failures)),
            ("store/corruptions", n(&m.store_corruptions)),
            // Courtier's own: panics caught in actor handlers, all kinds (supervision.rs).
            ("panics", m.panics_total().to_string()),
            ("store/write_errors", n(&m.store_write_errors)),
            ("store/wal_corruptions", n(&m.store_wal_corruptions)),
        ];
        if let (Some(cur), Some(max)) = (x.heap_current, x.heap_maximum) {
            out.push(("heap/current", cur.to_string()));
            out.push(("heap/maximum", max.to_string()));
        }
        let mut out: Vec<(String, String)> = out
            .into_iter()
            .map(|(t, v)| (format!("$SYS/broker/{t}"), v))
            .collect();
        for (topic, value) in &x.loads {
            out.push((format!("$SYS/broker/load/{topic}"), format!("{value:.2}")));
        }
        // Courtier's own: connected clients by protocol version (3.1, 3.1.1, 5.0).
        out.append(&mut by_protocol);
        out
    }

    fn publish(&self, ctx: &mut Context<Self>, topic: String, value: String) {
        let mut msg = Message::new(topic.into(), value.into(), QoS::AtMostOnce, true);
        if let Some(filter) = self.trace.get() {
            msg.trace.traced = filter.traces("", &msg.topic);
        }
        let msg = Arc::new(msg);
        trace::received(&msg, "sys", None);
        let routed = self.router.publish(&msg, None);
        ctx.spawn(
            async move {
                if let Err(e) = routed.completion().await {
                    log::warn!("$SYS retained store failed: {e}");
                }
            }
            .into_actor(self),
        );
    }

    fn update_loads(&mut self) -> Vec<(String, f64)> {
        let dt = self.last_tick.elapsed().as_secs_f64();
        self.last_tick = Instant::now();
        let mut out = Vec::new();
        for ((load, value), name) in self
            .loads
            .iter_mut()
            .zip(load_counters(&self.metrics))
            .zip(LOAD_TOPICS)
        {
            load.update(value, dt);
            for (avg, (_, window)) in load.averages().into_iter().zip(WINDOWS) {
                out.push((format!("{name}/{window}"), avg));
            }
        }
        out
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let loads = self.update_loads();
        let heap_current = process::heap_bytes();
        if let Some(h) = heap_current {
            self.heap_maximum = self.heap_maximum.max(h);
        }
        let heap_maximum = heap_current.map(|_| self.heap_maximum);
        let retain = self.retain.clone();
        let fut = async move { retained_stats(&retain).await }.into_actor(self);
        ctx.wait(fut.map(move |retained, act, ctx| {
            let extra = SysExtra {
                retained,
                heap_current,
                heap_maximum,
                loads,
            };
            for (topic, value) in Self::values(&act.metrics, &extra) {
                act.publish(ctx, topic, value);
            }
        }));
    }
}

fn sum(values: &[std::sync::atomic::AtomicU64]) -> u64 {
    values.iter().map(|v| v.load(Relaxed)).sum()
}

/// After a panic in a tick: the restart cancelled the interval, and `started` (run again)
/// sets it and publishes a fresh snapshot; the counters and load averages are kept.
impl Supervised for SysPublisher {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        crate::supervision::count_panic::<Self>(&self.metrics);
        log::warn!("$SYS publisher restarted after a panic");
    }
}

impl crate::supervision::Supervision for SysPublisher {
    const KIND: crate::supervision::ActorKind = crate::supervision::ActorKind::SysPublisher;
    const ON_STOP: crate::supervision::OnStop = crate::supervision::OnStop::End;
}

#[cfg(feature = "fault-injection")]
impl Handler<crate::supervision::InjectPanic> for SysPublisher {
    type Result = ();
    fn handle(&mut self, _: crate::supervision::InjectPanic, _ctx: &mut Context<Self>) {
        panic!("SysPublisher: injected panic");
    }
}

impl Actor for SysPublisher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Static values once, as Mosquitto does.
        let version = format!("courtier version {}", env!("CARGO_PKG_VERSION"));
        self.publish(ctx, "$SYS/broker/version".into(), version);
        self.tick(ctx);
        ctx.run_interval(self.interval, |act, ctx| act.tick(ctx));
    }
}
