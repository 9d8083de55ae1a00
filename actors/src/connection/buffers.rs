//! Spare I/O buffers, a few per worker thread, shared by the connections on that thread.
//!
//! A connection holds a read or write buffer only while it has bytes in flight (memory per idle
//! connection, docs/PERFORMANCE.md). Without a pool a busy connection would allocate and free a
//! buffer for every read and every burst it writes, and glibc's malloc pays for buffers this
//! size with `malloc_consolidate` (measured with perf during fan-in); with it, the buffer one
//! connection releases is what the next one takes.

use bytes::BytesMut;
use std::cell::RefCell;

/// Size of a fresh buffer: also the most one read asks the socket for. A connection whose
/// packets wait for its session (pipeline full) keeps its buffer meanwhile: 4 KB keeps that
/// small, and fan-in throughput was the same as with 16 KB (4 interleaved rounds each).
pub(super) const BUF_LEN: usize = 4 * 1024;

/// Spare buffers kept per thread.
const SPARES: usize = 8;

/// A buffer that grew beyond this (a large packet, a long burst) is freed, not kept.
pub(super) const KEEP_AT_MOST: usize = 128 * 1024;

thread_local! {
    static POOL: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for at least `BUF_LEN` bytes.
pub(super) fn take() -> BytesMut {
    let mut buf = POOL
        .with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| BytesMut::with_capacity(BUF_LEN));
    // Takes back the room in front of a buffer that was advanced, without allocating.
    buf.reserve(BUF_LEN);
    buf
}

/// Hand back a buffer whose contents are no longer needed.
pub(super) fn give(mut buf: BytesMut) {
    buf.clear();
    // A buffer advanced past a large packet still owns the room in front of it, which
    // `capacity()` does not count: take that room back first, so that the size checked is
    // the whole allocation (else a pooled buffer could hide the megabytes of one large packet,
    // and `take` would reclaim them).
    let _ = buf.try_reclaim(buf.capacity() + 1);
    if buf.capacity() > KEEP_AT_MOST {
        crate::heap_release::freed(buf.capacity());
        return;
    }
    if buf.capacity() < BUF_LEN {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < SPARES {
            p.push(buf);
        }
    });
}

/// Spare buffers this thread holds now.
#[cfg(test)]
pub(super) fn spares() -> usize {
    POOL.with(|p| p.borrow().len())
}
