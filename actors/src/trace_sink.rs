//! One runtime trace's output (see trace_live.rs for which traces run and what they select):
//! the [`Record`] of a hop or event, the ring of the last [`RING_RECORDS`] records kept for
//! download, and the bounded channels of its live readers.

use crate::metrics::DropReason;
use crate::trace_live::{Selector, RING_RECORDS, STREAM_BUFFER};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// One hop or event of a runtime trace, as the API sends it (one JSON object).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
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
    pub client: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<u8>,
    /// Why a message was dropped or refused, why a connection ended, a CONNACK/SUBACK code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The rest, as in the log line (`pkid=3 dup=false`, `subscribers=2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Set when this record is a failure (its `reason` says why); absent for every hop and
    /// event that went as asked, such as a CONNACK 0x00 or a granted subscription.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// What kind of failure a [`Record`] is, so that a reader (the dashboard) need not guess it
/// from the hop's name or the reason's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
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

impl Record {
    /// A record of `hop` by `actor` for `client`, stamped now.
    pub fn new(hop: &'static str, actor: &'static str, client: &str) -> Record {
        Record {
            time_us: now_us(),
            msg: None,
            hop,
            actor,
            client: client.to_owned(),
            topic: None,
            qos: None,
            reason: None,
            detail: None,
            outcome: None,
        }
    }
}

pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A record as a log line: `msg=7 sent client="lamp" topic="a/b" qos=1 pkid=1 ...`, the
/// same words as a `[trace]` line.
pub(crate) struct LogLine<'a>(pub(crate) &'a Record);

impl std::fmt::Display for LogLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.0;
        if let Some(id) = r.msg {
            write!(f, "msg={id} ")?;
        }
        write!(f, "{} client={:?} actor={}", r.hop, r.client, r.actor)?;
        if let Some(t) = &r.topic {
            write!(f, " topic={t:?}")?;
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

/// A live reader of one trace: the channel's receiving end, and how many records it lost
/// since it last looked.
pub struct Reader {
    pub rx: mpsc::Receiver<Arc<Record>>,
    pub lost: Arc<AtomicU64>,
}

struct Feed {
    tx: mpsc::Sender<Arc<Record>>,
    lost: Arc<AtomicU64>,
}

/// One runtime trace.
pub struct LiveTrace {
    pub id: u64,
    pub selector: Selector,
    /// Its bit in the masks of trace_live.rs.
    pub(crate) bit: u32,
    /// Unix µs of the start.
    pub started_us: u64,
    pub(crate) deadline: Instant,
    ring: Mutex<VecDeque<Arc<Record>>>,
    /// Records produced so far, and those the ring overwrote.
    records: AtomicU64,
    overwritten: AtomicU64,
    /// Records live readers lost, all readers together.
    lost: AtomicU64,
    feeds: Mutex<Vec<Feed>>,
    ended: Mutex<Option<&'static str>>,
}

impl LiveTrace {
    pub(crate) fn new(id: u64, selector: Selector, bit: u32, duration: Duration) -> LiveTrace {
        LiveTrace {
            id,
            selector,
            bit,
            started_us: now_us(),
            deadline: Instant::now() + duration,
            ring: Mutex::new(VecDeque::new()),
            records: AtomicU64::new(0),
            overwritten: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            feeds: Mutex::new(Vec::new()),
            ended: Mutex::new(None),
        }
    }

    /// Time left before the trace ends (zero once ended).
    pub fn remaining(&self) -> Duration {
        match self.ended() {
            Some(_) => Duration::ZERO,
            None => self.deadline.saturating_duration_since(Instant::now()),
        }
    }
    /// `Some("expired" | "stopped")` once the trace no longer records.
    pub fn ended(&self) -> Option<&'static str> {
        *self.ended.lock().unwrap()
    }
    pub fn records(&self) -> u64 {
        self.records.load(Relaxed)
    }
    /// Records the ring no longer holds (more than [`RING_RECORDS`] were produced).
    pub fn overwritten(&self) -> u64 {
        self.overwritten.load(Relaxed)
    }
    /// Records lost by live readers that fell behind, all readers together.
    pub fn lost(&self) -> u64 {
        self.lost.load(Relaxed)
    }
    /// Live readers attached now.
    pub fn readers(&self) -> usize {
        self.feeds.lock().unwrap().len()
    }
    /// The records kept, oldest first.
    pub fn kept(&self) -> Vec<Arc<Record>> {
        self.ring.lock().unwrap().iter().cloned().collect()
    }
    /// A live reader from now on; `None` once the trace ended (its records are in [`kept`]).
    ///
    /// [`kept`]: LiveTrace::kept
    pub fn read(&self) -> Option<Reader> {
        let mut feeds = self.feeds.lock().unwrap();
        if self.ended().is_some() {
            return None;
        }
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let lost = Arc::new(AtomicU64::new(0));
        feeds.push(Feed {
            tx,
            lost: lost.clone(),
        });
        Some(Reader { rx, lost })
    }

    pub(crate) fn push(&self, record: &Arc<Record>) {
        self.records.fetch_add(1, Relaxed);
        {
            let mut ring = self.ring.lock().unwrap();
            if ring.len() == RING_RECORDS {
                ring.pop_front();
                self.overwritten.fetch_add(1, Relaxed);
            }
            ring.push_back(record.clone());
        }
        let mut feeds = self.feeds.lock().unwrap();
        feeds.retain(|f| match f.tx.try_send(record.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                f.lost.fetch_add(1, Relaxed);
                self.lost.fetch_add(1, Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    pub(crate) fn end(&self, why: &'static str) {
        let mut feeds = self.feeds.lock().unwrap();
        self.ended.lock().unwrap().get_or_insert(why);
        // Readers see the end of their stream once they drained it.
        feeds.clear();
    }
}
