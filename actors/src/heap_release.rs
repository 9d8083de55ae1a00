//! Giving memory back to the system after large frees (a large packet's buffer, a session's
//! many subscriptions), not after every free.
//!
//! The broker's allocator (mimalloc, in the `courtier` binary) keeps freed pages for reuse and
//! returns them only when its thread next allocates or collects after a purge delay; a broker
//! that goes quiet after a burst would keep the burst's memory for as long as it runs. Each
//! worker thread counts what it freed in bulk; past [`THRESHOLD`] it asks the allocator, once,
//! a moment later, to collect (the binary's hook, [`set_hook`]). Ordinary traffic never counts.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::Duration;

/// Bytes freed in bulk on one thread before the allocator is asked to collect.
const THRESHOLD: usize = 8 << 20;

/// Waits before each collect: the first past mimalloc's purge delay; the second for what the
/// burst freed later (the tail of a session's unsubscriptions, memory other threads handed
/// back). One burst of frees leads to these two collects, whatever its size.
const DELAYS: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(1000)];

static HOOK: OnceLock<fn()> = OnceLock::new();

thread_local! {
    static FREED: Cell<usize> = const { Cell::new(0) };
    static PENDING: Cell<bool> = const { Cell::new(false) };
}

/// The binary's allocator collects through this (e.g. `mi_collect(true)`): frees this thread's
/// cached pages and purges freed memory process-wide.
pub fn set_hook(collect: fn()) {
    let _ = HOOK.set(collect);
}

/// About `bytes` were just freed in bulk on this thread (inside an actix or tokio runtime).
pub fn freed(bytes: usize) {
    let Some(&collect) = HOOK.get() else { return };
    let total = FREED.get().saturating_add(bytes);
    if total < THRESHOLD || PENDING.get() {
        FREED.set(total);
        return;
    }
    FREED.set(0);
    PENDING.set(true);
    crate::supervision::spawn_task("heap release", move || async move {
        loop {
            for delay in DELAYS {
                tokio::time::sleep(delay).await;
                collect();
            }
            // More bulk frees meanwhile, below the threshold: one more round for them.
            if FREED.replace(0) == 0 {
                break;
            }
        }
        PENDING.set(false);
    });
}
