//! The session's protocol state, as a pure state machine: no actors, no I/O, no clocks.
//!
//! The Session actor feeds it events (a message to deliver, an ack from the client, a
//! reconnect) and writes out the packets it hands back. Everything about packet ids, the
//! inflight window, QoS 2 states, queue limits and what to resend on reconnect lives here, so it
//! is unit-tested without a broker.

use super::deliverable::undeliverable;
pub use super::deliverable::Readable;
use super::inflight::InflightWindow;
use super::queue::{BoundedQueue, PushOutcome};
use super::state_types::Rare;
pub use super::state_types::{Inflight, OutState, Outbound};
use crate::codec::{Ack, LastWill, Packet, QoS, ReasonCode, SubscriptionOptions};
use crate::config::BrokerConfig;
use crate::delivery::Delivery;
pub use crate::delivery::Offer;
pub use crate::delivery::Resend;
use crate::metrics::DropReason;
use bytestring::ByteString;
use foldhash::HashMap;
use std::collections::VecDeque;

#[derive(Debug)]
pub struct SessionState {
    pub subscriptions: HashMap<ByteString, SubscriptionOptions>,
    /// 5.0: the identifiers some of them were made with.
    pub subscription_ids: super::sub_ids::SubscriptionIds,
    inflight: InflightWindow,
    next_seq: u64,
    next_pkid: u16,
    /// `max_inflight_messages`.
    max_inflight: u16,
    /// The window now: `max_inflight`, or less for a 5.0 client with a smaller Receive
    /// Maximum [MQTT-3.3.4-9].
    window: u16,
    queue_qos0_offline: bool,
    /// Broker-made packets that must go out before any PUBLISH (CONNACK, SUBACK, UNSUBACK).
    control: VecDeque<Packet>,
    queue: BoundedQueue,
    /// What most sessions have none of at a given moment, boxed on first use (see [`Rare`]).
    rare: Option<Box<Rare>>,
    /// Messages dropped for this client since the session started.
    pub dropped: u64,
}

impl SessionState {
    pub fn new(cfg: &BrokerConfig) -> SessionState {
        SessionState {
            subscriptions: HashMap::default(),
            subscription_ids: Default::default(),
            inflight: InflightWindow::default(),
            next_seq: 0,
            next_pkid: 1,
            max_inflight: cfg.max_inflight_messages.max(1),
            window: cfg.max_inflight_messages.max(1),
            queue_qos0_offline: cfg.queue_qos0_messages,
            control: VecDeque::new(),
            queue: BoundedQueue::new(
                cfg.max_queued_messages,
                cfg.max_queued_bytes,
                cfg.queue_overflow,
            ),
            rare: None,
            dropped: 0,
        }
    }

    /// Forget everything but the client id (clean session / clean start).
    pub fn clear(&mut self) {
        self.subscriptions.clear();
        self.subscription_ids.clear();
        self.inflight.clear();
        self.control.clear();
        self.rare = None;
        self.queue.clear();
        self.next_pkid = 1;
    }

    /// A message routed to this session. Offline sessions keep QoS 1/2 only, unless
    /// queue_qos0_messages is set (Mosquitto's rule).
    pub fn offer(&mut self, p: Delivery, online: bool) -> Offer {
        if !online && p.qos == QoS::AtMostOnce && !self.queue_qos0_offline {
            self.dropped += 1;
            return Offer::Dropped(DropReason::Qos0Offline, p.seq());
        }
        match self.queue.push(p) {
            PushOutcome::Queued => Offer::Accepted,
            PushOutcome::DroppedNew(p) => {
                self.dropped += 1;
                Offer::Dropped(DropReason::QueueFull, p.seq())
            }
            PushOutcome::DroppedOldest(evicted) => {
                self.dropped += evicted.len() as u64;
                Offer::Evicted(
                    evicted
                        .into_iter()
                        .map(|p| (p.seq(), p.msg.id, p.msg.trace))
                        .collect(),
                )
            }
        }
    }

    /// Retained messages matched by a new subscription.
    pub fn offer_retained(&mut self, p: Delivery) {
        self.rare().retained.push_back(p);
    }

    pub fn push_control(&mut self, p: Packet) {
        if self.control.capacity() == 0 {
            // Room for one: a VecDeque otherwise starts at 4 x 104 bytes.
            self.control.reserve_exact(1);
        }
        self.control.push_back(p);
    }

    /// Free the control queue's room once it is empty (called after each drain): an idle
    /// session would otherwise keep what its CONNACK made it allocate, ~104 bytes. Replies
    /// read together are queued together before a drain, so a busy session allocates it
    /// about once per batch.
    pub fn release_idle_capacity(&mut self) {
        if self.control.is_empty() && self.control.capacity() > 0 {
            self.control = VecDeque::new();
        }
    }

