//! The records of runtime traces (trace_live.rs): one per hop of a message in a running trace,
//! and the connection events of the clients a trace selects. Called from trace.rs's hooks
//! only when a runtime trace runs ([`LiveTraces::mask`] is not 0), so every function here is
//! cold and out of line.

use crate::codec::{ProtocolVersion, Publish, QoS};
use crate::config::BrokerConfig;
use crate::delivery::{Delivery, Offer, Resend};
use crate::message::{ClientId, Message, MessageId, TraceContext};
use crate::metrics::DropReason;
use crate::topics::messages::Matched;
use crate::trace_live::{Detail, LiveTraces, Outcome, Reason, Record, RecordedBy};
use crate::trace_record::{client_list, now_us, Head, Text};
use std::num::NonZeroU64;

/// Subscribers listed by client id in a `matched` record up to this many (beyond it, only the
/// count: a traced topic with 10,000 subscribers must not make a 300 KB record).
const MAX_LISTED: usize = 10;

/// The running traces that want a hop of a message in traces `msg_mask` at a subscriber
/// selected by traces `sub`.
fn mask(live: &LiveTraces, sub: u32, msg_mask: u32) -> u32 {
    (msg_mask | sub) & live.mask()
}

/// The record of `hop` of `msg` at `client`, made by a session (see [`Record::reset`]).
#[inline(always)]
fn hop<'a>(msg: &'a Message, hop: &'static str, client: &'a ClientId) -> Head<'a> {
    Head {
        msg: NonZeroU64::new(msg.id.get()),
        hop,
        actor: RecordedBy::Session,
        client,
        topic: Some(&msg.topic),
    }
}

#[cold]
#[inline(never)]
pub fn denied(
    live: &LiveTraces,
    client: &ClientId,
    protocol: ProtocolVersion,
    p: &Publish,
    why: DropReason,
) {
    let mask = live.entry_mask(client, &p.topic);
    if mask == 0 {
        return;
    }
    let id = MessageId::next().get();
    let base = Record {
        msg: NonZeroU64::new(id),
        topic: Some(Text::new(&p.topic)),
        qos: Some(p.qos as u8),
        ..Record::new("received", RecordedBy::Session, client)
    };
    live.emit(
        mask,
        Record {
            detail: Some(Detail::Received {
                retain: p.retain,
                bytes: p.payload.len(),
                via: "publish",
                protocol: Some(protocol),
            }),
            ..base.clone()
        },
    );
    live.emit(
        mask,
        Record {
            hop: "dropped",
            reason: Some(Box::new(Reason::Drop(why))),
            outcome: Some(Outcome::of(why)),
            ..base
        },
    );
}

/// The router matched a message in a runtime trace: its `received` record (how it entered,
/// from [`TraceContext`]) and its `matched` record (how many subscribers, which of them),
/// made together, the one stamped when the other is: a message is matched as soon as it is
/// received, in the same call, well within a record's microsecond; then a `stored` record for
/// each subscriber that got a stored copy.
#[cold]
#[inline(never)]
pub fn matched(live: &LiveTraces, msg: &Message, matched: &[Matched], stored: &[bool]) {
    let clients = (matched.len() <= MAX_LISTED)
        .then(|| client_list(matched.iter().map(|m| &*m.subscriber.client_id)));
    live.emit_two_with(
        msg.trace.live,
        |r| {
            r.reset(hop(msg, "received", &msg.origin), now_us());
            r.qos = Some(msg.qos as u8);
            r.detail = Some(Detail::Received {
                retain: msg.retain,
                bytes: msg.payload.len(),
                via: msg.trace.via.name(),
                protocol: msg.trace.protocol,
            });
        },
        |r, time_us| {
            let head = Head {
                actor: RecordedBy::Router,
                ..hop(msg, "matched", &msg.origin)
            };
            r.reset(head, time_us);
            r.detail = Some(Detail::Matched {
                subscribers: matched.len() as u32,
                clients,
            });
        },
    );
    for (m, _) in matched.iter().zip(stored).filter(|(_, s)| **s) {
        live.emit_with(msg.trace.live, |r| {
            let head = Head {
                actor: RecordedBy::Router,
                ..hop(msg, "stored", &m.subscriber.client_id)
            };
            r.reset(head, now_us());
        });
    }
}

#[cold]
#[inline(never)]
pub fn sent(
    live: &LiveTraces,
    client: &ClientId,
    protocol: ProtocolVersion,
    d: &Delivery,
    dup: bool,
    sub: u32,
) {
    let mask = mask(live, sub, d.msg.trace.live);
    if mask == 0 {
        return;
    }
    live.emit_with(mask, |r| {
        let head = Head {
            actor: RecordedBy::Connection,
            ..hop(&d.msg, "sent", client)
        };
        r.reset(head, now_us());
        r.qos = Some(d.qos as u8);
        r.detail = Some(Detail::Sent {
            pkid: d.pkid,
            dup,
            protocol,
        });
    });
}

