//! The `[trace]` and runtime-trace hooks of a delivery's hops at the subscriber's session:
//! queued or dropped when offered, sent, acknowledged, PUBREC and PUBREL, resent after a
//! reconnect. Each is one branch when tracing is off; the log lines are cold and out of line
//! (see trace.rs for the line format).

use crate::codec::{ProtocolVersion, QoS};
use crate::config::BrokerConfig;
use crate::delivery::{Delivery, Offer, Resend};
use crate::message::{ClientId, Message, MessageId, TraceContext};
use crate::metrics::DropReason;
use crate::trace::{wants, TraceFilter, TARGET};
use crate::trace_hops as live;
use crate::trace_live::Detail;

/// A delivery is handed to the writer; `protocol` is the subscriber's (a 3.1.1 subscriber
/// gets the message without its 5.0 properties).
///
/// `sub`, here and in the other hooks of a subscriber's side: the runtime traces selecting
/// this client (its session's [`ClientMask`](crate::trace_live::ClientMask)).
#[inline(always)]
pub fn on_sent(
    cfg: &BrokerConfig,
    client: &ClientId,
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

/// What the session did with a delivery (its message's trace context and QoS) it was offered
/// (see `SessionState::offer`), including the traced messages `drop_oldest` evicted for it.
#[inline(always)]
pub fn on_offered(
    cfg: &BrokerConfig,
    client: &ClientId,
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
    client: &ClientId,
    msg: &Message,
    reason: DropReason,
    sub: u32,
) {
    if cfg.trace.is_some() {
        undeliverable(cfg, client, msg, reason);
    }
    if msg.trace.live | sub != 0 {
        let why = Some(reason);
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
pub fn on_acked(
    cfg: &BrokerConfig,
    client: &ClientId,
    msg: &Message,
    by: &'static str,
    pkid: u16,
    sub: u32,
) {
    if cfg.trace.is_some() {
        acked(cfg, client, msg, by, pkid);
    }
    if msg.trace.live | sub != 0 {
        let detail = Some(Detail::Acked { pkid, by });
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
pub fn on_pubrec(cfg: &BrokerConfig, client: &ClientId, msg: &Message, pkid: u16, sub: u32) {
    if cfg.trace.is_some() {
        pubrec(cfg, client, msg, pkid);
    }
    if msg.trace.live | sub != 0 {
        let detail = || Some(Detail::Pkid(pkid));
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
    client: &ClientId,
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