    /// Control packets not yet handed to the writer.
    pub fn control_len(&self) -> usize {
        self.control.len()
    }

    fn window_open(&self) -> bool {
        self.inflight.len() < usize::from(self.window)
    }

    /// The client's Receive Maximum (5.0; `None`: no limit of its own): never more QoS 1/2
    /// deliveries in flight to it than that [MQTT-3.3.4-9], nor than `max_inflight_messages`.
    /// Messages already in flight stay; new ones wait until the window has room.
    pub fn set_receive_maximum(&mut self, receive_maximum: Option<std::num::NonZeroU16>) {
        self.window = receive_maximum.map_or(self.max_inflight, |r| r.get().min(self.max_inflight));
    }

    fn can_send(&self, p: &Delivery) -> bool {
        p.qos == QoS::AtMostOnce || self.window_open()
    }

    /// Whether `next_outbound` would return a packet now.
    pub fn has_sendable(&self) -> bool {
        !self.control.is_empty()
            || self.rare.as_ref().is_some_and(|r| {
                !r.resend.is_empty() || r.retained.front().is_some_and(|p| self.can_send(p))
            })
            || (self.no_retained() && self.queue.front().is_some_and(|p| self.can_send(p)))
    }

    /// `next_outbound` as a plain packet, which is what the tests compare.
    #[cfg(test)]
    pub fn next_packet(&mut self) -> Option<Packet> {
        self.next_outbound(None, None).map(Outbound::into_packet)
    }

    /// The next packet to write to the client, if the window allows one: control packets, then
    /// resends, then retained messages of new subscriptions, then the queue (FIFO, so messages
    /// from one publisher keep their order [MQTT-4.6.0-6]). New deliveries come as [`Delivery`]
    /// (what the writer encodes without copying; see message.rs).
    ///
    /// `max_packet_size` is the client's (MQTT 5.0): a message that would not fit is not sent
    /// but handed back as [`Outbound::Dropped`], as is one whose expiry interval has passed
    /// [MQTT-3.3.2-5]; neither takes a packet id or a place in the window. So is one that
    /// `readable` (the authorizer's Receive check, when it makes one) refuses.
    pub fn next_outbound(
        &mut self,
        max_packet_size: Option<u32>,
        readable: Readable,
    ) -> Option<Outbound> {
        if let Some(p) = self.control.pop_front() {
            return Some(Outbound::Packet(p));
        }
        if let Some(rare) = &mut self.rare {
            if let Some(r) = rare.resend.pop_front() {
                self.free_rare_if_empty();
                return Some(Outbound::Resend(r));
            }
        }
        let retained = self.rare.as_ref().and_then(|r| r.retained.front());
        let pending = if let Some(p) = retained {
            if !self.can_send(p) {
                return None;
            }
            let p = self.rare.as_mut()?.retained.pop_front()?;
            self.free_rare_if_empty();
            p
        } else {
            let p = self.queue.front()?;
            if !self.can_send(p) {
                return None;
            }
            self.queue.pop_front()?
        };
        if let Some(reason) =
            undeliverable(&pending, max_packet_size, readable, &self.subscription_ids)
        {
            self.dropped += 1;
            return Some(Outbound::Dropped(pending, reason));
        }
        Some(Outbound::Publish(self.start_delivery(pending)))
    }

    /// Number of messages waiting in the bounded queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Payload bytes waiting in the bounded queue.
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    /// Give a QoS 1/2 delivery its packet id and its place in the window.
    fn start_delivery(&mut self, mut p: Delivery) -> Delivery {
        p.pkid = if p.qos == QoS::AtMostOnce {
            None
        } else {
            let id = self.inflight.allocate(&mut self.next_pkid);
            self.next_seq += 1;
            let state = if p.qos == QoS::AtLeastOnce {
                OutState::AwaitPubAck
            } else {
                OutState::AwaitPubRec
            };
            self.inflight.insert(
                id,
                Inflight {
                    delivery: p.clone(),
                    state,
                    seq: self.next_seq,
                },
            );
            Some(id)
        };
        p
    }

    /// PUBACK from the client: the finished delivery, or None if the id awaited no PUBACK.
    pub fn on_puback(&mut self, pkid: u16) -> Option<Inflight> {
        match self.inflight.get(pkid) {
            Some(i) if i.state == OutState::AwaitPubAck => self.inflight.remove(pkid),
            _ => None,
        }
    }

    /// PUBREC from the client: answer PUBREL [MQTT-4.3.3-1]. An unknown id is answered too, so a
    /// client that lost track can finish its flow. Also returns the delivery if it just moved to
    /// "released" (so its persisted state can follow).
    pub fn on_pubrec(&mut self, pkid: u16) -> (Packet, Option<&Inflight>) {
        let released = match self.inflight.get_mut(pkid) {
            Some(i) if i.state == OutState::AwaitPubRec => {
                i.state = OutState::AwaitPubComp;
                Some(&*i)
            }
            _ => None,
        };
        (Packet::PubRel(Ack::new(pkid)), released)
    }

