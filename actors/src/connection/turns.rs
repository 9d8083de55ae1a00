//! The connection's read loop as actix runs it: up to `PER_TURN` packets are handled in one
//! turn of the connection; then the turn ends and the connection's task goes to the back of
//! its thread's queue, so that other connections and sessions run.
//!
//! actix's own stream driver (`add_stream`) ends a turn after 16 items. A client that keeps
//! more PUBLISHes in flight (a bridge, a data logger, a benchmark) then gets its
//! acknowledgements 16 at a time, one socket write each, and on loopback each write costs the
//! broker the receiver's side of TCP too: in fan-in QoS 1 the kernel's share of a message was
//! the largest difference to FlashMQ (docs/PERFORMANCE.md). Handling as many packets per turn
//! as may be in flight to the session lets one write carry all their acknowledgements.

use super::credit::PIPELINE;
use actix::fut::ActorFuture;
use actix::prelude::*;
use futures_util::Stream;
use std::pin::Pin;
use std::task::{ready, Poll};

/// Packets handled per turn: as many as may be in flight to the session.
pub(super) const PER_TURN: usize = PIPELINE;

/// A stream of packets driven like actix's `add_stream`, with a larger turn. The stream is
/// held inline (the packet reader is `Unpin`): no allocation of its own per connection.
pub(super) struct Turns<S> {
    stream: S,
    started: bool,
}

impl<S> Turns<S> {
    pub(super) fn new(stream: S) -> Self {
        Turns {
            stream,
            started: false,
        }
    }
}

impl<A, S> ActorFuture<A> for Turns<S>
where
    S: Stream + Unpin,
    A: Actor<Context = Context<A>> + StreamHandler<S::Item>,
{
    type Output = ();

    fn poll(
        mut self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut Context<A>,
        task: &mut std::task::Context<'_>,
    ) -> Poll<()> {
        if !self.started {
            self.started = true;
            <A as StreamHandler<S::Item>>::started(act, ctx);
        }
        let mut handled = 0;
        while let Some(item) = ready!(Pin::new(&mut self.stream).poll_next(task)) {
            <A as StreamHandler<S::Item>>::handle(act, item, ctx);
            handled += 1;
            if ctx.waiting() {
                // The handler waits for something (a credit): no more until it is done.
                return Poll::Pending;
            }
            if handled == PER_TURN {
                task.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        <A as StreamHandler<S::Item>>::finished(act, ctx);
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// Pending once, woken at once: back in the queue behind every task ready now (tokio's
    /// `yield_now` defers its wake-up past them, which would hide the turns).
    async fn requeue() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    /// Records, for each item, how many scheduler rounds had passed when it was handled.
    struct Counter {
        rounds: Rc<Cell<usize>>,
        seen: Rc<RefCell<Vec<usize>>>,
        waited_for: Option<usize>,
    }

    impl Actor for Counter {
        type Context = Context<Self>;
    }

    impl StreamHandler<usize> for Counter {
        fn handle(&mut self, item: usize, ctx: &mut Context<Self>) {
            self.seen.borrow_mut().push(self.rounds.get());
            if Some(item) == self.waited_for {
                ctx.wait(actix::fut::wrap_future(requeue()));
            }
        }

        fn finished(&mut self, _: &mut Context<Self>) {
            System::current().stop();
        }
    }

    /// Items handled per turn of the actor, with another task counting the rounds between.
    fn turns(items: usize, waited_for: Option<usize>) -> Vec<usize> {
        let rounds = Rc::new(Cell::new(0));
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (r, s) = (rounds.clone(), seen.clone());
        let sys = System::new();
        sys.block_on(async move {
            actix_rt::spawn(async move {
                loop {
                    r.set(r.get() + 1);
                    requeue().await;
                }
            });
            Counter::create(move |ctx| {
                ctx.spawn(Turns::new(futures_util::stream::iter(0..items)));
                Counter {
                    rounds,
                    seen: s,
                    waited_for,
                }
            });
        });
        sys.run().unwrap();
        let seen = seen.borrow();
        let mut per_turn: Vec<usize> = Vec::new();
        for (i, round) in seen.iter().enumerate() {
            match per_turn.last_mut() {
                Some(n) if i > 0 && seen[i - 1] == *round => *n += 1,
                _ => per_turn.push(1),
            }
        }
        per_turn
    }

    #[test]
    fn a_turn_handles_as_many_items_as_the_pipeline_holds_then_lets_others_run() {
        let per_turn = turns(3 * PER_TURN + 5, None);
        assert_eq!(per_turn, [PER_TURN, PER_TURN, PER_TURN, 5]);
    }

    #[test]
    fn a_handler_that_waits_ends_the_turn_until_its_wait_is_over() {
        let per_turn = turns(PER_TURN + 10, Some(3));
        assert_eq!(per_turn[0], 4, "items 0..=3, then the wait: {per_turn:?}");
        assert_eq!(per_turn.iter().sum::<usize>(), PER_TURN + 10);
        assert!(per_turn[1..].iter().all(|&n| n <= PER_TURN), "{per_turn:?}");
    }
}
