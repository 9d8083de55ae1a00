//! The global cap on RocksDB's write buffers (`persistence.write_buffer_cap_mb`): one
//! option-setting function, separate from the open code, set once before the store opens.
//!
//! Each column family has memtables of its own (up to 3 x 16 MB, rocks.rs); with the cap set,
//! RocksDB's write buffer manager (`db_write_buffer_size`) flushes the largest memtable once
//! all of them together reach it, so the store's memory does not grow with the number of
//! column families written to.

use rocksdb::Options;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

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
