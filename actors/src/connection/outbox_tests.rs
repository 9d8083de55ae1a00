//! The outbox's contract: bound, wake-ups, cancellation, end of senders.

use super::*;
use crate::codec::Packet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
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

/// A parked writer that counts how often it is resumed, keeping the receiver it is resumed
/// with as the real writer's new task would.
struct Writer(Arc<Mutex<Vec<OutboxReceiver>>>);

impl ParkedWriter for Writer {
    fn resume(self: Box<Self>, rx: OutboxReceiver) {
        self.0.lock().unwrap().push(rx);
    }
}

fn writer() -> (Arc<Mutex<Vec<OutboxReceiver>>>, Box<Writer>) {
    let resumed = Arc::new(Mutex::new(Vec::new()));
    (resumed.clone(), Box::new(Writer(resumed)))
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
fn an_idle_writer_parks_and_one_item_or_a_batch_resumes_it_once() {
    let (tx, mut rx) = channel(8);
    let (resumed, w) = writer();
    let mut got = VecDeque::new();
    assert!(matches!(rx.take_or_park(&mut got, w), Idle::Parked));
    drop(rx); // the task ends; its writer stays parked
    assert_eq!(tx.room(), Ok(8), "a parked writer is not a gone one");
    tx.try_send(ping()).unwrap();
    let mut rx = resumed.lock().unwrap().pop().expect("resumed by the item");
    let (resumed, w) = writer();
    let w = match rx.take_or_park(&mut got, w) {
        Idle::Items(w) => w,
        _ => panic!("expected items"),
    };
    assert!(matches!(rx.take_or_park(&mut got, w), Idle::Parked));
    let mut batch = vec![ping(), ping(), ping()];
    tx.send_all(&mut batch).unwrap();
    assert!(batch.is_empty());
    let mut rx = {
        let mut r = resumed.lock().unwrap();
        assert_eq!(r.len(), 1, "one resumption for the whole batch");
        r.pop().unwrap()
    };
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Items(_)
    ));
    assert_eq!(got.len(), 4, "appended in order after what was left");
}

#[test]
fn a_parked_writer_is_dropped_when_the_senders_leave_or_cancel() {
    for cancel in [false, true] {
        let (tx, mut rx) = channel(4);
        let (resumed, w) = writer();
        let mut got = VecDeque::new();
        assert!(matches!(rx.take_or_park(&mut got, w), Idle::Parked));
        drop(rx);
        // The parked writer holds the only other reference to the resumed list.
        assert_eq!(Arc::strong_count(&resumed), 2);
        if cancel {
            tx.cancel();
        } else {
            drop(tx.clone());
            assert_eq!(Arc::strong_count(&resumed), 2, "one sender is left");
            drop(tx);
        }
        assert_eq!(Arc::strong_count(&resumed), 1, "parked writer dropped");
        assert!(resumed.lock().unwrap().is_empty(), "and never resumed");
    }
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
    let (tx, mut rx) = channel(4);
    let tx2 = tx.clone();
    tx.try_send(ping()).unwrap();
    drop(tx);
    drop(tx2);
    let mut got = VecDeque::new();
    // What was queued before the senders left is still written.
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Items(_)
    ));
    assert_eq!(got.len(), 1);
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Ended(_)
    ));
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
    let mut rx = rx;
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Cancelled
    ));
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

/// Memory per idle connection: once the writer has taken everything and parks, the outbox
/// holds no queue capacity (an idle connection used to keep the slots its CONNACK needed).
#[test]
fn an_idle_outbox_frees_its_queue_capacity() {
    let (tx, mut rx) = channel(8);
    let mut items = vec![ping(), ping(), ping()];
    tx.send_all(&mut items).unwrap();
    let mut got = VecDeque::with_capacity(4);
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Items(_)
    ));
    // The swap left the writer's (empty, allocated) buffer in the outbox.
    assert!(rx.shared.lock().items.capacity() > 0);
    got.clear();
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Parked
    ));
    assert_eq!(tx.0.lock().items.capacity(), 0);
}

/// A writer's task ends when it parks: the outbox must not keep the waker its last write left
/// for `poll_cancelled`, which keeps the ended task's memory (~380 bytes per idle connection,
/// measured with heaptrack).
#[test]
fn parking_drops_the_waker_a_write_left() {
    let (_tx, mut rx) = channel(4);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert_eq!(rx.poll_cancelled(&mut cx), Poll::Pending);
    assert_eq!(
        Arc::strong_count(&count),
        3,
        "ours, the waker's, the outbox's"
    );
    let mut got = VecDeque::new();
    assert!(matches!(
        rx.take_or_park(&mut got, writer().1),
        Idle::Parked
    ));
    assert_eq!(Arc::strong_count(&count), 2, "the outbox let go of it");
}

/// Every connection has one outbox (an `Arc` of this, 16 bytes of counts on top): at most 112
/// bytes keeps it in mimalloc's 128-byte class, where 136 bytes cost the 160-byte one.
#[test]
fn the_outbox_fits_mimallocs_128_byte_class() {
    let size = std::mem::size_of::<Shared>();
    assert!(size <= 112, "the outbox grew to {size} bytes");
}

/// A new connection's writer is parked without a task; the first item starts it. One already
/// queued starts it at once.
#[test]
fn a_new_writer_parks_until_the_first_item() {
    let (tx, rx) = channel(4);
    let (resumed, w) = writer();
    rx.park(w);
    assert!(
        resumed.lock().unwrap().is_empty(),
        "no task for an idle writer"
    );
    tx.try_send(ping()).unwrap();
    assert_eq!(
        resumed.lock().unwrap().len(),
        1,
        "started by the first item"
    );

    let (tx, rx) = channel(4);
    tx.try_send(ping()).unwrap();
    let (resumed, w) = writer();
    rx.park(w);
    assert_eq!(resumed.lock().unwrap().len(), 1, "started at once");
}

/// A writer in the middle of a write is woken only to be cancelled: what is queued meanwhile
/// waits for the write to finish (a wake-up per item was work for nothing on the publish
/// path).
#[test]
fn items_queued_during_a_write_do_not_wake_the_writer() {
    let (tx, rx) = channel(4);
    let (count, w) = waker();
    let mut cx = Context::from_waker(&w);
    assert_eq!(rx.poll_cancelled(&mut cx), Poll::Pending);
    tx.try_send(ping()).unwrap();
    tx.send_all(&mut vec![ping(), ping()]).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    tx.cancel();
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
}
