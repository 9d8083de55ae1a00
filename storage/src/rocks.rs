//! `RocksStore`: the persistent backend.
//!
//! Column families: `sessions` (client id -> SessionMeta), `bodies` (body id -> MessageBody,
//! one per queued message however many sessions queue it), `messages` (client id 0x00 seq ->
//! QueuedRef, the sequence being the body's id), `inbound` (client id 0x00 pkid -> empty),
//! `retained` (topic -> RetainedRecord), `meta` (schema version, highest body id). Every value
//! but `meta`'s carries the schema-version header of `encoding.rs`. Bodies are reference
//! counted in memory (`refs.rs`): the counts are rebuilt by `load`, and each write adds the
//! deletes of the bodies it releases to its own atomic batch.
//!
//! A store of an older schema version (1: one whole message per session entry; 2: without the
//! MQTT 5.0 fields) is migrated when opened, in one atomic batch (`migrate.rs`).
//!
//! Opening reads everything once (the broker restores it all anyway), which also checks every
//! block's checksum. A store that fails to open or read as *corrupt* is, by default, moved
//! aside to `<path>.corrupt-<timestamp>` and a fresh store is created; with
//! `OnCorruption::Fail` the error is returned. A store written by a newer schema is never
//! touched: that is always an error. A store locked by another process is an error too, not
//! corruption.
//!
//! Opening at start-up is `rocks_open.rs` (with the check for a damaged write-ahead log,
//! `rocks_wal.rs`); the broker holds the database through `RocksStore` (`rocks_store.rs`),
//! which takes it out of service after a failed write (a full disk) and reopens it.

use crate::encoding::{
    body_key, client_range, decode, encode, inbound_key, message_key, parse_body_key,
    parse_inbound_key, parse_message_key, SCHEMA_VERSION,
};
use crate::records::*;
use crate::refs::{BodyRefs, Repairs, Step};
use crate::{Store, StoreError, StoreResult};
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DBRecoveryMode, ErrorKind, IteratorMode, LogLevel,
    Options, WriteBatch, WriteOptions, DB,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

#[path = "migrate_layouts.rs"]
pub(crate) mod layouts;
#[path = "migrate.rs"]
mod migrate;
#[path = "rocks_load.rs"]
mod rocks_load;
#[path = "rocks_marks.rs"]
mod rocks_marks;
#[path = "rocks_open.rs"]
mod rocks_open;
#[path = "rocks_store.rs"]
mod rocks_store;
#[path = "rocks_wal.rs"]
mod rocks_wal;
#[path = "rocks_write.rs"]
mod rocks_write;

use rocks_open::aside_path;
pub use rocks_open::open_rocks;
use rocks_wal::open_checking_wal;
pub use rocks_wal::WalDamage;

pub use rocks_store::{free_space, RocksStore, REOPEN_FREE};

const CF_SESSIONS: &str = "sessions";
const CF_BODIES: &str = "bodies";
const CF_MESSAGES: &str = "messages";
const CF_INBOUND: &str = "inbound";
const CF_RETAINED: &str = "retained";
const CF_META: &str = "meta";
const CFS: [&str; 6] = [
    CF_SESSIONS,
    CF_BODIES,
    CF_MESSAGES,
    CF_INBOUND,
    CF_RETAINED,
    CF_META,
];
const SCHEMA_KEY: &[u8] = b"schema_version";
/// A ceiling of the body ids ever stored (u64 LE): kept so that ids of deleted bodies stay taken.
const HIGH_WATER_KEY: &[u8] = b"body_high_water";

type KeyValue = (Box<[u8]>, Box<[u8]>);

/// What to do with a store that cannot be read (`persistence.on_corruption`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnCorruption {
    /// Move it aside, start empty, report it.
    MoveAside,
    /// Refuse to start.
    Fail,
}

/// The open database (`RocksStore` holds it and replaces it when reopening).
pub(crate) struct RocksDb {
    db: DB,
    path: PathBuf,
    /// Held for each whole write (plan, batch, write), so the counts follow the store's order.
    refs: Mutex<BodyRefs>,
    /// Opened read-only (a start on a full disk, `rocks_open.rs`): loading writes nothing
    /// (no schema record, no repairs) and writes fail.
    read_only: bool,
}

