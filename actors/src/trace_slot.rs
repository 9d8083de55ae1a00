//! The broker's 32 trace slots, one per bit of the trace masks (trace_live.rs): the running
//! trace with that bit and its ring of the last [`RING_RECORDS`] records. A hop finds the
//! trace and its ring by the bit alone, under the slot's lock, with no other shared state to
//! load: [`LiveTraces::emit_with`], the path every record of a traced message takes. When the trace
//! ends, its ring moves into it (trace_sink.rs) and the slot is free for another.

use crate::trace_live::{LiveTraces, MAX_TRACES, RING_RECORDS};
use crate::trace_log::{self, Ids};
use crate::trace_record::Record;
use crate::trace_sink::LiveTrace;
use std::sync::Arc;

impl LiveTraces {
    /// Hand `record` to the traces in `mask`: [`LiveTraces::emit_with`] for a record made
    /// apart (the connection events, off the message path).
    pub fn emit(&self, mask: u32, record: Record) {
        self.emit_with(mask, move |r| *r = record);
    }

    /// Make a record with `fill` for the traces in `mask` (and their live readers), and log it
    /// (target `courtier::trace`, INFO) with the ids of those within their log limit:
    /// formatted and written by the trace log writer (trace_log.rs), not here. `fill` writes
    /// the whole record where the ring keeps it ([`Record::reset`], then the hop's own
    /// fields); it is copied (an `Arc`) only when logged or read live. Each trace is found by
    /// its bit in its [`Slot`], whose lock also guards its ring.
    #[inline(always)]
    pub fn emit_with(&self, mask: u32, fill: impl FnOnce(&mut Record)) {
        if mask.is_power_of_two() {
            let mut guard = self.slots[mask.trailing_zeros() as usize].lock();
            let Slot { trace, ring } = &mut *guard;
            let Some(t) = trace.as_deref() else {
                return;
            };
            let logged = t.keep(ring, fill);
            let id = t.id;
            drop(guard);
            if let Some(shared) = logged {
                trace_log::record(Ids::One(id), shared);
            }
        } else if mask != 0 {
            self.emit_many(mask, fill);
        }
    }

    /// [`LiveTraces::emit_with`] of two records made together, in their order, under one
    /// lock; `second` gets the first's time.
    #[inline(always)]
    pub fn emit_two_with(
        &self,
        mask: u32,
        first: impl FnOnce(&mut Record),
        second: impl FnOnce(&mut Record, u64),
    ) {
        if mask.is_power_of_two() {
            let mut guard = self.slots[mask.trailing_zeros() as usize].lock();
            let Slot { trace, ring } = &mut *guard;
            let Some(t) = trace.as_deref() else {
                return;
            };
            let mut time_us = 0;
            let first = t.keep(ring, |r| {
                first(r);
                time_us = r.time_us;
            });
            let second = t.keep(ring, |r| second(r, time_us));
            let id = t.id;
            drop(guard);
            if let Some(shared) = first {
                trace_log::record(Ids::One(id), shared);
            }
            if let Some(shared) = second {
                trace_log::record(Ids::One(id), shared);
            }
        } else if mask != 0 {
            let mut time_us = 0;
            self.emit_many(mask, |r| {
                first(r);
                time_us = r.time_us;
            });
            self.emit_many(mask, |r| second(r, time_us));
        }
    }

    /// [`LiveTraces::emit_with`] to several traces: each gets a copy.
    #[cold]
    fn emit_many(&self, mask: u32, fill: impl FnOnce(&mut Record)) {
        let mut record = Record::empty();
        fill(&mut record);
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
            ring.next().clone_from(&shared);
        }
        if !ids.is_empty() {
            trace_log::record(ids, shared);
        }
    }
}

impl LiveTrace {
    /// Make a record with `fill` in this trace's `ring` (its slot's, locked), its live readers
    /// fed: the record to log, if within the log limit.
    #[inline(always)]
    fn keep(&self, ring: &mut Ring, fill: impl FnOnce(&mut Record)) -> Option<Arc<Record>> {
        let before = ring.records;
        let record = ring.next();
        fill(record);
        let log = self.may_log(record.time_us, before) && log_on();
        let shared = (log || self.feeding()).then(|| Arc::new(record.clone()));
        if let Some(shared) = &shared {
            self.hand_over(shared, log);
        }
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
    #[cfg(test)]
    pub(crate) fn push(&mut self, record: Record) {
        *self.next() = record;
    }

    /// The place of the next record (counted), to be overwritten: a new one until the ring is
    /// full, then the oldest record's.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> &mut Record {
        self.records += 1;
        if self.slots.len() < RING_RECORDS {
            self.slots.push(Kept(Record::empty()));
            let last = self.slots.len() - 1;
            return &mut self.slots[last].0;
        }
        let oldest = self.head;
        self.head = if oldest + 1 == RING_RECORDS {
            0
        } else {
            oldest + 1
        };
        self.overwritten += 1;
        self.prefetch_head();
        &mut self.slots[oldest].0
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