#[cold]
#[inline(never)]
pub fn offered(
    live: &LiveTraces,
    client: &ClientId,
    (id, trace, qos): (MessageId, TraceContext, QoS),
    held: Option<&Message>,
    offer: &Offer,
    client_mask: u32,
) {
    if let Offer::Evicted(evicted) = offer {
        for (_, old, trace) in evicted {
            let mask = (trace.live | client_mask) & live.mask();
            if mask != 0 {
                live.emit(
                    mask,
                    Record {
                        msg: NonZeroU64::new(old.get()),
                        reason: Some(Box::new(Reason::Drop(DropReason::QueueFull))),
                        outcome: Some(Outcome::of(DropReason::QueueFull)),
                        detail: Some(Detail::EvictedBy(id)),
                        ..Record::new("dropped", RecordedBy::Session, client)
                    },
                );
            }
        }
    }
    let mask = (trace.live | client_mask) & live.mask();
    let Some(msg) = held.filter(|_| mask != 0) else {
        return;
    };
    live.emit_with(mask, |r| {
        match offer {
            Offer::Accepted => r.reset(hop(msg, "queued", client), now_us()),
            Offer::Evicted(evicted) => {
                r.reset(hop(msg, "queued", client), now_us());
                r.detail = Some(Detail::Evicted(evicted.len()));
            }
            Offer::Dropped(reason, _) => {
                r.reset(hop(msg, "dropped", client), now_us());
                r.reason = Some(Box::new(Reason::Drop(*reason)));
                r.outcome = Some(Outcome::of(*reason));
            }
        }
        r.qos = Some(qos as u8);
    });
}

/// `dropped` (with `reason`, its outcome), `acked`, `PUBREC`, `released`: a hop of `msg` at
/// subscriber `client`.
#[cold]
#[inline(never)]
pub fn at_subscriber(
    live: &LiveTraces,
    (client, sub): (&ClientId, u32),
    msg: &Message,
    name: &'static str,
    reason: Option<DropReason>,
    detail: Option<Detail>,
) {
    let mask = mask(live, sub, msg.trace.live);
    if mask != 0 {
        live.emit_with(mask, |r| {
            r.reset(hop(msg, name, client), now_us());
            r.reason = reason.map(|why| Box::new(Reason::Drop(why)));
            r.outcome = reason.map(Outcome::of);
            r.detail = detail;
        });
    }
}

#[cold]
#[inline(never)]
pub fn resent(
    live: &LiveTraces,
    client: &ClientId,
    protocol: ProtocolVersion,
    resend: &Resend,
    sub: u32,
) {
    match resend {
        Resend::Publish(d) => sent(live, client, protocol, d, d.dup, sub),
        Resend::PubRel(pkid, (id, trace)) => {
            let mask = mask(live, sub, trace.live);
            if mask != 0 {
                live.emit(
                    mask,
                    Record {
                        msg: NonZeroU64::new(id.get()),
                        detail: Some(Detail::Resent(*pkid)),
                        ..Record::new("released", RecordedBy::Session, client)
                    },
                );
            }
        }
    }
}

/// A connection event of `client` (`connect`, `connack`, `subscribe`, `take_over`,
/// `disconnect`, ...), recorded by the traces selecting it.
#[inline(always)]
pub fn event(
    cfg: &BrokerConfig,
    client: &str,
    name: &'static str,
    actor: RecordedBy,
    make: impl FnOnce(Record) -> Record,
) {
    if cfg.live.mask() != 0 {
        let mask = cfg.live.client_mask(client);
        if mask != 0 {
            cfg.live.emit(mask, make(Record::new(name, actor, client)));
        }
    }
}

/// A client finished CONNECT (`code`: its CONNACK's reason/return code): the username and
/// address traces learn its client id, and the traces selecting it record `connect` and
/// `connack`.
#[inline(always)]
pub fn on_connect(
    cfg: &BrokerConfig,
    client: &str,
    username: Option<&str>,
    peer: &str,
    code: u8,
    detail: impl FnOnce() -> String,
) {
    if cfg.live.mask() != 0 {
        connected(&cfg.live, client, username, peer, code, detail());
    }
}

#[cold]
#[inline(never)]
fn connected(
    live: &LiveTraces,
    client: &str,
    username: Option<&str>,
    peer: &str,
    code: u8,
    detail: String,
) {
    let mask = live.on_connect(client, username, peer);
    if mask == 0 {
        return;
    }
    live.emit(
        mask,
        Record {
            detail: Some(Detail::Text(detail)),
            ..Record::new("connect", RecordedBy::Connection, client)
        },
    );
    live.emit(
        mask,
        Record {
            reason: Some(Box::new(Reason::Code(code))),
            // 0x00: accepted, in 3.1.1 and 5.0 alike; any other code refuses the connection.
            outcome: (code != 0).then_some(Outcome::Denied),
            ..Record::new("connack", RecordedBy::Connection, client)
        },
    );
}
