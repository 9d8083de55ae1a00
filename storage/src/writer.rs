//! `CommitWriter`: the one thread that writes to the store, with group commit.
//!
//! Callers hand it batches of `Op`s. The thread takes everything waiting, applies it as one
//! atomic write (one WAL append, and with `SyncPolicy::Always` one fsync), then wakes every
//! caller whose ops were in it. Under load a single disk round-trip therefore acknowledges many
//! messages, and ordering is FIFO: a batch submitted later is never applied before an earlier
//! one (so a caller may submit, then act, then await).
//!
//! A panic on the thread (a bug in a write's planning or encoding) is caught: the callers of the
//! batch it hit get an error (their ops are not acknowledged), the store recounts what its
//! memory holds of the stored state (`Store::after_panic`), the panic is counted, and the
//! thread goes on with the next batch. The process's panic hook logs it at ERROR with a
//! backtrace.

use crate::{Op, Store, StoreError, StoreResult};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// What "written" means before the broker acknowledges a message (`persistence.sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPolicy {
    /// Written to the WAL and fsynced before the acknowledgement: a power cut loses nothing
    /// acknowledged.
    Always,
    /// Written to the WAL before the acknowledgement (a process crash loses nothing
    /// acknowledged); the WAL is fsynced every `sync_interval`, bounding what a power cut loses.
    Periodic,
    /// Acknowledged without waiting for the store; written shortly after. A crash may lose the
    /// last moments.
    Never,
}

/// Largest number of ops applied in one write.
const MAX_BATCH_OPS: usize = 4096;

enum Job {
    Write(Vec<Op>, Option<oneshot::Sender<StoreResult<()>>>),
    Flush(oneshot::Sender<StoreResult<()>>),
}

pub struct CommitWriter {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    policy: SyncPolicy,
    counters: WriterCounters,
    /// Test-only: the next batch panics on the thread.
    #[cfg(feature = "fault-injection")]
    panic_next: Arc<std::sync::atomic::AtomicBool>,
}

/// What the writer counts, shared with whoever reports it (the broker's metrics).
#[derive(Clone, Default)]
pub struct WriterCounters {
    /// Writes that failed.
    pub write_errors: Arc<AtomicU64>,
    /// Panics caught on the writer thread.
    pub panics: Arc<AtomicU64>,
}

/// Completion of a submitted batch.
pub struct Commit(Option<oneshot::Receiver<StoreResult<()>>>);

impl Commit {
    /// A commit with nothing to wait for.
    pub fn ready() -> Commit {
        Commit(None)
    }

    /// Nothing to wait for (no write was submitted), so the caller may go on synchronously.
    pub fn is_ready(&self) -> bool {
        self.0.is_none()
    }

    /// Resolves once the batch is written as the policy requires.
    pub async fn wait(self) -> StoreResult<()> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.await.unwrap_or(Err(StoreError::Stopped)),
        }
    }
}

impl CommitWriter {
    pub fn start(store: Arc<dyn Store>, policy: SyncPolicy, sync_interval: Duration) -> Arc<Self> {
        Self::start_counted(store, policy, sync_interval, WriterCounters::default())
    }