    /// PUBCOMP from the client ends a QoS 2 delivery: the finished delivery, if any.
    pub fn on_pubcomp(&mut self, pkid: u16) -> Option<Inflight> {
        match self.inflight.get(pkid) {
            Some(i) if i.state == OutState::AwaitPubComp => self.inflight.remove(pkid),
            _ => None,
        }
    }

    /// The in-flight delivery with this packet id.
    pub fn inflight(&self, pkid: u16) -> Option<&Inflight> {
        self.inflight.get(pkid)
    }

    /// An inbound QoS 2 PUBLISH: true if it is new and must be routed, false if it repeats an id
    /// not yet released, so it must not be delivered again [MQTT-4.3.3-2].
    pub fn inbound_qos2(&mut self, pkid: u16) -> bool {
        self.rare().inbound_qos2.insert(pkid)
    }

    /// Whether this QoS 2 id awaits PUBREL.
    pub fn awaits_pubrel(&self, pkid: u16) -> bool {
        self.rare
            .as_ref()
            .is_some_and(|r| r.inbound_qos2.contains(&pkid))
    }

    /// PUBREL from the client releases the id; always answered with PUBCOMP [MQTT-4.3.3-2],
    /// which a 5.0 client is told carries "Packet Identifier not found" (0x92) for an id that
    /// was not awaiting release.
    pub fn on_pubrel(&mut self, pkid: u16, v5: bool) -> Packet {
        // The box stays: a client publishing at QoS 2 would otherwise allocate it per message.
        let known = self
            .rare
            .as_mut()
            .is_some_and(|r| r.inbound_qos2.remove(&pkid));
        let mut pubcomp = Ack::new(pkid);
        if v5 && !known {
            pubcomp.reason = ReasonCode::PacketIdentifierNotFound;
        }
        Packet::PubComp(pubcomp)
    }

    /// The client reconnected to this session: schedule every unfinished outbound flow again,
    /// in original order: PUBLISH with DUP for unacknowledged messages, PUBREL where PUBREC
    /// was received [MQTT-4.4.0-1].
    pub fn resume(&mut self) {
        self.control.clear();
        if let Some(r) = &mut self.rare {
            r.resend.clear();
        }
        let mut flows: Vec<(u16, &Inflight)> = self.inflight.iter().collect();
        flows.sort_by_key(|(_, i)| i.seq);
        let mut resend = VecDeque::new();
        for (pkid, i) in flows {
            resend.push_back(match i.state {
                OutState::AwaitPubComp => {
                    Resend::PubRel(pkid, (i.delivery.msg.id, i.delivery.msg.trace))
                }
                _ => Resend::Publish(Delivery {
                    dup: true,
                    pkid: Some(pkid),
                    ..i.delivery.clone()
                }),
            });
        }
        if !resend.is_empty() {
            self.rare().resend = resend;
        }
    }

    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Restore an in-flight delivery (from the store).
    pub fn restore_inflight(&mut self, pkid: u16, mut delivery: Delivery, released: bool) {
        self.next_seq += 1;
        delivery.pkid = Some(pkid);
        let state = match (delivery.qos, released) {
            (QoS::ExactlyOnce, true) => OutState::AwaitPubComp,
            (QoS::ExactlyOnce, false) => OutState::AwaitPubRec,
            _ => OutState::AwaitPubAck,
        };
        self.inflight.insert(
            pkid,
            Inflight {
                delivery,
                state,
                seq: self.next_seq,
            },
        );
    }

    pub fn restore_inbound_qos2(&mut self, pkid: u16) {
        self.rare().inbound_qos2.insert(pkid);
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Keep a Will until its delay passes or the session ends [MQTT-3.1.3-9].
    pub fn delay_will(&mut self, will: LastWill) {
        self.rare().delayed_will = Some(will);
    }

    /// The delayed Will, if one waits: to publish (delay over, session ending) or to drop (the
    /// client came back in time).
    pub fn take_delayed_will(&mut self) -> Option<LastWill> {
        let will = self.rare.as_mut()?.delayed_will.take();
        self.free_rare_if_empty();
        will
    }

    /// Free the box once nothing in it is left, so a session that caught up holds none.
    fn free_rare_if_empty(&mut self) {
        if self.rare.as_ref().is_some_and(|r| r.is_empty()) {
            self.rare = None;
        }
    }

    fn no_retained(&self) -> bool {
        self.rare.as_ref().is_none_or(|r| r.retained.is_empty())
    }
}

#[path = "state_handover.rs"]
mod handover;

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
