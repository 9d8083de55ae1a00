//! One runtime trace's output (see trace_live.rs for which traces run and what they select):
//! the ring of the last [`RING_RECORDS`] records kept for download, and the bounded channels
//! of its live readers. Its records are trace_record.rs's.

use crate::trace_live::{Selector, RING_RECORDS, STREAM_BUFFER};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use crate::trace_record::{now_us, Detail, Outcome, Reason, Record};

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
    /// `feeds.len()`, so that a record with no live reader takes no second lock.
    feeding: AtomicUsize,
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
            feeding: AtomicUsize::new(0),
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
        self.feeding.store(feeds.len(), Relaxed);
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
        if self.feeding.load(Relaxed) == 0 {
            return;
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
        self.feeding.store(feeds.len(), Relaxed);
    }

    pub(crate) fn end(&self, why: &'static str) {
        let mut feeds = self.feeds.lock().unwrap();
        self.ended.lock().unwrap().get_or_insert(why);
        // Readers see the end of their stream once they drained it.
        feeds.clear();
        self.feeding.store(0, Relaxed);
    }
}
