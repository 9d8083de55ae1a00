//! `RocksStore`, the store the broker holds: the open database behind a lock, so that it can
//! be closed and opened again after a failed write.
//!
//! When a write fails (a full disk, an I/O error) RocksDB stops the database: every later write
//! fails with the same "background error" until it is resumed or reopened. Resuming is not in
//! the C API this crate binds, and RocksDB's own automatic resumption waits for a whole write
//! buffer (16 MB) of free space. More pressing, the linked library asserts (aborting the
//! process) when the failed write-ahead log is synced or written again. So after a failed write
//! nothing but reads reaches the database (no WAL sync, no flush), and every write is refused
//! at once (`StoreError::Unavailable`) until one finds [`REOPEN_FREE`] bytes free on the
//! store's file system (looked at most every [`REOPEN_EVERY`]): then the database is closed
//! and opened again (its WAL recovery drops the torn record of the failed write, which was
//! never acknowledged) and the write goes ahead. A start on a full disk holds the store the
//! same way, stopped, with the database opened read-only or not at all (`rocks_open.rs`).

use super::RocksDb;
use crate::{Loaded, Op, RetainedRecord, Store, StoreError, StoreMemory, StoreResult, StoreStats};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Free space the store's file system must have before a stopped database is reopened: room
/// for what opening writes (its LOG header, OPTIONS and MANIFEST files) and the first writes.
pub const REOPEN_FREE: u64 = 2 * 1024 * 1024;

/// How often a stopped database is looked at again (on a write).
pub const REOPEN_EVERY: Duration = Duration::from_millis(500);

pub struct RocksStore {
    /// `None` while a reopen has failed (the next due write tries again), or after a start on
    /// a full disk without a store.
    db: RwLock<Option<RocksDb>>,
    path: PathBuf,
    /// A write failed and the database has not been reopened since.
    stopped: AtomicBool,
    /// When a stopped database may be looked at again.
    next_try: Mutex<Instant>,
    /// Closed for good ([`Store::close`]): never opened again.
    closed: AtomicBool,
}

impl RocksStore {
    pub(crate) fn new(db: RocksDb) -> RocksStore {
        RocksStore {
            path: db.path().to_path_buf(),
            db: RwLock::new(Some(db)),
            stopped: AtomicBool::new(false),
            next_try: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
        }
    }

    /// A store that refuses writes until it can be opened for writing: `db` read-only, or none.
    pub(crate) fn stopped(path: &Path, db: Option<RocksDb>) -> RocksStore {
        RocksStore {
            path: path.to_path_buf(),
            db: RwLock::new(db),
            stopped: AtomicBool::new(true),
            next_try: Mutex::new(Instant::now()),
            closed: AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether writes are refused until the database is reopened.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Run `f` on the open database.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&RocksDb) -> StoreResult<R>) -> StoreResult<R> {
        match &*self.db.read().unwrap_or_else(|e| e.into_inner()) {
            Some(db) => f(db),
            None => Err(StoreError::Unavailable(
                "the store is not open: waiting for space on its file system".into(),
            )),
        }
    }

    /// A write failed: refuse the next ones until the database is reopened.
    fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// If the database was stopped by a failed write: reopen it when due and the disk has room,
    /// or say why writes are still refused.
    fn reopen_if_stopped(&self) -> StoreResult<()> {
        if !self.is_stopped() {
            return Ok(());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("the store is closed".into()));
        }
        {
            let mut next = self.next_try.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if now < *next {
                return Err(StoreError::Unavailable(
                    "a write failed; waiting for space on the store's file system".into(),
                ));
            }
            *next = now + REOPEN_EVERY;
        }
        let free = free_space(&self.path)?;
        if free < REOPEN_FREE {
            return Err(StoreError::Unavailable(format!(
                "{free} bytes free on the store's file system; waiting for {REOPEN_FREE}"
            )));
        }
        let mut slot = self.db.write().unwrap_or_else(|e| e.into_inner());
        // Closed before it is opened again: RocksDB locks the directory per open database, and
        // a read-only handle would not see what the new one writes.
        drop(slot.take());
        let (db, loaded) = RocksDb::open_and_load(&self.path)?;
        *slot = Some(db);
        self.stopped.store(false, Ordering::Release);
        log::info!(
            "store {} open for writing again ({} bytes free): {} persistent sessions, {} \
             retained messages",
            self.path.display(),
            free,
            loaded.sessions.len(),
            loaded.retained.len()
        );
        Ok(())
    }
}

/// Bytes available to this process on the file system holding `path` (or where it would be
/// created: its nearest existing ancestor).
pub fn free_space(path: &Path) -> StoreResult<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = path.ancestors().find(|p| p.exists()).unwrap_or(path);
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a statvfs the call fills in.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(StoreError::Io(std::io::Error::last_os_error()));
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

impl Store for RocksStore {
    fn load(&self) -> StoreResult<Loaded> {
        self.with(|db| db.load())
    }

    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>> {
        self.with(|db| db.load_retained())
    }

    fn write(&self, ops: &[Op], sync: bool) -> StoreResult<()> {
        self.reopen_if_stopped()?;
        let written = self.with(|db| db.write(ops, sync));
        if let Err(StoreError::Backend(_) | StoreError::Corrupt(_) | StoreError::Io(_)) = &written {
            self.stop();
        }
        written
    }

    fn sync_wal(&self) -> StoreResult<()> {
        // A stopped database's WAL must not be synced (see the module's header); what it holds
        // is synced once it is reopened.
        if self.is_stopped() {
            return Ok(());
        }
        let synced = self.with(|db| db.sync_wal());
        if synced.is_err() {
            self.stop();
        }
        synced
    }

    fn flush(&self) -> StoreResult<()> {
        if self.is_stopped() {
            return Err(StoreError::Unavailable(
                "not flushed: a write failed and the store was not reopened since".into(),
            ));
        }
        let flushed = self.with(|db| db.flush());
        if flushed.is_err() {
            self.stop();
        }
        flushed
    }

    fn stats(&self) -> StoreResult<StoreStats> {
        self.with(|db| db.stats())
    }

    fn backend_name(&self) -> &'static str {
        "rocksdb"
    }

    fn writable(&self) -> bool {
        !self.is_stopped()
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.stop();
        drop(self.db.write().unwrap_or_else(|e| e.into_inner()).take());
    }

    fn memory(&self) -> Option<StoreMemory> {
        self.with(|db| Ok(db.memory())).ok()
    }

    fn after_panic(&self) {
        let _ = self.with(|db| {
            db.recount(&mut db.refs());
            Ok(())
        });
    }
}

impl RocksDb {
    /// RocksDB's memory counts: memtables and table readers summed over the column families,
    /// the block cache they share (rocks_memory.rs) once.
    fn memory(&self) -> StoreMemory {
        let sum = |property: &str| -> u64 {
            super::CFS
                .iter()
                .filter_map(|cf| self.db.property_int_value_cf(self.cf(cf), property).ok())
                .flatten()
                .sum()
        };
        StoreMemory {
            memtables: sum("rocksdb.cur-size-all-mem-tables"),
            table_readers: sum("rocksdb.estimate-table-readers-mem"),
            block_cache: self
                .db
                .property_int_value_cf(self.cf(super::CF_META), "rocksdb.block-cache-usage")
                .ok()
                .flatten()
                .unwrap_or(0),
        }
    }
}
