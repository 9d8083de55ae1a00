//! Runtime traces: started and stopped while the broker runs (the HTTP API, `courtier ctl
//! trace`), each selecting a client id, a topic filter, a username or a peer address, each
//! time-boxed, several at once.
//!
//! The set of active traces is a snapshot behind an [`ArcSwap`], plus a bit mask of their slots
//! in one atomic: with no trace running, every hop reads that atomic once and goes on. A message
//! entering the broker gets the mask of the traces it matches in its
//! [`TraceContext::live`](crate::message::TraceContext), so each later hop knows which traces
//! to feed without matching again; hops at a subscriber add the traces that select that
//! subscriber.
//!
//! Each trace keeps its last [`RING_RECORDS`] records (for download as JSON Lines) and feeds
//! every live reader through a bounded channel of [`STREAM_BUFFER`] records: a reader that
//! falls behind loses records (counted, and told how many), an actor never waits for it.

use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::Release};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::trace_client_mask::ClientMask;
use crate::trace_select::Active;
pub use crate::trace_select::Selector;
pub use crate::trace_sink::{
    now_us, Detail, LiveTrace, Outcome, Reader, Reason, Record, RecordedBy,
};
use crate::trace_slot::SlotLock;

/// Traces running at once: one bit each in a message's trace context.
pub const MAX_TRACES: usize = 32;
/// Records a trace keeps for download; older ones are overwritten (and counted).
pub const RING_RECORDS: usize = 10_000;
/// Records queued for one live reader before it loses records.
pub const STREAM_BUFFER: usize = 1024;
/// A trace's duration when the request names none.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(600);
/// The longest a trace may run: a forgotten trace ends on its own.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);
/// A trace's log lines per second when neither `[trace] log_lines_per_sec` nor the request
/// says otherwise (see [`LiveTrace::log_limit`]).
pub const DEFAULT_LOG_LINES_PER_SEC: u32 = 10_000;
/// Ended traces kept (records downloadable) until deleted; beyond this, the oldest go.
const KEPT_ENDED: usize = 16;

/// Why a trace could not start.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error("{MAX_TRACES} traces are running already; stop one first")]
    Full,
    #[error("invalid topic filter {0:?}")]
    InvalidFilter(String),
    #[error("empty {0}")]
    Empty(&'static str),
}

/// Every runtime trace of a broker: the active ones (matched on the hot path) and the ended
/// ones kept for download.
pub struct LiveTraces {
    /// Bits of the active traces; 0: none, and every hop skips tracing on this one load.
    mask: AtomicU32,
    /// Bits of the active topic traces: 0, and a message's entry needs no topic matching.
    topic_bits: AtomicU32,
    /// Bumped at every change of the active set: a session's cached mask of the traces
    /// selecting its client ([`ClientMask`]) is good while this has not moved.
    pub(crate) generation: AtomicU32,
    active: ArcSwap<Active>,
    /// Every trace by id, active or ended (until deleted); writers take this lock.
    all: Mutex<Vec<Arc<LiveTrace>>>,
    next_id: AtomicU64,
    /// Where the next slot search starts, so a freed slot is not reused at once (a message
    /// still carrying the old bit would be recorded by the new trace).
    next_bit: AtomicU32,
    /// The log limit of traces started without one (`[trace] log_lines_per_sec`).
    log_limit: AtomicU32,
    /// One per bit of the masks: the running trace with that bit and its ring.
    pub(crate) slots: Vec<Arc<SlotLock>>,
}

impl Default for LiveTraces {
    fn default() -> Self {
        LiveTraces {
            mask: AtomicU32::new(0),
            topic_bits: AtomicU32::new(0),
            generation: AtomicU32::new(0),
            active: ArcSwap::from_pointee(Active::default()),
            all: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(1),
            next_bit: AtomicU32::new(0),
            log_limit: AtomicU32::new(DEFAULT_LOG_LINES_PER_SEC),
            slots: (0..MAX_TRACES).map(|_| Arc::default()).collect(),
        }
    }
}

/// A running trace and its slot refer to each other until the trace ends: let go of those
/// still running.
impl Drop for LiveTraces {
    fn drop(&mut self) {
        for slot in &self.slots {
            slot.lock().trace = None;
        }
    }
}

