//! $SYS publisher: broker statistics as retained messages under `$SYS/broker/`, with Mosquitto's
//! topic names and meanings, every sys_interval. Clients cannot publish into `$SYS` (see the
//! session's PUBLISH handling).

use crate::codec::QoS;
use crate::message::Message;
use crate::metrics::Metrics;
use crate::session::Router;
use actix::prelude::*;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

pub struct SysPublisher {
    router: Router,
    metrics: Arc<Metrics>,
    interval: Duration,
}

impl SysPublisher {
    pub fn new(router: Router, metrics: Arc<Metrics>, interval: Duration) -> Self {
        SysPublisher {
            router,
            metrics,
            interval,
        }
    }

    /// The current values, as (topic, payload).
    pub fn values(m: &Metrics) -> Vec<(&'static str, String)> {
        let connected = m.clients_connected.load(Relaxed).max(0);
        let total = m.sessions.load(Relaxed).max(connected);
        vec![
            ("$SYS/broker/uptime", format!("{} seconds", m.uptime_secs())),
            ("$SYS/broker/clients/connected", connected.to_string()),
            ("$SYS/broker/clients/active", connected.to_string()),
            (
                "$SYS/broker/clients/disconnected",
                (total - connected).to_string(),
            ),
            (
                "$SYS/broker/clients/inactive",
                (total - connected).to_string(),
            ),
            ("$SYS/broker/clients/total", total.to_string()),
            (
                "$SYS/broker/clients/maximum",
                m.clients_maximum.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/messages/received",
                m.packets_received.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/messages/sent",
                m.packets_sent.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/publish/messages/received",
                m.publish_received.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/publish/messages/sent",
                m.publish_sent.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/publish/messages/dropped",
                m.dropped_total().to_string(),
            ),
            (
                "$SYS/broker/bytes/received",
                m.bytes_received.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/bytes/sent",
                m.bytes_sent.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/subscriptions/count",
                m.subscriptions.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/retained messages/count",
                m.retained_messages.load(Relaxed).to_string(),
            ),
            (
                "$SYS/broker/store/messages/count",
                m.queued_messages.load(Relaxed).max(0).to_string(),
            ),
        ]
    }

    fn publish(&self, ctx: &mut Context<Self>, topic: &'static str, value: String) {
        let msg = Arc::new(Message::new(
            topic.into(),
            value.into(),
            QoS::AtMostOnce,
            true,
        ));
        let router = self.router.clone();
        ctx.spawn(
            async move {
                if let Err(e) = router.publish(msg).await {
                    log::warn!("$SYS publish failed: {e}");
                }
            }
            .into_actor(self),
        );
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        for (topic, value) in Self::values(&self.metrics) {
            self.publish(ctx, topic, value);
        }
    }
}

impl Actor for SysPublisher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Static values once, as Mosquitto does.
        let version = format!("courtier version {}", env!("CARGO_PKG_VERSION"));
        self.publish(ctx, "$SYS/broker/version", version);
        self.tick(ctx);
        ctx.run_interval(self.interval, |act, ctx| act.tick(ctx));
    }
}
