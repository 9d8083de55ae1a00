//! Connect timeouts and keep-alives of the connections on one worker thread, checked by one
//! sweep per thread instead of one timer per connection.
//!
//! A timer per connection (actix `run_later`: a boxed tokio `Sleep` and its callback) cost
//! every idle client ~160 bytes, more than anything else in the connection apart from the
//! actor itself (docs/PERFORMANCE.md, "Memory per idle connection"). Here a connection holds
//! one small [`Watch`], shared with its reader (which stamps the time of each read), and the
//! thread keeps a weak pointer to it. Every [`TICK`] the sweep looks at each watch and tells a
//! connection whose deadline has passed; the connection decides what that means
//! ([`DeadlinePassed`]). Deadlines are therefore kept to within one tick, which is well
//! inside the slack [MQTT-3.1.2-24] allows (1.5 x the keep-alive).
//!
//! The sweep runs only while the thread has connections to watch, so an idle broker does not
//! wake up for it.

use super::Connection;
use actix::prelude::*;
use actix::WeakAddr;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

/// How often the sweep runs: the most a deadline is late by. Each sweep touches every watch of
/// the thread; with 19,000 idle connections the broker used 10 ms of CPU in 6 s, as with a
/// timer per connection (docs/PERFORMANCE.md).
pub(super) const TICK: Duration = Duration::from_millis(500);

/// What a connection must do by when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// Send CONNECT (and be attached to a session) before this instant.
    Connect(Instant),
    /// Send something at least every this long (1.5 x the client's keep-alive).
    KeepAlive(Duration),
    /// Nothing (keep-alive 0, or the connection is closing).
    Nothing,
}

/// One connection's deadline and the time of its last read.
pub(super) struct Watch {
    last_read: Cell<Instant>,
    due: Cell<Due>,
    /// None only for a reader under test, which no sweep watches.
    conn: Option<WeakAddr<Connection>>,
}

impl Watch {
    /// Watch a new connection: it must send CONNECT within `connect_timeout`.
    pub(super) fn start(conn: WeakAddr<Connection>, connect_timeout: Duration) -> Rc<Watch> {
        let now = Instant::now();
        let w = Rc::new(Watch {
            last_read: Cell::new(now),
            due: Cell::new(Due::Connect(now + connect_timeout)),
            conn: Some(conn),
        });
        register(&w);
        w
    }

    /// A watch no sweep looks at (a reader under test).
    #[cfg(test)]
    pub(super) fn unwatched() -> Rc<Watch> {
        Rc::new(Watch {
            last_read: Cell::new(Instant::now()),
            due: Cell::new(Due::Nothing),
            conn: None,
        })
    }

    /// Bytes arrived (stamped by the reader once per socket read).
    pub(super) fn touch(&self) {
        self.last_read.set(Instant::now());
    }

    pub(super) fn set_due(&self, due: Due) {
        self.due.set(due);
    }

    /// Whether the deadline has passed at `now`.
    pub(super) fn passed(&self, now: Instant) -> bool {
        match self.due.get() {
            Due::Connect(at) => now >= at,
            Due::KeepAlive(limit) => now.saturating_duration_since(self.last_read.get()) >= limit,
            Due::Nothing => false,
        }
    }
}

/// Sent by the sweep to a connection whose deadline passed: which one.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct DeadlinePassed(pub(super) Due);

thread_local! {
    static WATCHED: RefCell<Vec<Weak<Watch>>> = const { RefCell::new(Vec::new()) };
    static SWEEPING: Cell<bool> = const { Cell::new(false) };
}

/// Have this thread's sweep look at `w` (starting the sweep if it is not running).
fn register(w: &Rc<Watch>) {
    WATCHED.with(|l| l.borrow_mut().push(Rc::downgrade(w)));
    if !SWEEPING.replace(true) {
        crate::supervision::spawn_task("keep-alive sweep", sweep);
    }
}

