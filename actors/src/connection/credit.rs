//! Credits: how many packets a connection may have handed to its session and not yet seen
//! answered. The connection takes one per packet; the session gives it back (by dropping it)
//! once the packet is handled and its reply is in the outbox. With no credit left the
//! connection stops reading, so a client that outruns the broker, or does not read its
//! acknowledgements, is slowed by TCP flow control and holds at most `PIPELINE` packets here.
//!
//! Credits rather than a reply per packet: a packet costs two atomic operations and at most
//! one `do_send` (the PUBLISHes or acknowledgements of one turn share one), not a task, a
//! oneshot and a future per packet (docs/PERFORMANCE.md).

use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Packets a connection may have in flight to its session, as many as it handles in one turn
/// (turns.rs): a client that keeps up to this many PUBLISHes in flight gets their
/// acknowledgements in one write. Not more: the whole batch is handled before its first
/// acknowledgement goes out, and a client that keeps 64 in flight (the benchmark's
/// publishers) then waits for each batch with nothing left to send; at 48 it sends the rest
/// meanwhile (fan-in QoS 1 throughput at par with 16, where 64 lost 3-10 %; docs/PERFORMANCE.md).
pub const PIPELINE: usize = 48;

/// A counting semaphore for exactly one waiter (the connection) and any number of returners:
/// an atomic count and a waker, where tokio's `Semaphore` takes a mutex on every release
/// (measured at ~3 % of the broker's CPU in fan-out, one release per PUBACK).
struct Inner {
    free: AtomicUsize,
    waker: AtomicWaker,
}

/// The connection's side: where credits come from.
#[derive(Clone)]
pub struct Credits(Arc<Inner>);

impl Default for Credits {
    fn default() -> Self {
        Credits(Arc::new(Inner {
            free: AtomicUsize::new(PIPELINE),
            waker: AtomicWaker::new(),
        }))
    }
}

impl Credits {
    /// A credit if one is free.
    pub fn try_take(&self) -> Option<Credit> {
        self.0
            .free
            .fetch_update(Ordering::Acquire, Ordering::Relaxed, |n| n.checked_sub(1))
            .ok()?;
        Some(Credit(Some(self.0.clone())))
    }

    /// Every credit is taken.
    pub fn none_free(&self) -> bool {
        self.0.free.load(Ordering::Relaxed) == 0
    }

    /// Wait for a credit. Only the connection waits (one waiter at a time).
    pub async fn take(self) -> Option<Credit> {
        std::future::poll_fn(|cx| {
            if let Some(c) = self.try_take() {
                return std::task::Poll::Ready(Some(c));
            }
            self.0.waker.register(cx.waker());
            // A credit returned between the first try and the registration must not be missed.
            match self.try_take() {
                Some(c) => std::task::Poll::Ready(Some(c)),
                None => std::task::Poll::Pending,
            }
        })
        .await
    }
}

/// One packet's credit; returned to the connection when dropped, whatever happens to the
/// packet (handled, refused, or dropped with a session that stopped). `None` once it went
/// into [`HeldCredits`].
pub struct Credit(Option<Arc<Inner>>);

impl Drop for Credit {
    fn drop(&mut self) {
        if let Some(inner) = &self.0 {
            give_back(inner, 1);
        }
    }
}

fn give_back(inner: &Inner, n: usize) {
    if inner.free.fetch_add(n, Ordering::Release) == 0 {
        inner.waker.wake();
    }
}

/// Credits of one connection kept together (a session's replies not yet in the outbox): a
/// count and one reference to the connection's counter, rather than a queue of credits, so
/// holding one and returning some cost no allocation. Whatever is still held when it is
/// dropped goes back.
#[derive(Default)]
pub struct HeldCredits {
    inner: Option<Arc<Inner>>,
    held: usize,
}

impl HeldCredits {
    pub fn hold(&mut self, mut credit: Credit) {
        let Some(inner) = credit.0.take() else {
            return;
        };
        match &self.inner {
            None => self.inner = Some(inner),
            Some(mine) if Arc::ptr_eq(mine, &inner) => {}
            // Another connection's credit: not held here, returned at once.
            Some(_) => return give_back(&inner, 1),
        }
        self.held += 1;
    }

    pub fn len(&self) -> usize {
        self.held
    }

    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Return all but `keep` of the credits held.
    pub fn release_to(&mut self, keep: usize) {
        if self.held <= keep {
            return;
        }
        if let Some(inner) = &self.inner {
            give_back(inner, self.held - keep);
        }
        self.held = keep;
        if keep == 0 {
            self.inner = None;
        }
    }
}

impl Drop for HeldCredits {
    fn drop(&mut self) {
        self.release_to(0);
    }
}

impl std::fmt::Debug for Credit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_credit_is_returned() {
        let credits = Credits::default();
        let taken: Vec<Credit> = (0..PIPELINE).map_while(|_| credits.try_take()).collect();
        assert_eq!(taken.len(), PIPELINE);
        assert!(credits.try_take().is_none(), "window full");
        drop(taken);
        assert!(credits.try_take().is_some());
    }

    #[test]
    fn held_credits_go_back_when_released_or_dropped() {
        let credits = Credits::default();
        let mut held = HeldCredits::default();
        for _ in 0..PIPELINE {
            held.hold(credits.try_take().expect("free"));
        }
        assert_eq!(held.len(), PIPELINE);
        assert!(credits.try_take().is_none(), "held, not returned");
        held.release_to(PIPELINE - 2);
        let two: Vec<Credit> = (0..3).map_while(|_| credits.try_take()).collect();
        assert_eq!(two.len(), 2, "the released ones only");
        drop(two);
        drop(held);
        let all: Vec<Credit> = (0..PIPELINE).map_while(|_| credits.try_take()).collect();
        assert_eq!(all.len(), PIPELINE, "dropping returns the rest");
    }

    #[tokio::test]
    async fn a_waiting_connection_is_woken_by_a_returned_credit() {
        let credits = Credits::default();
        let mut taken: Vec<Credit> = (0..PIPELINE).map_while(|_| credits.try_take()).collect();
        let waiter = tokio::spawn(credits.clone().take());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "no credit free yet");
        let returned = std::thread::spawn(move || drop(taken.pop()));
        returned.join().unwrap();
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiter).await;
        assert!(got.expect("woken").unwrap().is_some());
    }
}
