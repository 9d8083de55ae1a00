//! The global cap on RocksDB's write buffers (`persistence.write_buffer_cap_mb`): one
//! option-setting function, separate from the open code, set once before the store opens.
//!
//! Each column family has memtables of its own (up to 3 x 16 MB, rocks.rs); with the cap set,
//! RocksDB's write buffer manager (`db_write_buffer_size`) flushes the largest memtable once
//! all of them together reach it, so the store's memory does not grow with the number of
//! column families written to.
//!
//! Reads share one block cache of [`BLOCK_CACHE`] bytes: RocksDB's default gives every
//! column family a 32 MB cache of its own, which start-up's full scan of the store would fill
//! (up to ~200 MB for the six families) and keep for as long as the broker runs. The broker
//! reads the store only at start-up and after a reopen; the cache serves compactions' and
//! those scans' index lookups, not message delivery.

use rocksdb::{BlockBasedOptions, Cache, Options};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// The block cache all column families share, in bytes.
pub const BLOCK_CACHE: usize = 8 << 20;

/// Bytes; 0: no cap of its own.
static WRITE_BUFFER_CAP: AtomicUsize = AtomicUsize::new(0);

/// Cap all write buffers of stores opened from now on at `bytes` (0: no cap).
pub fn set_write_buffer_cap(bytes: usize) {
    WRITE_BUFFER_CAP.store(bytes, Relaxed);
}

/// Applies the cap to the database options (a no-op without one).
pub(crate) fn cap_write_buffers(o: &mut Options) {
    let cap = WRITE_BUFFER_CAP.load(Relaxed);
    if cap > 0 {
        o.set_db_write_buffer_size(cap);
    }
}

/// Makes the options' tables use the process's one shared block cache.
pub(crate) fn share_block_cache(o: &mut Options) {
    static CACHE: OnceLock<Option<Cache>> = OnceLock::new();
    // `None` if RocksDB cannot make the cache: the tables then keep its default.
    if let Some(cache) = CACHE.get_or_init(|| Cache::new_lru_cache(BLOCK_CACHE).ok()) {
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(cache);
        o.set_block_based_table_factory(&table);
    }
}