/// Check every watch of this thread each tick; forget the ones whose connection is gone; end
/// when there is nothing left to watch (the next connection starts a new sweep).
async fn sweep() {
    loop {
        tokio::time::sleep(TICK).await;
        #[cfg(feature = "fault-injection")]
        if SWEEP_PANIC.swap(false, std::sync::atomic::Ordering::Relaxed) {
            panic!("keep-alive sweep: injected panic");
        }
        let now = Instant::now();
        let mut passed = Vec::new();
        let empty = WATCHED.with(|l| {
            let mut l = l.borrow_mut();
            l.retain(|w| {
                let Some(w) = w.upgrade() else { return false };
                if w.passed(now) {
                    // Told once: the connection closes, or sets a new deadline.
                    let due = w.due.replace(Due::Nothing);
                    passed.extend(w.conn.clone().map(|c| (c, due)));
                }
                true
            });
            if l.capacity() > 2 * l.len() + 64 {
                l.shrink_to_fit();
            }
            l.is_empty()
        });
        for (conn, due) in passed {
            if let Some(c) = conn.upgrade() {
                c.do_send(DeadlinePassed(due));
            }
        }
        if empty {
            SWEEPING.set(false);
            return;
        }
    }
}

/// Test-only: the next tick of a sweep (on any thread) panics.
#[cfg(feature = "fault-injection")]
static SWEEP_PANIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Test-only: make the next tick of a keep-alive sweep panic.
#[cfg(feature = "fault-injection")]
pub fn inject_sweep_panic() {
    SWEEP_PANIC.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Connections watched on this thread now (for tests).
#[cfg(test)]
pub(super) fn watched() -> usize {
    WATCHED.with(|l| l.borrow().iter().filter(|w| w.strong_count() > 0).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(due: Due, last_read: Instant) -> Watch {
        Watch {
            last_read: Cell::new(last_read),
            due: Cell::new(due),
            conn: None,
        }
    }

    #[test]
    fn a_connect_deadline_passes_at_its_instant() {
        let t = Instant::now();
        let w = watch(Due::Connect(t + Duration::from_secs(10)), t);
        assert!(!w.passed(t + Duration::from_millis(9_999)));
        assert!(w.passed(t + Duration::from_secs(10)));
        // Reading does not extend a connect deadline: only attaching ends it.
        w.last_read.set(t + Duration::from_secs(9));
        assert!(w.passed(t + Duration::from_secs(10)));
    }

    // [MQTT-3.1.2-24]: the limit counts from the last read, so every packet moves it.
    #[test]
    fn a_keep_alive_limit_counts_from_the_last_read() {
        let t = Instant::now();
        let w = watch(Due::KeepAlive(Duration::from_secs(3)), t);
        assert!(!w.passed(t + Duration::from_millis(2_999)));
        assert!(w.passed(t + Duration::from_secs(3)));
        w.last_read.set(t + Duration::from_secs(2));
        assert!(!w.passed(t + Duration::from_millis(4_999)));
        assert!(w.passed(t + Duration::from_secs(5)));
    }

    #[test]
    fn nothing_due_never_passes() {
        let t = Instant::now();
        let w = watch(Due::Nothing, t);
        assert!(!w.passed(t + Duration::from_secs(1_000_000)));
    }

    /// A dropped connection's watch leaves the list at the next sweep, and a thread with
    /// nothing to watch stops sweeping (an idle broker does not wake up for it).
    #[actix_rt::test]
    async fn the_sweep_forgets_gone_connections_and_stops_when_none_are_left() {
        let w = Watch::unwatched();
        register(&w);
        assert_eq!(watched(), 1);
        assert!(SWEEPING.get());
        drop(w);
        tokio::time::sleep(TICK * 3).await;
        assert_eq!(WATCHED.with(|l| l.borrow().len()), 0);
        assert!(
            !SWEEPING.get(),
            "the sweep still runs with nothing to watch"
        );
    }
}
