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

use crate::codec::{ProtocolVersion, Publish, QoS};
use crate::config::BrokerConfig;
use crate::delivery::{Delivery, Offer, Resend};
use crate::message::{Message, MessageId, TraceContext};
use crate::metrics::DropReason;
use crate::topic;
use crate::topics::messages::Matched;
use crate::trace_hops as live;
use crate::trace_live::LiveTraces;
use std::collections::HashSet;

/// The log target of every trace line; `[trace]` being set turns it on at INFO.
pub const TARGET: &str = "courtier::trace";

/// Subscriber client ids listed in a `matched` line up to this many subscribers (beyond it,
/// only the count: a traced topic with 10,000 subscribers must not log a 300 KB line).
const MAX_LISTED: usize = 10;

/// Which messages are traced: `[trace] topics` (MQTT topic filters, wildcards allowed) and
/// `[trace] clients` (client ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFilter {
    /// (filter, literal prefix): every topic the filter matches starts with the prefix, so
    /// most topics are rejected by one short comparison before [`topic::matches`] runs.
    topics: Vec<(String, String)>,
    clients: HashSet<String>,
}

/// The part of `filter` that every matching topic starts with: up to the first wildcard, and
/// for a `#` not the `/` before it (`"a/#"` matches `"a"`). Without wildcards, the filter.
pub(crate) fn literal_prefix(filter: &str) -> String {
    match filter.find(['+', '#']) {
        None => filter.to_owned(),
        Some(i) if filter[i..].starts_with('#') => filter[..i]
            .strip_suffix('/')
            .unwrap_or(&filter[..i])
            .to_owned(),
        Some(i) => filter[..i].to_owned(),
    }
}

impl TraceFilter {
    /// `None` when both lists are empty: tracing is off. The filters are expected to be valid
    /// (the configuration loader checks them with [`topic::validate_topic_filter`]); an invalid
    /// one simply matches nothing useful, it never panics.
    pub fn new(topics: Vec<String>, clients: Vec<String>) -> Option<TraceFilter> {
        if topics.is_empty() && clients.is_empty() {
            return None;
        }
        Some(TraceFilter {
            topics: topics
                .into_iter()
                .map(|f| {
                    let prefix = literal_prefix(&f);
                    (f, prefix)
                })
                .collect(),
            clients: clients.into_iter().collect(),
        })
    }

    /// Is this client's traffic (its publishes, deliveries to it) traced?
    pub fn traces_client(&self, client: &str) -> bool {
        self.clients.contains(client)
    }

    /// Is a message published by `client` to `topic` traced? Topic filters follow the
    /// subscription rules, [MQTT-4.7.2-1] included: `#` does not trace `$SYS/...`.
    pub fn traces(&self, client: &str, topic: &str) -> bool {
        self.traces_client(client)
            || self
                .topics
                .iter()
                .any(|(f, prefix)| topic.starts_with(prefix.as_str()) && topic::matches(f, topic))
    }
}

/// The trace context of a message entering the broker (a PUBLISH, a Will) from `client`:
/// whether it is traced is decided here, once. Log its `received` hop with [`received`] once
/// the message is built.
#[inline(always)]
///
/// `client_live`: the runtime traces selecting the publisher (its session's
/// [`ClientMask`](crate::trace_live::ClientMask); 0 for none or no publisher).
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
    }
}

/// The `received` hop of a message in a runtime trace (see [`received`] for the log's).
#[inline(always)]
pub fn received_live(
    cfg: &BrokerConfig,
    msg: &Message,
    via: &str,
    protocol: Option<ProtocolVersion>,
) {
    if msg.trace.live != 0 {
        live::received(&cfg.live, msg, via, protocol);
    }
}

/// The `received` hop of a message from [`on_entry`], if traced; `via` says how it entered
/// ("publish", "will").
#[inline(always)]
/// `protocol` is the publisher's (`None` for the broker's own `$SYS` messages), so a trace
/// shows whether the message came with 5.0 properties.
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
    client: &str,
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
        live::denied(&cfg.live, client, protocol, p, reason.name());
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

