//! What runtime traces select (trace_live.rs runs them): the [`Selector`] a trace is started
//! with, and [`Active`], the snapshot of the running traces that the hot path matches a
//! client id or a topic against.

use crate::trace_sink::LiveTrace;
use foldhash::HashMap;
use std::sync::Arc;

/// What a runtime trace follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// One client id: its connection events, its publishes and the deliveries to it.
    Client(String),
    /// An MQTT topic filter: the messages whose topic it matches, hop by hop.
    Topic(String),
    /// The clients logged in with this username: those connected when the trace starts, and
    /// those that connect with it later.
    Username(String),
    /// The clients connected from this address (an IP, any port, or `ip:port`): those connected
    /// when the trace starts, and those that connect from it later.
    Address(String),
}

impl Selector {
    /// `("client", "hall-switch")`, as in the API's request and listing.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Selector::Client(s) => ("client", s),
            Selector::Topic(s) => ("topic", s),
            Selector::Username(s) => ("username", s),
            Selector::Address(s) => ("address", s),
        }
    }

    /// Does this trace select the connection of `client`, logged in as `username`, from
    /// `peer` (`ip:port`)?
    pub fn selects_connection(&self, client: &str, username: Option<&str>, peer: &str) -> bool {
        match self {
            Selector::Client(c) => c == client,
            Selector::Topic(_) => false,
            Selector::Username(u) => username == Some(u.as_str()),
            Selector::Address(a) => peer == a || host(peer) == a.trim_matches(['[', ']']),
        }
    }
}

/// The address part of `ip:port` or `[ipv6]:port`.
fn host(peer: &str) -> &str {
    match peer.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.trim_matches(['[', ']']),
        _ => peer,
    }
}

/// The active traces, as one consistent snapshot for the hot path.
#[derive(Default)]
pub(crate) struct Active {
    pub(crate) traces: Vec<Arc<LiveTrace>>,
    /// Client id → bits of the traces selecting it (client traces, and clients that connected
    /// with a traced username or address). Looked up at each hop of an untraced delivery
    /// while any trace runs, hence foldhash (seeded per process).
    pub(crate) clients: HashMap<String, u32>,
    /// (filter, literal prefix, bit) of the topic traces.
    pub(crate) topics: Vec<(String, String, u32)>,
}

impl Active {
    pub(crate) fn client_mask(&self, client: &str) -> u32 {
        if self.clients.is_empty() {
            return 0;
        }
        self.clients.get(client).copied().unwrap_or(0)
    }

    pub(crate) fn topic_mask(&self, topic: &str) -> u32 {
        self.topics
            .iter()
            .filter(|(f, prefix, _)| {
                topic.starts_with(prefix.as_str()) && crate::topic::matches(f, topic)
            })
            .fold(0, |m, (_, _, bit)| m | bit)
    }
}