impl std::fmt::Debug for LiveTraces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LiveTraces(mask={:#x})", self.mask.load(Relaxed))
    }
}

/// Runtime state, not configuration: two configurations are equal whatever traces run.
impl PartialEq for LiveTraces {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl LiveTraces {
    /// Bits of the running traces; 0 when none runs (the hot path's one check).
    #[inline(always)]
    pub fn mask(&self) -> u32 {
        self.mask.load(Relaxed)
    }

    /// Which traces a message from `client` to `topic` belongs to.
    pub fn entry_mask(&self, client: &str, topic: &str) -> u32 {
        let a = self.active.load();
        (a.client_mask(client) | a.topic_mask(topic)) & self.mask()
    }

    /// [`LiveTraces::entry_mask`] for a publisher whose traces are known (`client_mask`, from
    /// its session's [`ClientMask`]): the topic traces are matched only if any runs.
    #[inline]
    pub fn entry_mask_with(&self, client_mask: u32, topic: &str) -> u32 {
        let topics = match self.topic_bits.load(Relaxed) {
            0 => 0,
            _ => self.active.load().topic_mask(topic),
        };
        (client_mask | topics) & self.mask()
    }

    /// Which traces select `client` (its connection events, the deliveries to it).
    pub fn client_mask(&self, client: &str) -> u32 {
        self.active.load().client_mask(client) & self.mask()
    }

    /// The log limit of the traces started from now on without one of their own (0: every
    /// record logged); running traces keep theirs.
    pub fn set_log_limit(&self, lines_per_sec: u32) {
        self.log_limit.store(lines_per_sec, Relaxed);
    }

    /// Start a trace of `duration` (default [`DEFAULT_DURATION`], at most [`MAX_DURATION`]).
    /// Ending it on time is the caller's job ([`LiveTraces::expire`] at [`LiveTrace::remaining`]);
    /// [`LiveTraces::sweep`] ends overdue ones too.
    pub fn start(
        &self,
        selector: Selector,
        duration: Option<Duration>,
    ) -> Result<Arc<LiveTrace>, StartError> {
        self.start_with(selector, duration, None)
    }

    /// [`LiveTraces::start`] with a log limit of its own (`None`: the default one).
    pub fn start_with(
        &self,
        selector: Selector,
        duration: Option<Duration>,
        log_limit: Option<u32>,
    ) -> Result<Arc<LiveTrace>, StartError> {
        let (kind, value) = selector.parts();
        if value.is_empty() {
            return Err(StartError::Empty(kind));
        }
        if let Selector::Topic(f) = &selector {
            crate::topic::validate_topic_filter(f)
                .map_err(|_| StartError::InvalidFilter(f.clone()))?;
        }
        let duration = duration.unwrap_or(DEFAULT_DURATION).min(MAX_DURATION);
        let mut all = self.all.lock().unwrap();
        let used = self.mask();
        let from = self.next_bit.load(Relaxed);
        let slot = (0..MAX_TRACES as u32)
            .map(|i| (from + i) % MAX_TRACES as u32)
            .find(|s| used & (1 << s) == 0)
            .ok_or(StartError::Full)?;
        self.next_bit.store(slot + 1, Relaxed);
        let id = self.next_id.fetch_add(1, Relaxed);
        let log_limit = log_limit.unwrap_or_else(|| self.log_limit.load(Relaxed));
        let trace = Arc::new(LiveTrace::new(
            id,
            selector,
            1 << slot,
            duration,
            log_limit,
            self.slots[slot as usize].clone(),
        ));
        trace.occupy();
        all.push(trace.clone());
        let ended: Vec<u64> = all
            .iter()
            .filter(|t| t.ended().is_some())
            .map(|t| t.id)
            .collect();
        if ended.len() > KEPT_ENDED {
            let drop = &ended[..ended.len() - KEPT_ENDED];
            all.retain(|t| !drop.contains(&t.id));
        }
        self.publish(&all, |a| {
            a.traces.push(trace.clone());
            match &trace.selector {
                Selector::Client(c) => *a.clients.entry(c.clone()).or_default() |= trace.bit,
                Selector::Topic(f) => {
                    a.topics
                        .push((f.clone(), crate::trace::literal_prefix(f), trace.bit))
                }
                Selector::Username(_) | Selector::Address(_) => {}
            }
        });
        Ok(trace)
    }

