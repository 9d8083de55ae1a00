//! The per-session bounded queue of messages waiting for the client (offline, or online with
//! a full inflight window or a full socket). Bounded in messages and payload bytes, with a named
//! overflow policy; the caller counts and logs every drop.

use crate::config::OverflowPolicy;
use crate::delivery::Delivery;
use std::collections::VecDeque;

#[derive(Debug)]
pub enum PushOutcome {
    Queued,
    /// The new message was refused (drop_new); here it is.
    DroppedNew(Delivery),
    /// The new message was queued and these oldest ones evicted (drop_oldest).
    DroppedOldest(Vec<Delivery>),
}

#[derive(Debug)]
pub struct BoundedQueue {
    items: VecDeque<Delivery>,
    bytes: usize,
    /// 0 = unlimited.
    max_messages: usize,
    /// 0 = unlimited.
    max_bytes: usize,
    policy: OverflowPolicy,
}

impl BoundedQueue {
    pub fn new(max_messages: usize, max_bytes: usize, policy: OverflowPolicy) -> Self {
        BoundedQueue {
            items: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            policy,
        }
    }

    fn fits(&self, extra_bytes: usize) -> bool {
        (self.max_messages == 0 || self.items.len() < self.max_messages)
            && (self.max_bytes == 0 || self.bytes + extra_bytes <= self.max_bytes)
    }

    pub fn push(&mut self, p: Delivery) -> PushOutcome {
        let size = p.msg.payload.len();
        if self.fits(size) {
            self.bytes += size;
            self.items.push_back(p);
            return PushOutcome::Queued;
        }
        match self.policy {
            OverflowPolicy::DropNew => PushOutcome::DroppedNew(p),
            OverflowPolicy::DropOldest => {
                // Evict from the front until the new message fits (a message larger than
                // max_bytes on its own is refused rather than emptying the queue).
                if self.max_bytes != 0 && size > self.max_bytes {
                    return PushOutcome::DroppedNew(p);
                }
                let mut evicted = Vec::new();
                while !self.fits(size) {
                    match self.pop_front() {
                        Some(old) => evicted.push(old),
                        None => break,
                    }
                }
                self.bytes += size;
                self.items.push_back(p);
                PushOutcome::DroppedOldest(evicted)
            }
        }
    }

    pub fn front(&self) -> Option<&Delivery> {
        self.items.front()
    }

    pub fn pop_front(&mut self) -> Option<Delivery> {
        let p = self.items.pop_front()?;
        self.bytes -= p.msg.payload.len();
        Some(p)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn iter(&self) -> impl Iterator<Item = &Delivery> {
        self.items.iter()
    }
    pub fn clear(&mut self) {
        self.items.clear();
        self.bytes = 0;
    }

    /// Takes out the messages `take` picks, keeping the others in order.
    pub fn take_where(&mut self, mut take: impl FnMut(&Delivery) -> bool) -> Vec<Delivery> {
        let mut taken = Vec::new();
        let mut kept = VecDeque::with_capacity(self.items.len());
        for p in self.items.drain(..) {
            match take(&p) {
                true => taken.push(p),
                false => kept.push_back(p),
            }
        }
        self.items = kept;
        self.bytes -= taken.iter().map(|p| p.msg.payload.len()).sum::<usize>();
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;
    use crate::message::Message;
    use bytes::Bytes;
    use std::sync::Arc;

    fn p(payload: &'static [u8]) -> Delivery {
        let msg = Message::new(
            "t".into(),
            Bytes::from_static(payload),
            QoS::AtLeastOnce,
            false,
        );
        Delivery::new(Arc::new(msg), QoS::AtLeastOnce, false, false)
    }

    #[test]
    fn drop_new_keeps_the_oldest_messages() {
        let mut q = BoundedQueue::new(2, 0, OverflowPolicy::DropNew);
        assert!(matches!(q.push(p(b"1")), PushOutcome::Queued));
        assert!(matches!(q.push(p(b"2")), PushOutcome::Queued));
        assert!(
            matches!(q.push(p(b"3")), PushOutcome::DroppedNew(r) if &r.msg.payload[..] == b"3")
        );
        assert_eq!(q.len(), 2);
        assert_eq!(&q.pop_front().unwrap().msg.payload[..], b"1");
    }

    #[test]
    fn drop_oldest_keeps_the_newest_messages() {
        let mut q = BoundedQueue::new(2, 0, OverflowPolicy::DropOldest);
        q.push(p(b"1"));
        q.push(p(b"2"));
        assert!(matches!(q.push(p(b"3")), PushOutcome::DroppedOldest(e) if e.len() == 1));
        let got: Vec<_> = q.iter().map(|x| x.msg.payload.clone()).collect();
        assert_eq!(
            got,
            vec![Bytes::from_static(b"2"), Bytes::from_static(b"3")]
        );
    }

    #[test]
    fn byte_limit_is_enforced_and_tracked() {
        let mut q = BoundedQueue::new(0, 5, OverflowPolicy::DropNew);
        assert!(matches!(q.push(p(b"abc")), PushOutcome::Queued));
        assert!(matches!(q.push(p(b"abc")), PushOutcome::DroppedNew(_)));
        assert!(matches!(q.push(p(b"ab")), PushOutcome::Queued));
        assert_eq!(q.bytes(), 5);
        q.pop_front();
        assert_eq!(q.bytes(), 2);
    }

    #[test]
    fn drop_oldest_refuses_a_message_larger_than_the_byte_limit() {
        let mut q = BoundedQueue::new(0, 2, OverflowPolicy::DropOldest);
        q.push(p(b"a"));
        assert!(matches!(q.push(p(b"abc")), PushOutcome::DroppedNew(_)));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn zero_means_unlimited() {
        let mut q = BoundedQueue::new(0, 0, OverflowPolicy::DropNew);
        for _ in 0..10_000 {
            assert!(matches!(q.push(p(b"x")), PushOutcome::Queued));
        }
    }
}