/// A delivery is handed to the writer; `protocol` is the subscriber's (a 3.1.1 subscriber
/// gets the message without its 5.0 properties).
#[inline(always)]
///
/// `sub`, here and in the other hooks of a subscriber's side: the runtime traces selecting
/// this client (its session's [`ClientMask`](crate::trace_live::ClientMask)).
pub fn on_sent(
    cfg: &BrokerConfig,
    client: &str,
    protocol: ProtocolVersion,
    d: &Delivery,
    sub: u32,
) {
    if cfg.trace.is_some() {
        sent(cfg, client, protocol, d);
    }
    if d.msg.trace.live | sub != 0 {
        live::sent(&cfg.live, client, protocol, d, d.dup, sub);
    }
}

#[cold]
#[inline(never)]
fn sent(cfg: &BrokerConfig, client: &str, protocol: ProtocolVersion, d: &Delivery) {
    if !wants(cfg, client, &d.msg) {
        return;
    }
    let id = d.msg.id;
    match d.pkid {
        Some(pkid) => log::info!(
            target: TARGET,
            "msg={id} client={client:?} sent pkid={pkid} qos={} dup={} protocol={protocol}",
            d.qos as u8,
            d.dup
        ),
        None => log::info!(
            target: TARGET,
            "msg={id} client={client:?} sent qos=0 protocol={protocol}"
        ),
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
/// ids when few), and which of them got a stored copy (persistent sessions, QoS 1/2).
#[cold]
#[inline(never)]
pub fn matched(live: Option<&LiveTraces>, msg: &Message, matched: &[Matched], stored: &[bool]) {
    if let Some(live) = live.filter(|_| msg.trace.live != 0) {
        let clients: Vec<&str> = matched.iter().map(|m| &*m.subscriber.client_id).collect();
        live::matched(live, msg, &clients, stored);
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

/// What the session did with a delivery (its message's trace context and QoS) it was offered
/// (see `SessionState::offer`), including the traced messages `drop_oldest` evicted for it.
#[inline(always)]
pub fn on_offered(
    cfg: &BrokerConfig,
    client: &str,
    hop: (MessageId, TraceContext, QoS),
    held: Option<&Message>,
    offer: &Offer,
    sub: u32,
) {
    if let Some(filter) = cfg.trace.get() {
        offered(&filter, client, hop, offer);
    }
    // Its own hop if traced; the hops of traced messages it evicted, whatever it is.
    let evicted = matches!(offer, Offer::Evicted(_)) && cfg.live.mask() != 0;
    if held.is_some() || evicted {
        live::offered(&cfg.live, client, hop, held, offer, sub);
    }
}

/// The message of a delivery about to be offered, held for its runtime-trace hop when a
/// runtime trace wants it (`None`, and no reference count touched, otherwise).
#[inline(always)]
pub fn hold_for_live(d: &Delivery, sub: u32) -> Option<std::sync::Arc<Message>> {
    match d.msg.trace.live | sub {
        0 => None,
        _ => Some(d.msg.clone()),
    }
}

#[cold]
#[inline(never)]
fn offered(filter: &TraceFilter, client: &str, hop: (MessageId, TraceContext, QoS), offer: &Offer) {
    let (id, trace, qos) = hop;
    let client_traced = filter.traces_client(client);
    if let Offer::Evicted(evicted) = offer {
        for (_, old, _) in evicted.iter().filter(|(_, _, t)| t.traced || client_traced) {
            log::info!(
                target: TARGET,
                "msg={old} client={client:?} dropped reason=queue_full evicted_by={id}",
            );
        }
    }
    if !trace.traced && !client_traced {
        return;
    }
    let qos = qos as u8;
    match offer {
        Offer::Accepted => {
            log::info!(target: TARGET, "msg={id} client={client:?} queued qos={qos}")
        }
        Offer::Evicted(evicted) => log::info!(
            target: TARGET,
            "msg={id} client={client:?} queued qos={qos} evicted={}",
            evicted.len()
        ),
        Offer::Dropped(reason, _) => log::info!(
            target: TARGET,
            "msg={id} client={client:?} dropped reason={} qos={qos}",
            reason.name()
        ),
    }
}

/// A queued message was not sent to `client` after all (`reason`: expired, or larger than the
/// client's Maximum Packet Size): its `dropped` hop.
#[inline(always)]
pub fn on_undeliverable(
    cfg: &BrokerConfig,
    client: &str,
    msg: &Message,
    reason: DropReason,
    sub: u32,
) {
    if cfg.trace.is_some() {
        undeliverable(cfg, client, msg, reason);
    }
    if msg.trace.live | sub != 0 {
        let why = Some(reason.name());
        live::at_subscriber(&cfg.live, (client, sub), msg, "dropped", why, None);
    }
}

#[cold]
#[inline(never)]
fn undeliverable(cfg: &BrokerConfig, client: &str, msg: &Message, reason: DropReason) {
    if wants(cfg, client, msg) {
        let id = msg.id;
        log::info!(target: TARGET, "msg={id} client={client:?} dropped reason={}", reason.name());
    }
}

/// The subscriber finished a delivery: PUBACK (QoS 1) or PUBCOMP (QoS 2) received; `done` is
/// the in-flight entry it completed, in the state it was in.
#[inline(always)]
pub fn on_acked(cfg: &BrokerConfig, client: &str, msg: &Message, by: &str, pkid: u16, sub: u32) {
    if cfg.trace.is_some() {
        acked(cfg, client, msg, by, pkid);
    }
    if msg.trace.live | sub != 0 {
        let detail = Some(format!("pkid={pkid} by={by}"));
        live::at_subscriber(&cfg.live, (client, sub), msg, "acked", None, detail);
    }
}

#[cold]
#[inline(never)]
fn acked(cfg: &BrokerConfig, client: &str, msg: &Message, by: &str, pkid: u16) {
    if !wants(cfg, client, msg) {
        return;
    }
    let id = msg.id;
    log::info!(target: TARGET, "msg={id} client={client:?} acked pkid={pkid} by={by}");
}

/// The subscriber's PUBREC for a QoS 2 delivery (`released`: its in-flight entry, now waiting
/// for PUBCOMP): the `PUBREC` hop, and the `released` hop of the PUBREL answering it. Both are
/// logged here, where the message is known (the PUBREL goes out as a plain reply, behind the
/// answers to the client's earlier packets, see answer.rs). A repeated PUBREC, or one for an
/// unknown id, is answered but not traced: `SessionState::on_pubrec` returns no entry for it.
#[inline(always)]
pub fn on_pubrec(cfg: &BrokerConfig, client: &str, msg: &Message, pkid: u16, sub: u32) {
    if cfg.trace.is_some() {
        pubrec(cfg, client, msg, pkid);
    }
    if msg.trace.live | sub != 0 {
        let detail = || Some(format!("pkid={pkid}"));
        live::at_subscriber(&cfg.live, (client, sub), msg, "PUBREC", None, detail());
        live::at_subscriber(&cfg.live, (client, sub), msg, "released", None, detail());
    }
}

#[cold]
#[inline(never)]
fn pubrec(cfg: &BrokerConfig, client: &str, msg: &Message, pkid: u16) {
    if !wants(cfg, client, msg) {
        return;
    }
    let id = msg.id;
    log::info!(target: TARGET, "msg={id} client={client:?} received PUBREC pkid={pkid}");
    log::info!(target: TARGET, "msg={id} client={client:?} released pkid={pkid}");
}

/// A resend after a reconnect is handed to the writer (see `SessionState::resume`): a PUBLISH
/// with DUP, logged like a first `sent`, or a PUBREL, logged as `released ... resent=true`
/// (3.1.1 and 5.0 give PUBREL no DUP flag, and the encoder sets none). `trace` travels with the resend, so there is no
/// lookup of the in-flight entry, and an untraced resend costs the one branch on `cfg.trace`.
#[inline(always)]
pub fn on_resent(
    cfg: &BrokerConfig,
    client: &str,
    protocol: ProtocolVersion,
    resend: &Resend,
    sub: u32,
) {
    if let Some(filter) = cfg.trace.get() {
        resent(&filter, client, protocol, resend);
    }
    if resend.hop().1.live | sub != 0 {
        live::resent(&cfg.live, client, protocol, resend, sub);
    }
}

#[cold]
#[inline(never)]
fn resent(filter: &TraceFilter, client: &str, protocol: ProtocolVersion, resend: &Resend) {
    let (id, trace) = resend.hop();
    if !trace.traced && !filter.traces_client(client) {
        return;
    }
    match resend {
        Resend::Publish(d) => log::info!(
            target: TARGET,
            "msg={id} client={client:?} sent pkid={} qos={} dup={} protocol={protocol}",
            d.pkid.unwrap_or(0),
            d.qos as u8,
            d.dup
        ),
        Resend::PubRel(pkid, _) => log::info!(
            target: TARGET,
            "msg={id} client={client:?} released pkid={pkid} resent=true",
        ),
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