    /// `start`, counting failed writes and panics in `counters`.
    pub fn start_counted(
        store: Arc<dyn Store>,
        policy: SyncPolicy,
        sync_interval: Duration,
        counters: WriterCounters,
    ) -> Arc<Self> {
        let (tx, rx) = mpsc::channel();
        let thread_counters = counters.clone();
        #[cfg(feature = "fault-injection")]
        let panic_next = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let faults = Faults {
            #[cfg(feature = "fault-injection")]
            panic_next: panic_next.clone(),
            #[cfg(feature = "fault-injection")]
            delay: std::env::var("COURTIER_FAULT_STORE_WRITE_DELAY_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis),
        };
        let thread = std::thread::Builder::new()
            .name("courtier-store".into())
            .spawn(move || {
                let c = &thread_counters;
                // `run` returns when every sender is gone; a panic in it is caught and it runs
                // again with the next batch (see the module's header).
                while catch_unwind(AssertUnwindSafe(|| {
                    run(&store, &rx, policy, sync_interval, c, &faults)
                }))
                .is_err()
                {
                    c.panics.fetch_add(1, Relaxed);
                    store.after_panic();
                    log::error!(
                        "store writer: a batch of writes panicked (the panic is logged above); \
                         none of it was acknowledged; writing goes on"
                    );
                }
            })
            .expect("spawn the store writer thread");
        Arc::new(CommitWriter {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            policy,
            counters,
            #[cfg(feature = "fault-injection")]
            panic_next,
        })
    }

    /// Writes that failed since start.
    pub fn write_errors(&self) -> u64 {
        self.counters.write_errors.load(Relaxed)
    }

    /// Panics caught on the writer thread since start.
    pub fn panics(&self) -> u64 {
        self.counters.panics.load(Relaxed)
    }

    /// Test-only: make the thread panic while it writes the next batch.
    #[cfg(feature = "fault-injection")]
    pub fn inject_panic(&self) {
        self.panic_next.store(true, Relaxed);
    }

    fn send(&self, job: Job) -> bool {
        match &*self.tx.lock().unwrap() {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        }
    }

    /// Submit ops; the returned `Commit` resolves when they are durable per the policy
    /// (immediately with `SyncPolicy::Never`).
    pub fn commit(&self, ops: Vec<Op>) -> Commit {
        if ops.is_empty() {
            return Commit(None);
        }
        if self.policy == SyncPolicy::Never {
            self.submit(ops);
            return Commit(None);
        }
        let (done, rx) = oneshot::channel();
        if !self.send(Job::Write(ops, Some(done))) {
            let (tx, rx) = oneshot::channel();
            let _ = tx.send(Err(StoreError::Stopped));
            return Commit(Some(rx));
        }
        Commit(Some(rx))
    }

    /// Submit ops without waiting for them (state whose loss in a crash is harmless or
    /// repaired by the protocol, e.g. deleting an acknowledged message).
    pub fn submit(&self, ops: Vec<Op>) {
        let n = ops.len();
        if n > 0 && !self.send(Job::Write(ops, None)) {
            log::warn!("store writer stopped; {n} ops not persisted");
        }
    }

    /// Wait until everything submitted so far is written and flushed.
    pub async fn flush(&self) -> StoreResult<()> {
        let (done, rx) = oneshot::channel();
        if !self.send(Job::Flush(done)) {
            return Err(StoreError::Stopped);
        }
        rx.await.unwrap_or(Err(StoreError::Stopped))
    }

    /// Write what is queued, flush, and stop the thread (shutdown).
    pub fn stop(&self) {
        self.tx.lock().unwrap().take();
        if let Some(t) = self.thread.lock().unwrap().take() {
            let _ = t.join();
        }
    }
}

impl Drop for CommitWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A run of failed writes: reported when it starts and when it ends.
struct Episode {
    since: Instant,
    failed: u64,
}

/// Test-only faults the thread injects (empty without the `fault-injection` feature).
struct Faults {
    #[cfg(feature = "fault-injection")]
    panic_next: Arc<std::sync::atomic::AtomicBool>,
    /// A slow disk: every batch waits this long before it is written (set by the
    /// environment variable `COURTIER_FAULT_STORE_WRITE_DELAY_MS`, for crash tests that must
    /// catch a packet sent before its write).
    #[cfg(feature = "fault-injection")]
    delay: Option<Duration>,
}

impl Faults {
    /// Panic or wait if asked to (a batch's write step).
    fn before_write(&self) {
        #[cfg(feature = "fault-injection")]
        {
            if self.panic_next.swap(false, Relaxed) {
                panic!("store writer: injected panic");
            }
            if let Some(delay) = self.delay {
                std::thread::sleep(delay);
            }
        }
    }
}

fn run(
    store: &Arc<dyn Store>,
    rx: &mpsc::Receiver<Job>,
    policy: SyncPolicy,
    interval: Duration,
    counters: &WriterCounters,
    faults: &Faults,
) {
    let write_errors = &counters.write_errors;
    let sync = policy == SyncPolicy::Always;
    let mut last_sync = Instant::now();
    let mut dirty = false;
    // A store that starts refusing writes (a start on a full disk) was reported by its opener.
    let mut failing = (!store.writable()).then(|| Episode {
        since: Instant::now(),
        failed: 0,
    });
    loop {
        let first = match rx.recv_timeout(interval) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                if dirty && policy == SyncPolicy::Periodic {
                    report(store.sync_wal(), "periodic WAL sync");
                    dirty = false;
                    last_sync = Instant::now();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut ops = Vec::new();
        let mut waiters = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(mut batch, done) => {
                    ops.append(&mut batch);
                    waiters.extend(done);
                }
                Job::Flush(done) => flushes.push(done),
            }
            if ops.len() < MAX_BATCH_OPS {
                next = rx.try_recv().ok();
            }
        }
        let result = if ops.is_empty() {
            Ok(())
        } else {
            faults.before_write();
            store.write(&ops, sync)
        };
        dirty |= !ops.is_empty() && !sync;
        match &result {
            Err(e) => {
                write_errors.fetch_add(1, Relaxed);
                match &mut failing {
                    Some(episode) => {
                        episode.failed += 1;
                        log::debug!("store write of {} ops failed: {e}", ops.len());
                    }
                    None => {
                        log::error!(
                            "store write of {} ops failed: {e}; until the store writes again, \
                             what needs it is not acknowledged (QoS 1/2 messages for persistent \
                             sessions, retained messages, subscriptions of persistent sessions) \
                             and clean sessions go on",
                            ops.len()
                        );
                        failing = Some(Episode {
                            since: Instant::now(),
                            failed: 1,
                        });
                    }
                }
            }
            Ok(()) if !ops.is_empty() => {
                if let Some(episode) = failing.take() {
                    log::info!(
                        "store writes again, after {} failed writes in {:.1?}",
                        episode.failed,
                        episode.since.elapsed()
                    );
                }
            }
            Ok(()) => {}
        }
        for w in waiters {
            let _ = w.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(copy(e)),
            });
        }
        if !flushes.is_empty() {
            let r = store.flush();
            for f in flushes {
                let _ = f.send(match &r {
                    Ok(()) => Ok(()),
                    Err(e) => Err(copy(e)),
                });
            }
        }
        if policy == SyncPolicy::Periodic && dirty && last_sync.elapsed() >= interval {
            report(store.sync_wal(), "periodic WAL sync");
            dirty = false;
            last_sync = Instant::now();
        }
    }
    report(store.flush(), "final flush");
}

/// The error of a write, for each caller waiting for it.
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        StoreError::Backend(why) => StoreError::Backend(why.clone()),
        other => StoreError::Backend(other.to_string()),
    }
}

fn report(r: StoreResult<()>, what: &str) {
    if let Err(e) = r {
        log::error!("{what} failed: {e}");
    }
}
