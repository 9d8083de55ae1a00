//! The bounded queue between a connection's producers (its Connection actor and its Session)
//! and its writer task.
//!
//! It replaced a tokio `mpsc` channel, for two reasons measured in docs/PERFORMANCE.md: that
//! channel cost every connection ~860 bytes before it carried anything (a cache-padded channel
//! block, a first block of 32 slots, and a oneshot to cancel the writer), and its receiving side
//! took a mutex per item to hand the permit back. Here one mutex guards a `VecDeque`: a session
//! hands over everything it drains in one lock ([`Outbox::send_all`]), and the writer takes
//! everything queued in one lock ([`OutboxReceiver::take_or_park`]).
//!
//! While nothing is queued the writer does not wait in a task: it parks its state (the write
//! half, its codec) here and its task ends ([`OutboxReceiver::take_or_park`]); the producer that
//! queues the next item starts it again ([`ParkedWriter::resume`]). An idle connection so holds
//! no writer task, whose future and header were ~384 bytes of every idle connection
//! (docs/PERFORMANCE.md, "Memory per idle connection").
//!
//! The bound is the per-connection high-water mark (ARCHITECTURE.md §3 step 7): producers see
//! how much room is left and wait ([`Outbox::wait_for_room`]) when there is none. Items the
//! writer has taken but not yet written no longer count, so a connection holds at most about
//! twice the bound.

use super::writer::Outgoing;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// The writer is gone (closed, cancelled, or failed): nothing sent now would be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// A writer that went idle: what it needs to start again, kept by its outbox until an item is
/// queued.
pub trait ParkedWriter: Send {
    /// Start the writer again, on the current thread, taking from `rx`.
    fn resume(self: Box<Self>, rx: OutboxReceiver);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError {
    Full,
    Closed,
}

struct State {
    items: VecDeque<Outgoing>,
    /// u32, like `senders`: the two share a word, which keeps the outbox in mimalloc's
    /// 128-byte class (guarded by a test).
    capacity: u32,
    /// Live `Outbox` handles: at zero, the writer finishes what is queued and ends.
    senders: u32,
    /// Drop what is queued and stop at once (a peer that does not read).
    cancelled: bool,
    /// The writer task ended.
    receiver_gone: bool,
    /// The writer task while it writes, to be told of a cancellation (nothing else wakes it:
    /// it takes what was queued meanwhile once the write is done).
    cancel_waker: Option<Waker>,
    /// The writer, while it has nothing to write and no task.
    parked: Option<Box<dyn ParkedWriter>>,
    /// Producers waiting for room.
    room: Vec<Waker>,
}

struct Shared(Mutex<State>);

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code under this lock can panic half-way through an update; a poisoned lock
        // still holds a consistent queue.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A producer's handle. Cloning it counts as one more sender.
pub struct Outbox(Arc<Shared>);

/// The writer task's handle.
pub struct OutboxReceiver {
    shared: Arc<Shared>,
    /// This handle's writer parked: dropping the handle does not end the writer.
    parked: bool,
}

pub fn channel(capacity: u32) -> (Outbox, OutboxReceiver) {
    let shared = Arc::new(Shared(Mutex::new(State {
        items: VecDeque::new(),
        capacity,
        senders: 1,
        cancelled: false,
        receiver_gone: false,
        cancel_waker: None,
        parked: None,
        room: Vec::new(),
    })));
    (Outbox(shared.clone()), OutboxReceiver::new(shared))
}

/// After an item was queued (the lock released): start the parked writer, if it was parked.
/// A writer with a task takes the item itself once its current write is done.
fn resume(shared: &Arc<Shared>, parked: Option<Box<dyn ParkedWriter>>) {
    if let Some(writer) = parked {
        writer.resume(OutboxReceiver::new(shared.clone()));
    }
}

impl Outbox {
    /// Queue one item if there is room.
    pub fn try_send(&self, item: Outgoing) -> Result<(), TrySendError> {
        let mut s = self.0.lock();
        if s.receiver_gone || s.cancelled {
            return Err(TrySendError::Closed);
        }
        if s.items.len() >= s.capacity as usize {
            return Err(TrySendError::Full);
        }
        s.items.push_back(item);
        let parked = s.parked.take();
        drop(s);
        resume(&self.0, parked);
        Ok(())
    }

    /// How many items fit now.
    pub fn room(&self) -> Result<usize, Closed> {
        let s = self.0.lock();
        if s.receiver_gone || s.cancelled {
            return Err(Closed);
        }
        Ok((s.capacity as usize).saturating_sub(s.items.len()))
    }

    /// Queue every item of `items` (which is left empty), after the caller checked the
    /// [`room`](Self::room). Another producer may have used some of it meanwhile; the bound
    /// is then exceeded by what that producer queued, which stays small (the Connection only
    /// queues its CONNACK and its closing).
    pub fn send_all(&self, items: &mut Vec<Outgoing>) -> Result<(), Closed> {
        let mut s = self.0.lock();
        if s.receiver_gone || s.cancelled {
            drop(s);
            items.clear();
            return Err(Closed);
        }
        s.items.extend(items.drain(..));
        let parked = s.parked.take();
        drop(s);
        resume(&self.0, parked);
        Ok(())
    }