    /// A client connected: the username and address traces selecting it now follow its
    /// client id. Returns the bits of every trace that selects it.
    pub fn on_connect(&self, client: &str, username: Option<&str>, peer: &str) -> u32 {
        let a = self.active.load();
        let new = a
            .traces
            .iter()
            .filter(|t| t.selector.selects_connection(client, username, peer))
            .fold(0, |m, t| m | t.bit);
        let known = a.client_mask(client);
        drop(a);
        if new & !known != 0 {
            let all = self.all.lock().unwrap();
            self.publish(&all, |a| {
                *a.clients.entry(client.to_owned()).or_default() |= new
            });
        }
        (new | known) & self.mask()
    }

    /// The clients already connected when `trace` started, found by the caller (a username or
    /// address trace learns the others at their CONNECT, [`LiveTraces::on_connect`]): from now
    /// on the trace follows these client ids as a client trace would. Nothing once it ended.
    pub fn select(&self, trace: &LiveTrace, clients: &[String]) {
        if clients.is_empty() {
            return;
        }
        let all = self.all.lock().unwrap();
        if trace.ended().is_some() {
            return;
        }
        self.publish(&all, |a| {
            for c in clients {
                *a.clients.entry(c.clone()).or_default() |= trace.bit;
            }
        });
    }

    /// A trace by id, active or ended.
    pub fn get(&self, id: u64) -> Option<Arc<LiveTrace>> {
        self.all
            .lock()
            .unwrap()
            .iter()
            .find(|t| t.id == id)
            .cloned()
    }

    /// Every trace (active and kept ended ones), oldest first.
    pub fn list(&self) -> Vec<Arc<LiveTrace>> {
        self.all.lock().unwrap().clone()
    }

    /// End trace `id` if its time is up; true if it ended now.
    pub fn expire(&self, id: u64) -> bool {
        match self.get(id) {
            Some(t) if t.ended().is_none() && t.deadline <= Instant::now() => {
                self.end(&t, "expired");
                true
            }
            _ => false,
        }
    }

    /// End every trace whose time is up.
    pub fn sweep(&self) {
        for t in self.list() {
            if t.ended().is_none() && t.deadline <= Instant::now() {
                self.end(&t, "expired");
            }
        }
    }

    /// Stop trace `id` and forget it with its records; false if there was none.
    pub fn delete(&self, id: u64) -> bool {
        let Some(t) = self.get(id) else {
            return false;
        };
        self.end(&t, "stopped");
        self.all.lock().unwrap().retain(|t| t.id != id);
        true
    }

    fn end(&self, trace: &Arc<LiveTrace>, why: &'static str) {
        let all = self.all.lock().unwrap();
        if trace.ended().is_some() {
            return;
        }
        let bit = trace.bit;
        self.publish(&all, |a| {
            a.traces.retain(|t| t.bit != bit);
            a.topics.retain(|(_, _, b)| *b != bit);
            a.clients.retain(|_, m| {
                *m &= !bit;
                *m != 0
            });
        });
        trace.end(why);
        let unlogged = match trace.unlogged() {
            0 => String::new(),
            n => format!(" ({n} not logged; log_lines_per_sec = {})", trace.log_limit),
        };
        log::info!(
            target: crate::trace::TARGET,
            "trace={} {} {:?} ended: {why}, {} records{unlogged}",
            trace.id,
            trace.selector.parts().0,
            trace.selector.parts().1,
            trace.records()
        );
    }

    /// Replace the active snapshot with `change` applied to a copy; `_all` proves the writer
    /// lock is held, so changes never race.
    fn publish(&self, _all: &[Arc<LiveTrace>], change: impl FnOnce(&mut Active)) {
        let old = self.active.load();
        let mut next = Active {
            traces: old.traces.clone(),
            clients: old.clients.clone(),
            topics: old.topics.clone(),
        };
        change(&mut next);
        let mask = next.traces.iter().fold(0, |m, t| m | t.bit);
        let topics = next.topics.iter().fold(0, |m, (_, _, bit)| m | bit);
        self.active.store(Arc::new(next));
        self.mask.store(mask, Relaxed);
        self.topic_bits.store(topics, Relaxed);
        self.generation.fetch_add(1, Release);
    }
}

#[cfg(test)]
#[path = "trace_live_tests.rs"]
mod tests;
