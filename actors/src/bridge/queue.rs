//! A bridge's outbound queue as the bridge holds it (pure): the in-memory side of the durable
//! queue in the store, in order, bounded in messages and bytes with a named overflow policy,
//! with the in-flight window to the remote. The store entries are written by the publishers'
//! routers (the bridge is a persistent subscriber); this queue says which entries to delete:
//! those acknowledged by the remote and those dropped on overflow.

use crate::codec::QoS;
use crate::config::OverflowPolicy;
use crate::message::Message;
use std::collections::VecDeque;
use std::sync::Arc;

/// One message on its way to the remote.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Its store entry (the message id), `None` for a QoS 0 message, which is not stored.
    pub seq: Option<u64>,
    pub msg: Arc<Message>,
    pub qos: QoS,
    pub retain: bool,
    /// The packet id it was last sent with (a resend keeps it, with DUP set).
    pub pkid: Option<u16>,
    /// QoS 2: PUBREC received and PUBREL sent; what is resent is the PUBREL.
    pub released: bool,
    /// Sent before: the next PUBLISH is a resend, with DUP.
    pub dup: bool,
}

impl Outgoing {
    pub fn new(seq: Option<u64>, msg: Arc<Message>, qos: QoS, retain: bool) -> Outgoing {
        Outgoing {
            seq,
            msg,
            qos,
            retain,
            pkid: None,
            released: false,
            dup: false,
        }
    }

    fn size(&self) -> usize {
        self.msg.topic.len() + self.msg.payload.len()
    }
}

/// Bounds of the queue; 0 = unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_messages: usize,
    pub max_bytes: usize,
    pub overflow: OverflowPolicy,
}

/// What to send next.
pub enum Next {
    Publish(Outgoing),
    /// QoS 2 already released before a reconnect: send PUBREL again.
    Release(u16),
}

pub struct OutQueue {
    pending: VecDeque<Outgoing>,
    /// Sent QoS 1/2 messages waiting for the remote's acknowledgement, in order of sending.
    inflight: VecDeque<Outgoing>,
    bytes: usize,
    limits: Limits,
    next_pkid: u16,
}

impl OutQueue {
    pub fn new(limits: Limits) -> OutQueue {
        OutQueue {
            pending: VecDeque::new(),
            inflight: VecDeque::new(),
            bytes: 0,
            limits,
            next_pkid: 0,
        }
    }

    /// Messages queued or in flight.
    pub fn len(&self) -> usize {
        self.pending.len() + self.inflight.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    fn full(&self, size: usize) -> bool {
        let l = &self.limits;
        (l.max_messages > 0 && self.len() >= l.max_messages)
            || (l.max_bytes > 0 && self.bytes + size > l.max_bytes)
    }

    /// Append a message; returns the messages dropped to keep the bounds (the new one with
    /// `drop_new`, the oldest not yet sent with `drop_oldest`), whose store entries the caller
    /// deletes and counts.
    pub fn push(&mut self, item: Outgoing) -> Vec<Outgoing> {
        let mut dropped = Vec::new();
        let size = item.size();
        while self.full(size) {
            match self.limits.overflow {
                OverflowPolicy::DropOldest if !self.pending.is_empty() => {
                    let old = self.pending.pop_front().expect("not empty");
                    self.bytes -= old.size();
                    dropped.push(old);
                }
                _ => {
                    dropped.push(item);
                    return dropped;
                }
            }
        }
        self.bytes += size;
        self.pending.push_back(item);
        dropped
    }

    /// The next packet to send if the window (`window` QoS 1/2 messages in flight) has room;
    /// a QoS 0 message leaves the queue as it is handed out.
    pub fn next(&mut self, window: usize) -> Option<Next> {
        let front = self.pending.front()?;
        if front.qos != QoS::AtMostOnce && self.inflight.len() >= window {
            return None;
        }
        let mut item = self.pending.pop_front().expect("front exists");
        if item.qos == QoS::AtMostOnce {
            self.bytes -= item.size();
            return Some(Next::Publish(item));
        }
        if item.pkid.is_none() {
            item.pkid = Some(self.free_pkid());
        }
        let next = match item.released {
            true => Next::Release(item.pkid.expect("set above")),
            false => Next::Publish(item.clone()),
        };
        item.dup = true;
        self.inflight.push_back(item);
        Some(next)
    }

    /// A packet id not in flight (1..=65535).
    fn free_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.wrapping_add(1).max(1);
            let id = self.next_pkid;
            let used = |o: &Outgoing| o.pkid == Some(id);
            if !self.inflight.iter().any(used) && !self.pending.iter().any(used) {
                return id;
            }
        }
    }

    /// PUBACK (QoS 1) or PUBCOMP (QoS 2): the remote owns the message; returns it so the caller
    /// deletes its store entry. `None` for an unknown packet id.
    pub fn complete(&mut self, pkid: u16) -> Option<Outgoing> {
        let i = self.inflight.iter().position(|o| o.pkid == Some(pkid))?;
        let item = self.inflight.remove(i)?;
        self.bytes -= item.size();
        Some(item)
    }

    /// PUBREC: true if `pkid` is a QoS 2 message in flight, now released (send PUBREL).
    pub fn received(&mut self, pkid: u16) -> bool {
        match self.inflight.iter_mut().find(|o| o.pkid == Some(pkid)) {
            Some(o) if o.qos == QoS::ExactlyOnce => {
                o.released = true;
                true
            }
            _ => false,
        }
    }

    /// The connection ended: everything in flight goes back to the front, in order, to be sent
    /// again on the next connection (a PUBLISH with DUP; a released QoS 2 as PUBREL if the
    /// remote kept the session, else as a new PUBLISH).
    pub fn requeue(&mut self, session_kept: bool) {
        while let Some(mut item) = self.inflight.pop_back() {
            if !session_kept {
                item.released = false;
            }
            self.pending.push_front(item);
        }
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