/// An opened store with its contents.
pub struct Opened {
    pub store: Arc<RocksStore>,
    pub loaded: Loaded,
    /// Where a corrupt store was moved, if it was.
    pub moved_aside: Option<PathBuf>,
    /// The bytes free when the disk had too little room to open the store for writing: the
    /// store was then loaded read-only and writes are refused until it can be reopened.
    pub read_only_free: Option<u64>,
    /// A damaged write-ahead log found at open (the store holds what preceded the damage).
    pub wal_damage: Option<WalDamage>,
}

fn options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_paranoid_checks(true);
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // A small broker on a NAS: modest memtables, few log files.
    o.set_write_buffer_size(16 * 1024 * 1024);
    o.set_max_write_buffer_number(3);
    o.set_keep_log_file_num(3);
    // RocksDB's own LOG: only its start-up header (version, options). The linked library
    // (Debian's librocksdb 7.8) asserts, aborting the process, when it writes a log file again
    // after a failed write; on a full disk the warnings it logs about the failure would do
    // exactly that. Courtier logs store errors itself.
    o.set_log_level(rocksdb::LogLevel::Fatal);
    o.set_stats_dump_period_sec(0);
    o.set_max_total_wal_size(64 * 1024 * 1024);
    crate::rocks_memory::cap_write_buffers(&mut o);
    crate::rocks_memory::share_block_cache(&mut o);
    o
}

/// Queue entries are small (a reference, or one message for one session) and short-lived (put
/// at publish, deleted at PUBACK): a smaller memtable keeps the skiplist that every delete
/// inserts its tombstone into short. With 16 MB, 200,000 small entries fit before a flush and
/// each delete cost ~1.7 µs instead of ~1.2 µs (storage/examples/opbench.rs, 10 sessions, 64-byte
/// payloads, 5 rounds); one session with 4 KB payloads flushes more often: ~3% more per entry.
const MESSAGES_WRITE_BUFFER: usize = 4 * 1024 * 1024;

fn cf_options(name: &str) -> Options {
    let mut o = options();
    if name == CF_MESSAGES {
        o.set_write_buffer_size(MESSAGES_WRITE_BUFFER);
    }
    o
}

fn is_corruption(e: &rocksdb::Error) -> bool {
    match e.kind() {
        ErrorKind::Corruption => true,
        // A missing SST/MANIFEST file surfaces as an I/O error naming the file.
        ErrorKind::IOError => e.to_string().contains("No such file"),
        _ => false,
    }
}

