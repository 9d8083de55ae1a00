//! Message-path traces: which messages are traced, and one INFO log line per hop.
//!
//! A message is traced when its topic matches one of `[trace] topics` or its publisher is one
//! of `[trace] clients`; that is decided once, when it enters the broker ([`on_entry`]), and
//! carried in its [`TraceContext`]. Deliveries *to* a client of `[trace] clients` are traced
//! too, from the subscriber's side ([`wants`]). Every line goes to the log target [`TARGET`]
//! at INFO and starts with `msg=<id>`, so `grep -w msg=<id>` shows one message's whole path:
//!
//! ```text
//! msg=7 received client="sensor" topic="home/door" qos=1 retain=false bytes=4 via=publish
//! msg=7 matched subscribers=1 clients=["lamp"]
//! msg=7 client="lamp" queued qos=1
//! msg=7 client="lamp" sent pkid=1 qos=1 dup=false
//! msg=7 client="lamp" acked pkid=1 by=PUBACK
//! ```
//!
//! A QoS 2 delivery has two more hops between `sent` and `acked ... by=PUBCOMP`: the client's
//! `received PUBREC pkid=1` and the broker's `released pkid=1` (its PUBREL). Resends after a
//! reconnect are hops too: `sent pkid=1 qos=1 dup=true` for an unacknowledged PUBLISH
//! [MQTT-4.4.0-1], `released pkid=1 resent=true` for a PUBREL; the resend queue carries each
//! one's [`TraceContext`] for that.
//!
//! With tracing off, `BrokerConfig::trace` is `None` and every hop is one branch on it (or on
//! the message's `traced` flag, which only a configured filter sets); the formatting functions
//! are out of line and cold, so the hot path carries no formatting code.
//!
//! The same hooks feed the runtime traces (trace_live.rs): the message's `TraceContext::live`
//! bits and, at a subscriber, the traces selecting it (`sub`) decide, and trace_hops.rs builds
//! the records; with no runtime trace running that is one more branch per hop.

//!
//! trace_filter.rs holds the `[trace]` filters, trace_delivery.rs the hooks of a delivery's
//! hops at the subscriber's session.

use crate::codec::{ProtocolVersion, Publish};
use crate::config::BrokerConfig;
use crate::message::{ClientId, Message, MessageId, TraceContext};
use crate::metrics::DropReason;
use crate::topics::messages::Matched;
use crate::trace_hops as live;
use crate::trace_live::LiveTraces;

pub use crate::trace_delivery::{
    hold_for_live, on_acked, on_offered, on_pubrec, on_resent, on_sent, on_undeliverable,
};
pub(crate) use crate::trace_filter::literal_prefix;
pub use crate::trace_filter::TraceFilter;

/// The log target of every trace line; `[trace]` being set turns it on at INFO.
pub const TARGET: &str = "courtier::trace";

/// Subscriber client ids listed in a `matched` line up to this many subscribers (beyond it,
/// only the count: a traced topic with 10,000 subscribers must not log a 300 KB line).
const MAX_LISTED: usize = 10;

/// The trace context of a message entering the broker (a PUBLISH, a Will) from `client`:
/// whether it is traced is decided here, once. Log its `received` hop with [`received`] once
/// the message is built.
///
/// `client_live`: the runtime traces selecting the publisher (its session's
/// [`ClientMask`](crate::trace_live::ClientMask); 0 for none or no publisher).
#[inline(always)]
pub fn on_entry(cfg: &BrokerConfig, client: &str, topic: &str, client_live: u32) -> TraceContext {
    TraceContext {
        traced: cfg
            .trace
            .get()
            .is_some_and(|filter| filter.traces(client, topic)),
        live: match cfg.live.mask() {
            0 => 0,
            _ => cfg.live.entry_mask_with(client_live, topic),
        },
        ..TraceContext::default()
    }
}

/// The `received` hop of a message from [`on_entry`], if traced; `via` says how it entered
/// ("publish", "will").
/// `protocol` is the publisher's (`None` for the broker's own `$SYS` messages), so a trace
/// shows whether the message came with 5.0 properties.
#[inline(always)]
pub fn received(msg: &Message, via: &str, protocol: Option<ProtocolVersion>) {
    if msg.trace.traced {
        log_received(msg, via, protocol);
    }
}

/// A PUBLISH refused before it became a message (a client writing into `$SYS`): if it would
/// have been traced, it gets an id and its `received` and `dropped` hops, so a traced client's
/// denials show in its trace.
#[inline(always)]
pub fn on_denied(
    cfg: &BrokerConfig,
    client: &ClientId,
    protocol: ProtocolVersion,
    p: &Publish,
    reason: DropReason,
) {
    if let Some(filter) = cfg.trace.get() {
        if filter.traces(client, &p.topic) {
            denied(client, protocol, p, reason.name());
        }
    }
    if cfg.live.mask() != 0 {
        live::denied(&cfg.live, client, protocol, p, reason);
    }
}

/// Should this session record hops of `msg`? The message is traced, or this session's client
/// is.
#[inline(always)]
pub fn wants(cfg: &BrokerConfig, client: &str, msg: &Message) -> bool {
    match cfg.trace.get() {
        None => false,
        Some(filter) => msg.trace.traced || filter.traces_client(client),
    }
}

#[cold]
#[inline(never)]
fn log_received(msg: &Message, via: &str, protocol: Option<ProtocolVersion>) {
    let protocol = protocol.map_or(String::new(), |p| format!(" protocol={p}"));
    log::info!(
        target: TARGET,
        "msg={} received client={:?} topic={:?} qos={} retain={} bytes={} via={via}{protocol}",
        msg.id,
        &*msg.origin,
        &*msg.topic,
        msg.qos as u8,
        msg.retain,
        msg.payload.len()
    );
}

#[cold]
#[inline(never)]
fn denied(client: &str, protocol: ProtocolVersion, p: &Publish, reason: &str) {
    let id = MessageId::next();
    log::info!(
        target: TARGET,
        "msg={id} received client={client:?} topic={:?} qos={} retain={} bytes={} via=publish protocol={protocol}",
        &*p.topic,
        p.qos as u8,
        p.retain,
        p.payload.len()
    );
    log::info!(target: TARGET, "msg={id} dropped reason={reason}");
}

/// The publisher's router matched a traced message: how many subscribers (with their client
/// ids when few), and which of them got a stored copy (persistent sessions, QoS 1/2). A
/// runtime trace records the message's `received` here too, with the `matched` (see
/// trace_hops.rs); the `[trace]` log has its line from [`received`].
#[cold]
#[inline(never)]
pub fn matched(live: Option<&LiveTraces>, msg: &Message, matched: &[Matched], stored: &[bool]) {
    if let Some(live) = live.filter(|_| msg.trace.live != 0) {
        live::matched(live, msg, matched, stored);
    }
    if !msg.trace.traced {
        return;
    }
    let id = msg.id;
    if matched.len() <= MAX_LISTED {
        let clients: Vec<&str> = matched.iter().map(|m| &*m.subscriber.client_id).collect();
        log::info!(target: TARGET, "msg={id} matched subscribers={} clients={clients:?}", matched.len());
    } else {
        log::info!(target: TARGET, "msg={id} matched subscribers={}", matched.len());
    }
    for (m, _) in matched.iter().zip(stored).filter(|(_, s)| **s) {
        log::info!(
            target: TARGET,
            "msg={id} client={:?} stored qos={}",
            &*m.subscriber.client_id,
            msg.qos.min(m.qos) as u8
        );
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