    /// Resolves once there is room for at least one item, or the writer is gone.
    pub fn wait_for_room(&self) -> impl Future<Output = Result<(), Closed>> + 'static {
        let shared = self.0.clone();
        std::future::poll_fn(move |cx| {
            let mut s = shared.lock();
            if s.receiver_gone || s.cancelled {
                return Poll::Ready(Err(Closed));
            }
            if s.items.len() < s.capacity as usize {
                return Poll::Ready(Ok(()));
            }
            if !s.room.iter().any(|w| w.will_wake(cx.waker())) {
                s.room.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// Stop the writer at once, dropping what is queued: for a peer that is not reading.
    pub fn cancel(&self) {
        let mut s = self.0.lock();
        s.cancelled = true;
        s.items = VecDeque::new();
        let writing = s.cancel_waker.take();
        let room = std::mem::take(&mut s.room);
        // A parked writer is dropped with its write half: nothing more is written.
        let parked = s.parked.take();
        drop(s);
        drop(parked);
        writing.into_iter().chain(room).for_each(Waker::wake);
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Outbox {
        self.0.lock().senders += 1;
        Outbox(self.0.clone())
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.senders -= 1;
        if s.senders > 0 {
            return;
        }
        // Nothing can be queued any more: a parked writer has nothing left to write, and its
        // write half closes as it is dropped. A writing one sees the end once its write is
        // done.
        let parked = s.parked.take();
        if parked.is_some() {
            s.receiver_gone = true;
        }
        drop(s);
        drop(parked);
    }
}

/// What the writer gets from [`OutboxReceiver::take_or_park`].
pub enum Idle<W> {
    /// Items were appended; the writer goes on.
    Items(W),
    /// Nothing was queued: the writer is parked in the outbox, its task ends.
    Parked,
    /// [`Outbox::cancel`] was called: stop without writing.
    Cancelled,
    /// Every sender is gone and nothing is left: finish.
    Ended(W),
}

impl OutboxReceiver {
    fn new(shared: Arc<Shared>) -> OutboxReceiver {
        OutboxReceiver {
            shared,
            parked: false,
        }
    }

    /// Park a new connection's writer until the first item is queued, without starting a task
    /// for it; with something queued already, start it.
    pub fn park<W: ParkedWriter + 'static>(mut self, writer: Box<W>) {
        let mut s = self.shared.lock();
        if s.items.is_empty() && !s.cancelled && s.senders > 0 {
            park_in(&mut s, writer);
            self.parked = true;
            return;
        }
        drop(s);
        writer.resume(self);
    }

    /// Append everything queued to `into` (one lock for the whole burst); with nothing queued,
    /// park `writer` in the outbox, to be resumed by the next item queued.
    pub fn take_or_park<W: ParkedWriter + 'static>(
        &mut self,
        into: &mut VecDeque<Outgoing>,
        writer: Box<W>,
    ) -> Idle<Box<W>> {
        let mut s = self.shared.lock();
        if s.cancelled {
            return Idle::Cancelled;
        }
        if s.items.is_empty() {
            if s.senders == 0 {
                return Idle::Ended(writer);
            }
            // Going idle: an idle connection keeps no queue capacity (memory per idle
            // connection). The next burst allocates once; a busy writer rarely gets here.
            if s.items.capacity() > 0 {
                s.items = VecDeque::new();
            }
            park_in(&mut s, writer);
            self.parked = true;
            return Idle::Parked;
        }
        let room = take_into(&mut s, into);
        drop(s);
        room.into_iter().for_each(Waker::wake);
        Idle::Items(writer)
    }

    /// Take whatever is queued without waiting; false if the outbox was cancelled.
    pub fn take_now(&self, into: &mut VecDeque<Outgoing>) -> bool {
        let mut s = self.shared.lock();
        if s.cancelled {
            return false;
        }
        let room = take_into(&mut s, into);
        drop(s);
        room.into_iter().for_each(Waker::wake);
        true
    }

    /// Ready once [`Outbox::cancel`] is called (polled while a write is under way).
    pub fn poll_cancelled(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.shared.lock();
        if s.cancelled {
            return Poll::Ready(());
        }
        s.cancel_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Keep `writer` in the outbox until an item is queued (the caller's receiver then does not
/// end the writer when dropped).
fn park_in(s: &mut State, writer: Box<dyn ParkedWriter>) {
    // The waker a write left for `poll_cancelled` holds the ending task's memory.
    s.cancel_waker = None;
    s.parked = Some(writer);
}

/// Move what is queued to the end of `into`; returns the producers waiting for room, to be
/// woken once the lock is released.
fn take_into(s: &mut State, into: &mut VecDeque<Outgoing>) -> Vec<Waker> {
    if s.items.is_empty() {
        return Vec::new();
    }
    if into.is_empty() {
        // Swap: the writer's emptied buffer becomes the queue's, so neither allocates.
        std::mem::swap(&mut s.items, into);
    } else {
        into.append(&mut s.items);
    }
    std::mem::take(&mut s.room)
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        if self.parked {
            // The writer lives on in the outbox (and may already run again elsewhere).
            return;
        }
        let mut s = self.shared.lock();
        s.receiver_gone = true;
        s.items = VecDeque::new();
        let room = std::mem::take(&mut s.room);
        drop(s);
        room.into_iter().for_each(Waker::wake);
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
