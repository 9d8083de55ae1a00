//! One runtime trace's output (see trace_live.rs for which traces run and what they select):
//! the records kept for download (in its slot's ring while it runs, trace_slot.rs, then in
//! the trace), its log limit, and the bounded channels of its live readers. Its records are
//! trace_record.rs's.

use crate::trace_live::{Selector, STREAM_BUFFER};
use crate::trace_slot::{Ring, SlotLock};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use crate::trace_record::{now_us, Detail, Outcome, Reason, Record, RecordedBy};

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
    /// Where its ring is while it runs.
    slot: Arc<SlotLock>,
    /// Its ring once it ended (moved out of the slot, which a later trace may take).
    ended_ring: Mutex<Option<Ring>>,
    /// Records live readers lost, all readers together.
    lost: AtomicU64,
    feeds: Mutex<Vec<Feed>>,
    /// `feeds.len()`, so that a record with no live reader takes no second lock.
    feeding: AtomicUsize,
    ended: Mutex<Option<&'static str>>,
    /// The most log lines this trace writes per second (0: one per record). A busy traced
    /// client makes hundreds of thousands of records a second, ~190 bytes of log each: beyond
    /// the limit a record is kept and streamed as any other, only not logged (counted).
    pub log_limit: u32,
    log: LogWindow,
}

/// The current second of a trace's log lines (by the records' times): how many it logged,
/// and how many records it had before, so that the unlogged ones need no count each.
#[derive(Default)]
struct LogWindow {
    second: AtomicU64,
    logged: AtomicU32,
    records_before: AtomicU64,
    /// Lines logged over the trace's life.
    total: AtomicU64,
}

impl LiveTrace {
    pub(crate) fn new(
        id: u64,
        selector: Selector,
        bit: u32,
        duration: Duration,
        log_limit: u32,
        slot: Arc<SlotLock>,
    ) -> LiveTrace {
        LiveTrace {
            id,
            selector,
            bit,
            started_us: now_us(),
            deadline: Instant::now() + duration,
            slot,
            ended_ring: Mutex::new(None),
            lost: AtomicU64::new(0),
            feeds: Mutex::new(Vec::new()),
            feeding: AtomicUsize::new(0),
            ended: Mutex::new(None),
            log_limit,
            log: LogWindow::default(),
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
        self.with_ring(|r| r.records)
    }
    /// Records the ring no longer holds (more than [`RING_RECORDS`] were produced).
    pub fn overwritten(&self) -> u64 {
        self.with_ring(|r| r.overwritten)
    }
    /// Records lost by live readers that fell behind, all readers together.
    pub fn lost(&self) -> u64 {
        self.lost.load(Relaxed)
    }
    /// Records not logged because they came over [`LiveTrace::log_limit`] (or with the trace's
    /// log target off).
    pub fn unlogged(&self) -> u64 {
        self.records().saturating_sub(self.log.total.load(Relaxed))
    }
    /// Live readers attached now.
    pub fn readers(&self) -> usize {
        self.feeds.lock().unwrap().len()
    }
    /// The records kept, oldest first.
    pub fn kept(&self) -> Vec<Arc<Record>> {
        // Shared after the copy: the slot's lock (which hops wait for) is held for the copy only.
        self.with_ring(Ring::kept)
            .into_iter()
            .map(Arc::new)
            .collect()
    }

    /// `f` of this trace's ring: in its slot while it runs, else in `ended_ring` (it moves
    /// there under the slot's lock before the slot lets go of the trace).
    fn with_ring<T>(&self, f: impl FnOnce(&Ring) -> T) -> T {
        {
            let slot = self.slot.lock();
            if slot.trace.as_ref().is_some_and(|t| t.id == self.id) {
                return f(&slot.ring);
            }
        }
        f(self
            .ended_ring
            .lock()
            .unwrap()
            .as_ref()
            .unwrap_or(&Ring::default()))
    }

    /// Keep `record` as [`LiveTraces::emit`] does, without logging or streaming it.
    #[cfg(test)]
    pub(crate) fn push(&self, record: Record) {
        let mut slot = self.slot.lock();
        if slot.trace.as_ref().is_some_and(|t| t.id == self.id) {
            slot.ring.push(record);
        }
    }

    /// This trace takes its slot (empty: the last trace in it took its ring away).
    pub(crate) fn occupy(self: &Arc<Self>) {
        self.slot.lock().trace = Some(self.clone());
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
        self.feeding.store(feeds.len(), Relaxed);
        Some(Reader { rx, lost })
    }

    /// Has this trace live readers now (one relaxed load)?
    pub(crate) fn feeding(&self) -> bool {
        self.feeding.load(Relaxed) != 0
    }

    /// Hand `record` to every live reader; a reader whose buffer is full loses it (counted).
    pub(crate) fn feed(&self, record: &Arc<Record>) {
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
        self.feeding.store(feeds.len(), Relaxed);
    }

    /// May the record stamped `time_us` be logged, within [`LiveTrace::log_limit`]?
    /// `records_before`: the records the trace had before this one. A new second first reports
    /// how many records the last one did not log. Over the limit this is two relaxed loads;
    /// the check and the count are not one step, so threads racing at the limit may log a few
    /// lines more.
    pub(crate) fn may_log(&self, time_us: u64, records_before: u64) -> bool {
        if self.log_limit == 0 {
            return true;
        }
        let second = time_us / 1_000_000;
        let current = self.log.second.load(Relaxed);
        // `!=`, not `>`: a clock set back must not stop the log until it catches up.
        if second != current
            && self
                .log
                .second
                .compare_exchange(current, second, Relaxed, Relaxed)
                .is_ok()
        {
            // This record belongs to the new second.
            let before = records_before;
            let start = self.log.records_before.swap(before, Relaxed);
            let logged = self.log.logged.swap(0, Relaxed) as u64;
            let unlogged = before.saturating_sub(start).saturating_sub(logged);
            if unlogged > 0 && current != 0 {
                self.report_unlogged(current, unlogged);
            }
        }
        self.log.logged.load(Relaxed) < self.log_limit
    }

    /// A record [`LiveTrace::may_log`] let through was handed to the log.
    pub(crate) fn logged(&self) {
        self.log.logged.fetch_add(1, Relaxed);
        self.log.total.fetch_add(1, Relaxed);
    }

    #[cold]
    #[inline(never)]
    fn report_unlogged(&self, second: u64, unlogged: u64) {
        let (kind, value) = self.selector.parts();
        log::info!(
            target: crate::trace::TARGET,
            "trace={} {kind} {value:?}: {unlogged} records of second {second} (Unix time) not \
             logged, over log_lines_per_sec = {}; the trace keeps and streams them",
            self.id,
            self.log_limit
        );
    }

    pub(crate) fn end(&self, why: &'static str) {
        {
            let mut slot = self.slot.lock();
            if slot.trace.as_ref().is_some_and(|t| t.id == self.id) {
                *self.ended_ring.lock().unwrap() = Some(std::mem::take(&mut slot.ring));
                slot.trace = None;
            }
        }
        let mut feeds = self.feeds.lock().unwrap();
        self.ended.lock().unwrap().get_or_insert(why);
        // Readers see the end of their stream once they drained it.
        feeds.clear();
        self.feeding.store(0, Relaxed);
    }
}
