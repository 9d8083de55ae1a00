//! Courtier's persistence layer: no actix, no MQTT packets, just records and a `Store` trait.
//!
//! - `records`: the serde structs that are persisted (sessions, retained messages).
//! - `memory`: `MemoryStore`, the in-process backend (tests, and brokers run without
//!   persistence). It behaves like a real store across an in-process broker restart.
//!
//! The broker calls the store from its actors; a backend must be cheap to call for the in-memory
//! case and is expected to batch for disk backends.

pub mod memory;
pub mod records;

pub use memory::MemoryStore;
pub use records::{
    RetainedRecord, SessionRecord, StoredMessage, StoredOutbound, SubscriptionRecord,
};

/// Errors a backend can report. Corruption is distinct so the broker can set a store aside.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    #[error("store schema version {found} is newer than this broker understands ({supported})")]
    NewerSchema { found: u32, supported: u32 },
    #[error("store backend error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// What the broker persists. Methods take records by reference; implementations copy what they
/// keep. All methods may be called from any thread.
pub trait Store: Send + Sync + 'static {
    /// Every persisted session (clean-session clients are never stored).
    fn load_sessions(&self) -> StoreResult<Vec<SessionRecord>>;
    /// Insert or replace the record of `record.client_id`.
    fn save_session(&self, record: &SessionRecord) -> StoreResult<()>;
    fn delete_session(&self, client_id: &str) -> StoreResult<()>;

    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>>;
    /// Insert or replace the retained message of `record.topic`.
    fn put_retained(&self, record: &RetainedRecord) -> StoreResult<()>;
    fn delete_retained(&self, topic: &str) -> StoreResult<()>;

    /// Make everything written so far durable (a no-op for memory).
    fn flush(&self) -> StoreResult<()>;
    /// Short name for logs ("memory", "rocksdb").
    fn backend_name(&self) -> &'static str;
}
