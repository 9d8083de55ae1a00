//! The [`Record`] of a runtime trace's hop or event, and its two renderings: the JSON object
//! the API serves and the log line. A record is built on the session's thread, so it holds
//! shared strings (the message's topic, the client id) and typed details; the text is made
//! only when a reader serializes it or the trace log writer (trace_log.rs) writes its line.

use crate::codec::ProtocolVersion;
use crate::message::MessageId;
use crate::metrics::DropReason;
use bytestring::ByteString;
use serde::{Serialize, Serializer};
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

/// One hop or event of a runtime trace, as the API sends it (one JSON object).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Wall-clock time, microseconds since the Unix epoch.
    pub time_us: u64,
    /// The message's id (`msg=` in the log); none for connection events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg: Option<u64>,
    /// What happened: received, matched, stored, queued, sent, acked, dropped, connect, ...
    pub hop: &'static str,
    /// Which actor recorded it: session, router, connection, sys.
    pub actor: &'static str,
    /// The client concerned (the publisher for `received`, else the subscriber or the
    /// connecting client).
    #[serde(serialize_with = "as_str")]
    pub client: ByteString,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_as_str")]
    pub topic: Option<ByteString>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// Why a message was dropped or refused, why a connection ended, a CONNACK/SUBACK code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The rest, as in the log line (`pkid=3 dup=false`, `subscribers=2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// Set when this record is a failure (its `reason` says why); absent for every hop and
    /// event that went as asked, such as a CONNACK 0x00 or a granted subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

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
    /// `subscribers=2 clients=["lamp", "tv"]`, the clients listed only when few.
    Matched {
        subscribers: usize,
        clients: Option<Box<[ByteString]>>,
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

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Received {
                retain,
                bytes,
                via,
                protocol,
            } => {
                write!(f, "retain={retain} bytes={bytes} via={via}")?;
                match protocol {
                    Some(p) => write!(f, " protocol={p}"),
                    None => Ok(()),
                }
            }
            Detail::Matched {
                subscribers,
                clients,
            } => {
                write!(f, "subscribers={subscribers}")?;
                if let Some(clients) = clients {
                    let names: Vec<&str> = clients.iter().map(|c| &**c).collect();
                    write!(f, " clients={names:?}")?;
                }
                Ok(())
            }
            Detail::Sent {
                pkid: Some(pkid),
                dup,
                protocol,
            } => write!(f, "pkid={pkid} dup={dup} protocol={protocol}"),
            Detail::Sent { protocol, .. } => write!(f, "protocol={protocol}"),
            Detail::Acked { pkid, by } => write!(f, "pkid={pkid} by={by}"),
            Detail::Pkid(pkid) => write!(f, "pkid={pkid}"),
            Detail::Resent(pkid) => write!(f, "pkid={pkid} resent=true"),
            Detail::Evicted(n) => write!(f, "evicted={n}"),
            Detail::EvictedBy(id) => write!(f, "evicted_by={id}"),
            Detail::Text(t) => f.write_str(t),
        }
    }
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

fn as_str<S: Serializer>(v: &ByteString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v)
}

fn opt_as_str<S: Serializer>(v: &Option<ByteString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v),
        None => s.serialize_none(),
    }
}

impl Record {
    /// A record of `hop` by `actor` for `client`, stamped now (its one clock read).
    pub fn at(hop: &'static str, actor: &'static str, client: ByteString) -> Record {
        Record {
            time_us: now_us(),
            msg: None,
            hop,
            actor,
            client,
            topic: None,
            qos: None,
            reason: None,
            detail: None,
            outcome: None,
        }
    }

    /// [`Record::at`] for a client id not held as a `ByteString` (connection events).
    pub fn new(hop: &'static str, actor: &'static str, client: &str) -> Record {
        Record::at(hop, actor, ByteString::from(client))
    }
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// `s` quoted as `{:?}` quotes it; the usual client id or topic (printable ASCII, no quote or
/// backslash) without the escaping's work per character.
fn quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        f.write_char('"')?;
        f.write_str(s)?;
        f.write_char('"')
    } else {
        write!(f, "{s:?}")
    }
}

/// A record as a log line: `msg=7 sent client="lamp" topic="a/b" qos=1 pkid=1 ...`, the
/// same words as a `[trace]` line.
pub(crate) struct LogLine<'a>(pub(crate) &'a Record);

impl fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        if let Some(id) = r.msg {
            write!(f, "msg={id} ")?;
        }
        write!(f, "{} client=", r.hop)?;
        quoted(f, &r.client)?;
        write!(f, " actor={}", r.actor)?;
        if let Some(t) = &r.topic {
            f.write_str(" topic=")?;
            quoted(f, t)?;
        }
        if let Some(q) = r.qos {
            write!(f, " qos={q}")?;
        }
        if let Some(why) = &r.reason {
            write!(f, " reason={why}")?;
        }
        if let Some(d) = &r.detail {
            write!(f, " {d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "trace_record_tests.rs"]
mod tests;
