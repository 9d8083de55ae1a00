//! The trace log writer: one thread, `courtier-trace-log`, that writes the log lines of trace
//! records, so that a traced message's session formats and writes nothing. A session hands
//! over the record it already built (an `Arc`, no text) through a bounded channel and goes
//! on; the writer formats the lines and writes each batch of them (every [`TICK`] while lines
//! come) with one `write` to stderr, where the process's logger writes too.
//!
//! The process's logger (src/logging.rs) installs the writer ([`install`]); without one (tests,
//! a library user's logger) the lines go through `log` as before. The `[trace]` lines do not
//! come here: they are written in order with the other log lines, which these are not (a
//! record's line may follow a later line of another target by up to a [`TICK`]). A full channel never blocks a session: the line is dropped,
//! counted, and the first drop is logged; the records themselves are kept by their traces.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::trace_record::{push_int, LogLine, Record};

/// Lines waiting for the writer before new ones are dropped.
const QUEUE: usize = 16_384;
/// Bytes of lines written with one `write`, about (a batch also ends with the queue).
const BATCH_BYTES: usize = 64 << 10;
/// The writer's sleep between batches while lines come: at most this late in the log.
const TICK: Duration = Duration::from_millis(10);
/// How long [`flush`] waits for the writer.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Writes the start of a record's line, `[<time> INFO  courtier::trace] `, for a record
/// stamped `time_us` (µs since the Unix epoch); it may keep what it made for the next.
pub type Prefix = Box<dyn FnMut(&mut String, u64) + Send>;

/// The ids of the traces a record belongs to, `trace=3` or `trace=3,5` in its line.
#[derive(Debug, Default)]
pub enum Ids {
    #[default]
    None,
    One(u64),
    Many(Vec<u64>),
}

impl Ids {
    pub fn add(&mut self, id: u64) {
        *self = match std::mem::take(self) {
            Ids::None => Ids::One(id),
            Ids::One(first) => Ids::Many(vec![first, id]),
            Ids::Many(mut ids) => {
                ids.push(id);
                Ids::Many(ids)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Ids::None)
    }
}

impl fmt::Display for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ids::None => Ok(()),
            Ids::One(id) => write!(f, "{id}"),
            Ids::Many(ids) => {
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{id}")?;
                }
                Ok(())
            }
        }
    }
}

enum Entry {
    Record(Ids, Arc<Record>),
    /// Answered once every entry before it is written.
    Flush(SyncSender<()>),
}

static WRITER: OnceLock<SyncSender<Entry>> = OnceLock::new();
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Starts the writer thread; the lines of records are `prefix` and the record. A second call
/// changes nothing.
pub fn install(prefix: Prefix) {
    WRITER.get_or_init(|| {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("courtier-trace-log".into())
            .spawn(move || run(rx, prefix))
            .expect("the trace log writer thread starts");
        tx
    });
}

/// Log `record` of traces `ids` (target `courtier::trace`, INFO; the caller checked that the
/// filter lets it through): to the writer, or through `log` without one.
pub fn record(ids: Ids, record: Arc<Record>) {
    match WRITER.get() {
        Some(tx) => send(tx, Entry::Record(ids, record)),
        None => log::info!(target: crate::trace::TARGET, "trace={ids} {}", LogLine(&record)),
    }
}

/// Trace log lines dropped because the writer fell behind.
pub fn dropped() -> u64 {
    DROPPED.load(Relaxed)
}

fn send(tx: &SyncSender<Entry>, entry: Entry) {
    if let Err(TrySendError::Full(_)) = tx.try_send(entry) {
        if DROPPED.fetch_add(1, Relaxed) == 0 {
            log::warn!(
                "trace log lines dropped: the trace log writer fell behind (the traces keep \
                 their records; the count is logged at shutdown)"
            );
        }
    }
}

/// Waits (up to 2 s) until every line handed over before is written.
pub fn flush() {
    let Some(tx) = WRITER.get() else {
        return;
    };
    let (ack, done) = sync_channel(1);
    if send_waiting(tx, Entry::Flush(ack)) {
        let _ = done.recv_timeout(FLUSH_WAIT);
    }
    let dropped = dropped();
    if dropped > 0 {
        log::warn!("{dropped} trace log lines were dropped: the trace log writer fell behind");
    }
}

/// A send that waits for room up to [`FLUSH_WAIT`] (`SyncSender` has no send with a
/// timeout); false if there was none.
fn send_waiting(tx: &SyncSender<Entry>, mut entry: Entry) -> bool {
    let deadline = Instant::now() + FLUSH_WAIT;
    loop {
        match tx.try_send(entry) {
            Ok(()) => return true,
            Err(TrySendError::Full(e)) if Instant::now() < deadline => {
                entry = e;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return false,
        }
    }
}

/// The writer: asleep in `recv` while no line comes (a session's first line after a quiet
/// spell wakes it); then it sleeps [`TICK`] between batches, so that the sessions handing over
/// lines meanwhile never wake it (no syscall on their side), until a tick brings nothing.
fn run(rx: Receiver<Entry>, prefix: Prefix) {
    let mut batch = Batch {
        buf: String::with_capacity(BATCH_BYTES + 4096),
        acks: Vec::new(),
        prefix,
    };
    while let Ok(first) = rx.recv() {
        batch.add(first);
        loop {
            std::thread::sleep(TICK);
            let mut n = 0;
            while let Ok(entry) = rx.try_recv() {
                batch.add(entry);
                n += 1;
            }
            batch.write();
            if n == 0 {
                break;
            }
        }
    }
}

struct Batch {
    buf: String,
    acks: Vec<SyncSender<()>>,
    prefix: Prefix,
}

impl Batch {
    fn add(&mut self, entry: Entry) {
        match entry {
            Entry::Record(ids, record) => {
                (self.prefix)(&mut self.buf, record.time_us);
                match ids {
                    Ids::One(id) => push_int(&mut self.buf, "trace=", id),
                    ids => {
                        let _ = write!(self.buf, "trace={ids}");
                    }
                }
                self.buf.push(' ');
                LogLine(&record).write_to(&mut self.buf);
                self.buf.push('\n');
            }
            Entry::Flush(ack) => self.acks.push(ack),
        }
        if self.buf.len() >= BATCH_BYTES {
            self.write();
        }
    }

    /// One `write` of the lines so far (stderr is unbuffered), then the flushes waiting.
    fn write(&mut self) {
        if !self.buf.is_empty() {
            // Nowhere to report a failed write to stderr.
            let _ = std::io::stderr().lock().write_all(self.buf.as_bytes());
            self.buf.clear();
        }
        for ack in self.acks.drain(..) {
            let _ = ack.send(());
        }
    }
}