fn backend(e: rocksdb::Error) -> StoreError {
    if is_corruption(&e) {
        StoreError::Corrupt(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

impl RocksDb {
    /// Open (recovering the WAL to the last consistent point, as RocksDB does by default) and
    /// load.
    pub(crate) fn open_and_load(path: &Path) -> StoreResult<(RocksDb, Loaded)> {
        Self::open_and_load_with(path, DBRecoveryMode::PointInTime, LogLevel::Fatal)
    }

    /// Open and load, recovering the WAL in `mode`, with RocksDB's LOG at `level` (anything
    /// above `Fatal` only for an open that looks at the LOG and is closed again: see
    /// `options`).
    pub(crate) fn open_and_load_with(
        path: &Path,
        mode: DBRecoveryMode,
        level: LogLevel,
    ) -> StoreResult<(RocksDb, Loaded)> {
        // A non-empty directory without CURRENT has lost files: RocksDB would create a new
        // database over the remains.
        if path.is_dir()
            && std::fs::read_dir(path)?.next().is_some()
            && !path.join("CURRENT").exists()
        {
            return Err(StoreError::Corrupt(format!(
                "{} has no CURRENT file",
                path.display()
            )));
        }
        let cfs = CFS
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n)));
        let mut opts = options();
        opts.set_wal_recovery_mode(mode);
        opts.set_log_level(level);
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(backend)?;
        let store = RocksDb {
            db,
            path: path.to_path_buf(),
            refs: Mutex::new(BodyRefs::default()),
            read_only: false,
        };
        store.check_schema()?;
        let loaded = store.load()?;
        Ok((store, loaded))
    }

    /// Open read-only and load (a start on a full disk): RocksDB replays the write-ahead log
    /// into memory and writes nothing. The log is recovered with absolute consistency: a
    /// damaged one is an error here, since setting a copy aside needs room.
    pub(crate) fn open_read_only(path: &Path) -> StoreResult<(RocksDb, Loaded)> {
        let cfs = CFS
            .iter()
            .map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n)));
        let mut opts = options();
        opts.create_if_missing(false);
        opts.set_wal_recovery_mode(DBRecoveryMode::AbsoluteConsistency);
        let db = DB::open_cf_descriptors_read_only(&opts, path, cfs, false).map_err(backend)?;
        let store = RocksDb {
            db,
            path: path.to_path_buf(),
            refs: Mutex::new(BodyRefs::default()),
            read_only: true,
        };
        store.check_schema()?;
        let loaded = store.load()?;
        Ok((store, loaded))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, name: &str) -> &ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families created at open")
    }

    fn check_schema(&self) -> StoreResult<()> {
        match self
            .db
            .get_cf(self.cf(CF_META), SCHEMA_KEY)
            .map_err(backend)?
        {
            Some(v) => {
                let found = u16::from_le_bytes(v.as_slice().try_into().map_err(|_| {
                    StoreError::Corrupt("schema version record is malformed".into())
                })?);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found: found as u32,
                        supported: SCHEMA_VERSION as u32,
                    });
                }
                match found {
                    SCHEMA_VERSION => Ok(()),
                    // Never half-run: the migration is one batch, and a read-only store
                    // takes none.
                    1 | 2 if self.read_only => Err(StoreError::Unavailable(format!(
                        "the store has schema version {found}, and migrating it to \
                         {SCHEMA_VERSION} writes to the disk"
                    ))),
                    1 | 2 => self.migrate(found),
                    _ => Err(StoreError::Corrupt(format!(
                        "schema version {found} was never written by Courtier"
                    ))),
                }
            }
            None => {
                let empty = CFS.iter().all(|cf| {
                    self.db
                        .iterator_cf(self.cf(cf), IteratorMode::Start)
                        .next()
                        .is_none()
                });
                if !empty {
                    return Err(StoreError::Corrupt(
                        "schema version record is missing".into(),
                    ));
                }
                if self.read_only {
                    // Written when the store is opened for writing.
                    return Ok(());
                }
                self.db
                    .put_cf(self.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes())
                    .map_err(backend)
            }
        }
    }

    /// Every (key, value) of a column family, failing on the first unreadable entry.
    fn scan(&self, cf: &str) -> StoreResult<Vec<KeyValue>> {
        self.db
            .iterator_cf(self.cf(cf), IteratorMode::Start)
            .map(|r| r.map_err(backend))
            .collect()
    }

    fn count(&self, cf: &str) -> StoreResult<usize> {
        let mut n = 0;
        for r in self.db.iterator_cf(self.cf(cf), IteratorMode::Start) {
            r.map_err(backend)?;
            n += 1;
        }
        Ok(n)
    }

    fn refs(&self) -> MutexGuard<'_, BodyRefs> {
        // The counts are replaced wholesale by every load; a panic elsewhere cannot leave them
        // in a state worse than the panic.
        self.refs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for RocksDb {
    fn load(&self) -> StoreResult<Loaded> {
        let mut refs = self.refs();
        self.load_locked(&mut refs)
    }

    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>> {
        self.scan(CF_RETAINED)?
            .iter()
            .map(|(_, v)| decode(v, "retained message"))
            .collect()
    }

    fn write(&self, ops: &[Op], sync: bool) -> StoreResult<()> {
        let mut refs = self.refs();
        let steps = match refs.plan(ops) {
            Ok(steps) => steps,
            Err(e) => {
                self.recount(&mut refs);
                return Err(e);
            }
        };
        let mut batch = WriteBatch::default();
        for step in steps {
            self.add_to_batch(&mut batch, step);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        let written = self.db.write_opt(batch, &wo).map_err(backend);
        if written.is_err() {
            self.recount(&mut refs);
        }
        written
    }

    fn sync_wal(&self) -> StoreResult<()> {
        self.db.flush_wal(true).map_err(backend)
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush_wal(true).map_err(backend)?;
        for cf in CFS {
            self.db.flush_cf(self.cf(cf)).map_err(backend)?;
        }
        Ok(())
    }

    fn stats(&self) -> StoreResult<StoreStats> {
        Ok(StoreStats {
            sessions: self.count(CF_SESSIONS)?,
            bodies: self.count(CF_BODIES)?,
            references: self.count(CF_MESSAGES)?,
            retained: self.count(CF_RETAINED)?,
        })
    }

    fn backend_name(&self) -> &'static str {
        "rocksdb"
    }
}

#[cfg(test)]
#[path = "rocks_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod migrate_tests;
