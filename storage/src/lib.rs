//! Courtier's persistence layer: no actix, no MQTT packets, just records and a `Store` trait.
//!
//! - `records`: the persisted serde structs and the `Op`s that change them.
//! - `encoding`: bincode behind a schema-version header; keys.
//! - `refs`: reference counts of message bodies (a fanned-out message is stored once), shared
//!   by both backends.
//! - `memory`: `MemoryStore`, the in-process backend (tests, persistence disabled). It behaves
//!   like a real store across an in-process broker restart.
//! - `rocks`: `RocksStore` (feature `rocksdb`, on by default) with column families `sessions`,
//!   `bodies`, `messages`, `inbound`, `retained` and `meta`; corruption handling and the
//!   migration of older stores at open.
//!   A failed write (a full disk) takes the database out of service until it can be reopened
//!   (`rocks_store.rs`).
//! - `writer`: `CommitWriter`, the group-commit thread every write goes through; it reports a
//!   failing store once per episode and counts the failed writes.

pub mod encoding;
pub mod memory;
pub mod records;
mod refs;
#[cfg(feature = "rocksdb")]
pub mod rocks;
#[cfg(feature = "rocksdb")]
mod rocks_memory;
pub mod writer;

pub use memory::MemoryStore;
pub use records::{
    DeliveryState, Loaded, MessageBody, Op, QueuedMessage, QueuedRef, RetainedRecord, SessionMeta,
    SessionRecord, StoreMemory, StoreStats, StoredMessage, SubscriptionRecord,
};
#[cfg(feature = "rocksdb")]
pub use rocks::{open_rocks, OnCorruption, Opened, RocksStore};
#[cfg(feature = "rocksdb")]
pub use rocks_memory::set_write_buffer_cap;
pub use writer::{CommitWriter, SyncPolicy, WriterCounters};

/// Errors a backend can report. Corruption is distinct so the broker can set a store aside.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    #[error("store schema version {found} is newer than this broker understands ({supported}); refusing to touch it")]
    NewerSchema { found: u32, supported: u32 },
    #[error("store backend error: {0}")]
    Backend(String),
    #[error("store writer has stopped")]
    Stopped,
    /// Writes are refused for now: an earlier one failed (a full disk) and the store has not
    /// been able to take writes again yet.
    #[error("store is not writable: {0}")]
    Unavailable(String),
    /// A batch the store refuses, written by a broker bug (e.g. an entry whose body was never
    /// stored); nothing of the batch is written.
    #[error("invalid store write: {0}")]
    Invalid(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What the broker persists. All methods may be called from any thread; writes come from the
/// single `CommitWriter` thread, which batches them (group commit).
pub trait Store: Send + Sync + 'static {
    /// Every persisted session with its messages, and every retained message. Also counts the
    /// references to every message body and deletes what nothing can deliver any more (bodies
    /// without references, entries without a session or body), so call it before writing.
    fn load(&self) -> StoreResult<Loaded>;
    /// Only the retained messages (the RetainStore reloads these after a restart).
    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>>;
    /// Apply `ops` atomically, in order. `sync`: make them durable against a power cut (fsync)
    /// before returning; otherwise they are in the write-ahead log (safe against a process
    /// crash) when this returns.
    fn write(&self, ops: &[Op], sync: bool) -> StoreResult<()>;
    /// Fsync the write-ahead log (the "periodic" durability setting calls this on a timer).
    fn sync_wal(&self) -> StoreResult<()>;
    /// Flush everything and make it durable (shutdown).
    fn flush(&self) -> StoreResult<()>;
    /// What the store holds, counted by a scan (tests, diagnostics; not for hot paths).
    fn stats(&self) -> StoreResult<StoreStats>;
    /// Short name for logs ("memory", "rocksdb").
    fn backend_name(&self) -> &'static str;
    /// Whether writes are expected to succeed: false while the store refuses them (a start on
    /// a full disk), so the writer knows an episode of failed writes is already reported.
    fn writable(&self) -> bool {
        true
    }
    /// A write panicked on the writer thread: rebuild what the store keeps in memory about
    /// the stored state (the body reference counts), which the panic may have left half
    /// updated.
    fn after_panic(&self) {}
    /// Close the store for good at shutdown, once everything is written: the process must not
    /// exit with the database open (RocksDB's background threads and timers would then meet
    /// its static destructors: "terminate called without an active exception", SIGABRT).
    /// Later writes fail.
    fn close(&self) {}
    /// What the store's engine holds in memory (`None` for a store that keeps no caches).
    fn memory(&self) -> Option<StoreMemory> {
        None
    }
}

#[cfg(test)]
mod contract;
