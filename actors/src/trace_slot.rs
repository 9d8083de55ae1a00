//! The broker's 32 trace slots, one per bit of the trace masks (trace_live.rs): the running
//! trace with that bit and its ring of the last [`RING_RECORDS`] records. A hop finds the
//! trace and its ring by the bit alone, under the slot's lock, with no other shared state to
//! load: [`LiveTraces::emit`], the path every record of a traced message takes. When the trace
//! ends, its ring moves into it (trace_sink.rs) and the slot is free for another.

use crate::trace_live::{LiveTraces, MAX_TRACES, RING_RECORDS};
use crate::trace_log::{self, Ids};
use crate::trace_record::Record;
use crate::trace_sink::LiveTrace;
use std::sync::Arc;

impl LiveTraces {
    /// Hand `record` to the traces in `mask` (and their live readers), and log it (target
    /// `courtier::trace`, INFO) with the ids of those within their log limit: formatted and
    /// written by the trace log writer (trace_log.rs), not here. A record is shared (an `Arc`)
    /// only when it is logged or read live; the rings keep it by value. Each trace is found
    /// by its bit in its [`Slot`], whose lock also guards its ring.
    #[inline(always)]
    pub fn emit(&self, mask: u32, record: Record) {
        if mask.is_power_of_two() {
            self.emit_one(mask.trailing_zeros() as usize, record);
        } else if mask != 0 {
            self.emit_many(mask, record);
        }
    }

    /// [`LiveTraces::emit`] of two records made together, in their order, under one lock.
    #[inline(always)]
    pub fn emit_two(&self, mask: u32, first: Record, second: Record) {
        if mask.is_power_of_two() {
            let bit = mask.trailing_zeros() as usize;
            let mut guard = self.slots[bit].lock();
            let Slot { trace, ring } = &mut *guard;
            let Some(t) = trace.as_deref() else {
                return;
            };
            let first = t.keep(ring, first);
            let second = t.keep(ring, second);
            let id = t.id;
            drop(guard);
            if let Some(shared) = first {
                trace_log::record(Ids::One(id), shared);
            }
            if let Some(shared) = second {
                trace_log::record(Ids::One(id), shared);
            }
        } else if mask != 0 {
            self.emit_many(mask, first);
            self.emit_many(mask, second);
        }
    }

    /// [`LiveTraces::emit`] to one trace (the usual case): the record moves into its ring, and
    /// is copied only when it is logged or read live.
    #[inline(always)]
    fn emit_one(&self, bit: usize, record: Record) {
        let mut guard = self.slots[bit].lock();
        let Slot { trace, ring } = &mut *guard;
        let Some(t) = trace.as_deref() else {
            return;
        };
        let logged = t.keep(ring, record);
        let id = t.id;
        drop(guard);
        if let Some(shared) = logged {
            trace_log::record(Ids::One(id), shared);
        }
    }

    /// [`LiveTraces::emit`] to several traces: each gets a copy.
    #[cold]
    fn emit_many(&self, mask: u32, record: Record) {
        let shared = Arc::new(record);
        let mut ids = Ids::None;
        let bits = (0..MAX_TRACES).filter(|b| mask & (1 << b) != 0);
        for bit in bits {
            let mut slot = self.slots[bit].lock();
            let Slot { trace, ring } = &mut *slot;
            let Some(t) = trace.as_deref() else {
                continue;
            };
            let log = t.may_log(shared.time_us, ring.records) && log_on();
            if log {
                ids.add(t.id);
            }
            t.hand_over(&shared, log);
            ring.push((*shared).clone());
        }
        if !ids.is_empty() {
            trace_log::record(ids, shared);
        }
    }
}

impl LiveTrace {
    /// Keep `record` in this trace's `ring` (its slot's, locked), its live readers fed: the
    /// record to log, if within the log limit.
    #[inline(always)]
    fn keep(&self, ring: &mut Ring, record: Record) -> Option<Arc<Record>> {
        let log = self.may_log(record.time_us, ring.records) && log_on();
        let shared = (log || self.feeding()).then(|| Arc::new(record.clone()));
        if let Some(shared) = &shared {
            self.hand_over(shared, log);
        }
        ring.push(record);
        shared.filter(|_| log)
    }

    /// A record of this trace is shared (`log`: it will be logged): its live readers get it,
    /// and the log counts it.
    fn hand_over(&self, shared: &Arc<Record>, log: bool) {
        if self.feeding() {
            self.feed(shared);
        }
        if log {
            self.logged();
        }
    }
}

/// Are trace lines logged (the log's filter lets target `courtier::trace` through at INFO)?
fn log_on() -> bool {
    log::log_enabled!(target: crate::trace::TARGET, log::Level::Info)
}

/// A slot's lock: a spin lock, released with a plain store. A traced client's every hop
/// takes it once, uncontended but for a reader copying the ring; the standard mutex's release
/// is an atomic exchange, which waits for the record's stores to drain.
pub(crate) type SlotLock = spin::mutex::SpinMutex<Slot>;

/// One of the broker's trace slots: the running trace with this bit, if any, and its ring.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) trace: Option<Arc<LiveTrace>>,
    pub(crate) ring: Ring,
}

/// The last [`RING_RECORDS`] records, by value (no allocation per record: each new one takes
/// the oldest one's place once full), and the counts.
#[derive(Default)]
pub(crate) struct Ring {
    slots: Vec<Kept>,
    /// The oldest record once `slots` is full.
    head: usize,
    /// Records produced so far, and those the ring overwrote.
    pub(crate) records: u64,
    pub(crate) overwritten: u64,
}

/// A record in a ring, on cache lines of its own: a 128-byte record covers two lines, not
/// parts of three shared with its neighbours, so writing one touches two lines and the
/// prefetch of the next fetches exactly its own.
#[repr(align(64))]
struct Kept(Record);

impl Ring {
    #[inline(always)]
    pub(crate) fn push(&mut self, record: Record) {
        self.records += 1;
        if self.slots.len() < RING_RECORDS {
            self.slots.push(Kept(record));
        } else {
            self.slots[self.head].0 = record;
            self.head = if self.head + 1 == RING_RECORDS {
                0
            } else {
                self.head + 1
            };
            self.overwritten += 1;
            self.prefetch_head();
        }
    }

    /// A copy of the records it holds, oldest first.
    pub(crate) fn kept(&self) -> Vec<Record> {
        let (newer, older) = self.slots.split_at(self.head);
        older.iter().chain(newer).map(|k| k.0.clone()).collect()
    }

    /// Asks the CPU to load the next slot to be overwritten: the ring (~1.3 MB) is larger
    /// than a core's cache, so that slot is cold, and dropping the record in it and writing
    /// the new one would wait for its cache lines under the ring's lock. A busy traced client
    /// makes a record every few hundred nanoseconds, time enough for the lines to arrive.
    #[inline(always)]
    fn prefetch_head(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            let slot = self.slots[self.head..].as_ptr() as *const i8;
            // Each cache line of the slot (a prefetch never faults, even past the end).
            for offset in (0..std::mem::size_of::<Kept>()).step_by(64) {
                // SAFETY: prefetching is a hint without side effects, whatever the address.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(slot.wrapping_add(offset)) };
            }
        }
    }
}
