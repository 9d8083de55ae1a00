//! The outbox's contract: bound, wake-ups, cancellation, end of senders.

use super::*;
use crate::codec::Packet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

/// Counts its wake-ups.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn waker() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), Waker::from(c))
}

fn ping() -> Outgoing {
    Outgoing::packet(Packet::PingResp)
}

#[test]
fn the_bound_refuses_the_item_after_capacity_and_taking_makes_room() {
    let (tx, rx) = channel(2);
    assert_eq!(tx.room(), Ok(2));
    tx.try_send(ping()).unwrap();
    tx.try_send(ping()).unwrap();
    assert_eq!(tx.try_send(ping()), Err(TrySendError::Full));
    assert_eq!(tx.room(), Ok(0));
    let mut got = VecDeque::new();
    assert!(rx.take_now(&mut got));
    assert_eq!(got.len(), 2);
    assert_eq!(tx.room(), Ok(2));
}

#[test]
fn a_waiting_writer_is_woken_by_one_item_or_a_batch() {
    let (tx, rx) = channel(8);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    let mut got = VecDeque::new();
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Pending);
    tx.try_send(ping()).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Ready(Take::Items));
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Pending);
    let mut batch = vec![ping(), ping(), ping()];
    tx.send_all(&mut batch).unwrap();
    assert!(batch.is_empty());
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        2,
        "one wake-up for the whole batch"
    );
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Ready(Take::Items));
    assert_eq!(got.len(), 4, "appended in order after what was left");
}

#[test]
fn a_producer_waiting_for_room_is_woken_when_the_writer_takes() {
    let (tx, rx) = channel(1);
    tx.try_send(ping()).unwrap();
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    let mut wait = Box::pin(tx.wait_for_room());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    let mut got = VecDeque::new();
    assert!(rx.take_now(&mut got));
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
}

#[test]
fn the_writer_ends_after_the_last_sender_once_everything_is_taken() {
    let (tx, rx) = channel(4);
    let tx2 = tx.clone();
    tx.try_send(ping()).unwrap();
    drop(tx);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    let mut got = VecDeque::new();
    // What was queued before the senders left is still written.
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Ready(Take::Items));
    assert_eq!(
        rx.poll_take(&mut cx, &mut got),
        Poll::Pending,
        "tx2 is alive"
    );
    drop(tx2);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Ready(Take::Ended));
}

#[test]
fn cancel_drops_what_is_queued_and_stops_a_writer_mid_write() {
    let (tx, rx) = channel(4);
    tx.try_send(ping()).unwrap();
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert_eq!(rx.poll_cancelled(&mut cx), Poll::Pending);
    tx.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert_eq!(rx.poll_cancelled(&mut cx), Poll::Ready(()));
    let mut got = VecDeque::new();
    assert_eq!(
        rx.poll_take(&mut cx, &mut got),
        Poll::Ready(Take::Cancelled)
    );
    assert!(got.is_empty());
    assert_eq!(tx.try_send(ping()), Err(TrySendError::Closed));
    assert_eq!(tx.room(), Err(Closed));
}

#[test]
fn producers_see_closed_once_the_writer_is_gone() {
    let (tx, rx) = channel(1);
    tx.try_send(ping()).unwrap();
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    let mut wait = Box::pin(tx.wait_for_room());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    drop(rx);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "a waiting producer is told"
    );
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Err(Closed)));
    let mut batch = vec![ping()];
    assert_eq!(tx.send_all(&mut batch), Err(Closed));
    assert!(batch.is_empty());
}

/// Memory per idle connection: once the writer has taken everything and waits, the outbox
/// holds no queue capacity (an idle connection used to keep the slots its CONNACK needed).
#[test]
fn an_idle_outbox_frees_its_queue_capacity() {
    let (tx, rx) = channel(8);
    let mut items = vec![ping(), ping(), ping()];
    tx.send_all(&mut items).unwrap();
    let (_count, w) = waker();
    let mut cx = Context::from_waker(&w);
    let mut got = VecDeque::with_capacity(4);
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Ready(Take::Items));
    // The swap left the writer's (empty, allocated) buffer in the outbox.
    assert!(rx.0.lock().items.capacity() > 0);
    got.clear();
    assert_eq!(rx.poll_take(&mut cx, &mut got), Poll::Pending);
    assert_eq!(rx.0.lock().items.capacity(), 0);
}
