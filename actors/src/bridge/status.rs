//! What a running bridge shows: its state and counters, read by /metrics, `$SYS` and the admin
//! API. Shared atomics, written by the bridge's task only.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Default, Debug)]
pub struct BridgeStatus {
    pub name: String,
    pub connected: AtomicBool,
    /// Connections accepted by the remote after the first one.
    pub reconnects: AtomicU64,
    /// Connection attempts that failed (refused, unreachable, broken before CONNACK).
    pub failed_attempts: AtomicU64,
    /// Messages queued for the remote or in flight to it.
    pub queued: AtomicU64,
    pub queued_bytes: AtomicU64,
    /// Messages the remote acknowledged (QoS 1/2) or that were written to it (QoS 0).
    pub sent: AtomicU64,
    /// Messages received from the remote and published locally.
    pub received: AtomicU64,
    /// Messages dropped because the queue was full.
    pub dropped: AtomicU64,
    /// The address of the current (or last) connection.
    pub remote: Mutex<String>,
    /// Why the last connection ended or the last attempt failed; empty: none yet.
    pub last_error: Mutex<String>,
}

/// A copy of a [`BridgeStatus`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BridgeSnapshot {
    pub name: String,
    pub connected: bool,
    pub remote: String,
    pub reconnects: u64,
    pub failed_attempts: u64,
    pub queued: u64,
    pub queued_bytes: u64,
    pub sent: u64,
    pub received: u64,
    pub dropped: u64,
    pub last_error: String,
}

impl BridgeStatus {
    pub fn new(name: &str) -> BridgeStatus {
        BridgeStatus {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    pub fn set_error(&self, e: &str) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e.to_owned();
    }

    pub fn set_remote(&self, addr: &str) {
        *self.remote.lock().unwrap_or_else(|p| p.into_inner()) = addr.to_owned();
    }

    pub fn snapshot(&self) -> BridgeSnapshot {
        BridgeSnapshot {
            name: self.name.clone(),
            connected: self.connected.load(Relaxed),
            remote: self
                .remote
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            reconnects: self.reconnects.load(Relaxed),
            failed_attempts: self.failed_attempts.load(Relaxed),
            queued: self.queued.load(Relaxed),
            queued_bytes: self.queued_bytes.load(Relaxed),
            sent: self.sent.load(Relaxed),
            received: self.received.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}
