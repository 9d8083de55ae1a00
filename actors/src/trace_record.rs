//! The [`Record`] of a runtime trace's hop or event, and its two renderings: the JSON object
//! the API serves and the log line. A record is built on the session's thread, so it holds
//! shared strings (the message's topic, the client id) and typed details; the text is made
//! only when a reader serializes it or the trace log writer (trace_log.rs) writes its line.

use crate::codec::ProtocolVersion;
use crate::message::MessageId;
use crate::metrics::DropReason;
pub use crate::trace_clock::now_us;
use serde::{Serialize, Serializer};
use std::fmt::{self, Write as _};
use std::num::NonZeroU64;

/// One hop or event of a runtime trace, as the API sends it (one JSON object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Wall-clock time, microseconds since the Unix epoch.
    pub time_us: u64,
    /// The message's id (`msg=` in the log); none for connection events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<NonZeroU64>,
    /// What happened: received, matched, stored, queued, sent, acked, dropped, connect, ...
    pub hop: &'static str,
    /// Where in the broker it was made.
    pub actor: RecordedBy,
    /// The client concerned (the publisher for `received`, else the subscriber or the
    /// connecting client).
    pub client: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// Why a message was dropped or refused, why a connection ended, a CONNACK/SUBACK code
    /// (boxed: most records have none, and a record's size is what the ring moves).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Box<Reason>>,
    /// The rest, as in the log line (`pkid=3 dup=false`, `subscribers=2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// Set when this record is a failure (its `reason` says why); absent for every hop and
    /// event that went as asked, such as a CONNACK 0x00 or a granted subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// Where in the broker a [`Record`] was made (its `actor`: `session`, `router` or
/// `connection` in the JSON and the log line). `router` is the publisher's session matching
/// the message against the subscriptions, apart from its other hops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordedBy {
    Session,
    Router,
    Connection,
}

impl RecordedBy {
    pub fn name(self) -> &'static str {
        match self {
            RecordedBy::Session => "session",
            RecordedBy::Router => "router",
            RecordedBy::Connection => "connection",
        }
    }
}

pub use crate::trace_text::Text;

/// What kind of failure a [`Record`] is, so that a reader (the dashboard) need not guess it
/// from the hop's name or the reason's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A message the broker did not deliver (to this client): queue full, expired, too large
    /// for the client, QoS 0 for an offline session.
    Dropped,
    /// A request the rules refused: a publish or receive not authorized, a publish into
    /// `$SYS`, a subscription refused, a CONNACK refusing the connection.
    Denied,
}

impl Outcome {
    /// The outcome of a message dropped for `reason`.
    pub fn of(reason: DropReason) -> Outcome {
        match reason {
            DropReason::NotAuthorized | DropReason::SysTopicDenied => Outcome::Denied,
            DropReason::QueueFull
            | DropReason::Qos0Offline
            | DropReason::Expired
            | DropReason::PacketTooLarge => Outcome::Dropped,
        }
    }
}

/// A record's `reason`, a string in the JSON and the log line.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Its name (`queue_full`).
    Drop(DropReason),
    /// A CONNACK code, `0x87`.
    Code(u8),
    Text(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Drop(r) => f.write_str(r.name()),
            Reason::Code(c) => write!(f, "0x{c:02x}"),
            Reason::Text(t) => f.write_str(t),
        }
    }
}

/// A record's `detail`, a string of `key=value` words in the JSON and the log line.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    /// `retain=false bytes=4 via=publish protocol=5.0` (no protocol for `$SYS` messages).
    Received {
        retain: bool,
        bytes: usize,
        via: &'static str,
        protocol: Option<ProtocolVersion>,
    },
    /// `subscribers=2 clients=["lamp", "tv"]`, the clients listed only when few: `clients`
    /// holds their ids ([`client_list`]), so that a record holds no string of a session.
    Matched {
        subscribers: u32,
        clients: Option<Text>,
    },
    /// `pkid=1 dup=false protocol=5.0`, or `protocol=5.0` at QoS 0.
    Sent {
        pkid: Option<u16>,
        dup: bool,
        protocol: ProtocolVersion,
    },
    /// `pkid=1 by=PUBACK`.
    Acked { pkid: u16, by: &'static str },
    /// `pkid=1`.
    Pkid(u16),
    /// `pkid=1 resent=true`: a PUBREL sent again after a reconnect.
    Resent(u16),
    /// `evicted=2`: older messages this one pushed out of a full queue.
    Evicted(usize),
    /// `evicted_by=9`: the message that pushed this one out.
    EvictedBy(MessageId),
    /// Anything else (the connection events, built off the message path).
    Text(String),
}

impl Detail {
    /// Appends the text to `buf`: integers and words pushed, no formatting machinery (the
    /// trace log writer writes one per record).
    pub fn write_to(&self, buf: &mut String) {
        match self {
            Detail::Received {
                retain,
                bytes,
                via,
                protocol,
            } => {
                push_bool(buf, "retain=", *retain);
                push_int(buf, " bytes=", *bytes as u64);
                buf.push_str(" via=");
                buf.push_str(via);
                if let Some(p) = protocol {
                    let _ = write!(buf, " protocol={p}");
                }
            }
            Detail::Matched {
                subscribers,
                clients,
            } => {
                push_int(buf, "subscribers=", *subscribers as u64);
                if let Some(clients) = clients {
                    buf.push_str(" clients=");
                    write_client_list(buf, *subscribers, clients);
                }
            }
            Detail::Sent {
                pkid,
                dup,
                protocol,
            } => {
                if let Some(pkid) = pkid {
                    push_int(buf, "pkid=", *pkid as u64);
                    push_bool(buf, " dup=", *dup);
                    buf.push(' ');
                }
                let _ = write!(buf, "protocol={protocol}");
            }
            Detail::Acked { pkid, by } => {
                push_int(buf, "pkid=", *pkid as u64);
                buf.push_str(" by=");
                buf.push_str(by);
            }
            Detail::Pkid(pkid) => push_int(buf, "pkid=", *pkid as u64),
            Detail::Resent(pkid) => {
                push_int(buf, "pkid=", *pkid as u64);
                buf.push_str(" resent=true");
            }
            Detail::Evicted(n) => push_int(buf, "evicted=", *n as u64),
            Detail::EvictedBy(id) => push_int(buf, "evicted_by=", id.get()),
            Detail::Text(t) => buf.push_str(t),
        }
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        self.write_to(&mut text);
        f.write_str(&text)
    }
}

/// `key` and `n` in decimal.
pub(crate) fn push_int(buf: &mut String, key: &str, n: u64) {
    buf.push_str(key);
    buf.push_str(itoa::Buffer::new().format(n));
}

fn push_bool(buf: &mut String, key: &str, b: bool) {
    buf.push_str(key);
    buf.push_str(if b { "true" } else { "false" });
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Record {
    /// A record of `hop` by `actor` for `client`, stamped now (its one clock read).
    #[inline]
    pub fn new(hop: &'static str, actor: RecordedBy, client: &str) -> Record {
        Record {
            time_us: now_us(),
            hop,
            actor,
            client: Text::new(client),
            ..Record::empty()
        }
    }

    /// A record with nothing in it yet: a ring's place before its first record.
    pub(crate) fn empty() -> Record {
        Record {
            time_us: 0,
            msg: None,
            hop: "",
            actor: RecordedBy::Session,
            client: Text::default(),
            topic: None,
            qos: None,
            reason: None,
            detail: None,
            outcome: None,
        }
    }

    /// Makes this record, where it lies (a ring's place), the record `head` says, stamped
    /// `time_us`, with no `qos`, `reason`, `detail` or `outcome` yet. The strings are copied
    /// into the space the record has: a record built apart and moved in would read back, to
    /// move them, the bytes its strings' copies had just written, and wait for those stores.
    #[inline(always)]
    pub fn reset(&mut self, head: Head<'_>, time_us: u64) {
        self.time_us = time_us;
        self.msg = head.msg;
        self.hop = head.hop;
        self.actor = head.actor;
        self.client.set(head.client);
        match (head.topic, &mut self.topic) {
            (Some(topic), Some(text)) => text.set(topic),
            (topic, text) => *text = topic.map(Text::new),
        }
        self.qos = None;
        self.reason = None;
        self.detail = None;
        self.outcome = None;
    }
}

/// What every record of a message's hop has (see [`Record::reset`]).
#[derive(Clone, Copy, Debug)]
pub struct Head<'a> {
    pub msg: Option<NonZeroU64>,
    pub hop: &'static str,
    pub actor: RecordedBy,
    pub client: &'a str,
    pub topic: Option<&'a str>,
}

/// Client ids as a `matched` record keeps them: joined by NUL, which no client id holds
/// [MQTT-1.5.4-2], so that a traced message's record costs a copy of the names; they are
/// written as a list (`["lamp", "tv"]`, as `{:?}` writes one) only when the record is read or
/// logged ([`write_client_list`]).
pub fn client_list<'a>(mut names: impl Iterator<Item = &'a str>) -> Text {
    let mut list = Text::new(names.next().unwrap_or_default());
    for name in names {
        list.push_str("\0");
        list.push_str(name);
    }
    list
}

/// Appends the `n` names of a [`client_list`] to `buf` as a list, `["lamp", "tv"]`.
fn write_client_list(buf: &mut String, n: u32, list: &str) {
    buf.push('[');
    for (i, name) in list.split('\0').take(n as usize).enumerate() {
        push_quoted(buf, if i == 0 { "" } else { ", " }, name);
    }
    buf.push(']');
}

/// Needs `s` no escaping in a `{:?}` quote?
fn plain(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `s` quoted as `{:?}` quotes it; the usual client id or topic (printable ASCII, no quote or
/// backslash) without the escaping's work per character.
fn push_quoted(buf: &mut impl fmt::Write, key: &str, s: &str) {
    // Writing into a `String` or a `Text` cannot fail.
    let _ = buf.write_str(key);
    if plain(s) {
        let _ = buf.write_char('"');
        let _ = buf.write_str(s);
        let _ = buf.write_char('"');
    } else {
        let _ = write!(buf, "{s:?}");
    }
}

/// A record as a log line: `msg=7 sent client="lamp" topic="a/b" qos=1 pkid=1 ...`, the
/// same words as a `[trace]` line.
pub(crate) struct LogLine<'a>(pub(crate) &'a Record);

impl LogLine<'_> {
    /// Appends the line (without its end) to `buf`, as [`Detail::write_to`] does.
    pub(crate) fn write_to(&self, buf: &mut String) {
        let r = self.0;
        if let Some(id) = r.msg {
            push_int(buf, "msg=", id.get());
            buf.push(' ');
        }
        buf.push_str(r.hop);
        push_quoted(buf, " client=", &r.client);
        buf.push_str(" actor=");
        buf.push_str(r.actor.name());
        if let Some(t) = &r.topic {
            push_quoted(buf, " topic=", t);
        }
        if let Some(q) = r.qos {
            push_int(buf, " qos=", q as u64);
        }
        if let Some(why) = &r.reason {
            let _ = write!(buf, " reason={why}");
        }
        if let Some(d) = &r.detail {
            buf.push(' ');
            d.write_to(buf);
        }
    }
}

impl fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = String::with_capacity(160);
        self.write_to(&mut line);
        f.write_str(&line)
    }
}
#[cfg(test)]
#[path = "trace_record_tests.rs"]
mod tests;
