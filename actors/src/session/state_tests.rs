use super::*;
use crate::codec::Publish;
use crate::config::OverflowPolicy;
use crate::message::Message;
use bytes::Bytes;
use std::sync::Arc;

fn cfg(max_inflight: u16, max_queued: usize) -> BrokerConfig {
    BrokerConfig {
        max_inflight_messages: max_inflight,
        max_queued_messages: max_queued,
        ..BrokerConfig::default()
    }
}

fn pending(n: u32, qos: QoS) -> Delivery {
    let msg = Message::new("t".into(), Bytes::from(n.to_string()), qos, false);
    Delivery::new(Arc::new(msg), qos, false, false)
}

fn publish(p: Packet) -> Publish {
    match p {
        Packet::Publish(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[test]
fn inflight_window_limits_outstanding_qos1_messages() {
    let mut s = SessionState::new(&cfg(2, 100));
    for n in 0..5 {
        assert_eq!(s.offer(pending(n, QoS::AtLeastOnce), true), Offer::Accepted);
    }
    let a = publish(s.next_packet().unwrap());
    let b = publish(s.next_packet().unwrap());
    assert!(s.next_packet().is_none(), "window of 2 is full");
    assert!(!s.has_sendable());
    assert_ne!(a.pkid, b.pkid);
    assert!(s.on_puback(a.pkid.unwrap()).is_some());
    assert!(s.has_sendable());
    let c = publish(s.next_packet().unwrap());
    assert_eq!(&c.payload[..], b"2", "queue is FIFO");
}

#[test]
fn qos0_messages_do_not_use_the_window() {
    let mut s = SessionState::new(&cfg(1, 100));
    s.offer(pending(0, QoS::AtLeastOnce), true);
    s.offer(pending(1, QoS::AtMostOnce), true);
    assert!(publish(s.next_packet().unwrap()).pkid.is_some());
    let q0 = publish(s.next_packet().unwrap());
    assert_eq!(q0.pkid, None);
}

#[test]
fn packet_ids_skip_ids_in_flight_and_wrap() {
    let mut s = SessionState::new(&cfg(20, 100));
    s.next_pkid = u16::MAX;
    s.offer(pending(0, QoS::AtLeastOnce), true);
    s.offer(pending(1, QoS::AtLeastOnce), true);
    assert_eq!(publish(s.next_packet().unwrap()).pkid, Some(u16::MAX));
    assert_eq!(
        publish(s.next_packet().unwrap()).pkid,
        Some(1),
        "0 is never used"
    );
    s.next_pkid = u16::MAX;
    s.offer(pending(2, QoS::AtLeastOnce), true);
    assert_eq!(publish(s.next_packet().unwrap()).pkid, Some(2));
}

#[test]
fn qos2_outbound_flow_pubrec_pubrel_pubcomp() {
    let mut s = SessionState::new(&cfg(20, 100));
    s.offer(pending(0, QoS::ExactlyOnce), true);
    let id = publish(s.next_packet().unwrap()).pkid.unwrap();
    assert!(
        s.on_puback(id).is_none(),
        "PUBACK is not the answer to QoS 2"
    );
    assert_eq!(s.on_pubrec(id).0, Packet::PubRel(Ack::new(id)));
    assert!(s.on_pubcomp(id).is_some());
    assert_eq!(s.inflight_len(), 0);
}

#[test]
fn resume_resends_publish_with_dup_and_pending_pubrel_in_order() {
    let mut s = SessionState::new(&cfg(20, 100));
    s.offer(pending(0, QoS::ExactlyOnce), true);
    s.offer(pending(1, QoS::AtLeastOnce), true);
    let a = publish(s.next_packet().unwrap()).pkid.unwrap();
    let b = publish(s.next_packet().unwrap()).pkid.unwrap();
    s.on_pubrec(a);
    s.resume();
    assert_eq!(s.next_packet().unwrap(), Packet::PubRel(Ack::new(a)));
    let again = publish(s.next_packet().unwrap());
    assert!(again.dup, "resent PUBLISH has DUP set [MQTT-3.3.1-1]");
    assert_eq!(again.pkid, Some(b));
    assert!(s.next_packet().is_none());
}

/// The resend queue keeps each message's trace context, for the resend's trace hop.
#[test]
fn resends_carry_the_trace_context_of_their_message() {
    let mut s = SessionState::new(&cfg(20, 100));
    let (released, unacked) = (pending(0, QoS::ExactlyOnce), pending(1, QoS::AtLeastOnce));
    let ids = [released.msg.id, unacked.msg.id];
    s.offer(released, true);
    s.offer(unacked, true);
    let a = publish(s.next_packet().unwrap()).pkid.unwrap();
    s.next_packet();
    s.on_pubrec(a);
    s.resume();
    for id in ids {
        match s.next_outbound(None, None) {
            Some(Outbound::Resend(r)) => assert_eq!(r.hop().0, id),
            other => panic!("expected a resend, got {other:?}"),
        }
    }
}

#[test]
fn inbound_qos2_is_routed_once_until_released() {
    let mut s = SessionState::new(&cfg(20, 100));
    assert!(s.inbound_qos2(7));
    assert!(
        !s.inbound_qos2(7),
        "repeat before PUBREL must not be delivered again"
    );
    assert_eq!(s.on_pubrel(7, true), Packet::PubComp(Ack::new(7)));
    assert!(s.inbound_qos2(7), "after PUBREL the id is free again");
}

#[test]
fn offline_session_drops_qos0_and_queues_qos1() {
    let mut s = SessionState::new(&cfg(20, 100));
    assert_eq!(
        s.offer(pending(0, QoS::AtMostOnce), false),
        Offer::Dropped(DropReason::Qos0Offline, None)
    );
    assert_eq!(
        s.offer(pending(1, QoS::AtLeastOnce), false),
        Offer::Accepted
    );
    assert_eq!(s.queued(), 1);
    assert_eq!(s.dropped, 1);
}

#[test]
fn queue_limit_drops_and_counts() {
    let mut s = SessionState::new(&cfg(20, 3));
    for n in 0..3 {
        assert_eq!(
            s.offer(pending(n, QoS::AtLeastOnce), false),
            Offer::Accepted
        );
    }
    assert_eq!(
        s.offer(pending(3, QoS::AtLeastOnce), false),
        Offer::Dropped(DropReason::QueueFull, None)
    );
    assert_eq!(s.dropped, 1);
}

#[test]
fn drop_oldest_policy_evicts() {
    let mut c = cfg(20, 2);
    c.queue_overflow = OverflowPolicy::DropOldest;
    let mut s = SessionState::new(&c);
    let oldest = pending(0, QoS::AtLeastOnce);
    let (id, trace) = (oldest.msg.id, oldest.msg.trace);
    s.offer(oldest, false);
    s.offer(pending(1, QoS::AtLeastOnce), false);
    assert_eq!(
        s.offer(pending(2, QoS::AtLeastOnce), false),
        Offer::Evicted(vec![(None, id, trace)])
    );
    assert_eq!(&publish(s.next_packet().unwrap()).payload[..], b"1");
}

#[test]
fn retained_backlog_is_outside_the_queue_limit_and_paced_by_the_window() {
    let mut s = SessionState::new(&cfg(2, 1));
    for n in 0..10 {
        s.offer_retained(pending(n, QoS::AtLeastOnce));
    }
    assert_eq!(
        s.offer(pending(99, QoS::AtLeastOnce), true),
        Offer::Accepted
    );
    let a = publish(s.next_packet().unwrap());
    publish(s.next_packet().unwrap());
    assert!(s.next_packet().is_none());
    s.on_puback(a.pkid.unwrap());
    assert_eq!(&publish(s.next_packet().unwrap()).payload[..], b"2");
}

#[test]
fn control_packets_go_first() {
    let mut s = SessionState::new(&cfg(20, 10));
    s.offer(pending(0, QoS::AtMostOnce), true);
    s.push_control(Packet::PingResp);
    assert_eq!(s.next_packet().unwrap(), Packet::PingResp);
}

#[test]
fn clear_forgets_everything() {
    let mut s = SessionState::new(&cfg(20, 10));
    s.subscriptions
        .insert("a".into(), SubscriptionOptions::default());
    s.offer(pending(0, QoS::AtLeastOnce), true);
    s.next_packet();
    s.inbound_qos2(3);
    s.clear();
    assert!(s.subscriptions.is_empty());
    assert_eq!(s.inflight_len(), 0);
    assert!(s.inbound_qos2(3));
    assert!(!s.has_sendable());
}

/// Memory per idle connection: resends and retained catch-up live out of line only while there
/// are any, and the control queue gives its room back once drained (see `Rare`).
#[test]
fn a_session_that_caught_up_holds_no_out_of_line_state() {
    let mut s = SessionState::new(&cfg(20, 100));
    s.offer(pending(0, QoS::AtLeastOnce), true);
    s.offer(pending(1, QoS::AtLeastOnce), true);
    let first = publish(s.next_packet().unwrap());
    publish(s.next_packet().unwrap());
    assert!(s.rare.is_none(), "nothing rare yet");
    // Reconnect: both are resent with DUP, in order [MQTT-4.4.0-1].
    s.resume();
    assert!(s.rare.is_some());
    let again = publish(s.next_packet().unwrap());
    assert!(again.dup && again.pkid == first.pkid);
    assert!(s.rare.is_some(), "one resend left");
    publish(s.next_packet().unwrap());
    assert!(s.rare.is_none(), "freed once the last resend went out");
    s.offer_retained(pending(2, QoS::AtMostOnce));
    assert_eq!(&publish(s.next_packet().unwrap()).payload[..], b"2");
    assert!(
        s.rare.is_none(),
        "freed once the retained catch-up went out"
    );

    s.push_control(Packet::PingResp);
    assert!(s.control.capacity() > 0);
    s.release_idle_capacity();
    assert!(s.control.capacity() > 0, "a queued reply keeps its room");
    assert_eq!(s.next_packet(), Some(Packet::PingResp));
    s.release_idle_capacity();
    assert_eq!(s.control.capacity(), 0);
}

/// [MQTT-3.3.4-9]: no more QoS 1/2 deliveries in flight than the client's Receive Maximum,
/// even when `max_inflight_messages` allows more.
#[test]
fn the_window_is_the_smaller_of_receive_maximum_and_max_inflight() {
    let mut s = SessionState::new(&cfg(20, 100));
    s.set_receive_maximum(std::num::NonZeroU16::new(2));
    for i in 0..5 {
        s.offer(pending(i, QoS::AtLeastOnce), true);
    }
    assert!(s.next_packet().is_some());
    assert!(s.next_packet().is_some());
    assert!(
        s.next_packet().is_none(),
        "a third would exceed Receive Maximum 2"
    );
    // A client that allows more is still held to max_inflight_messages.
    let mut s = SessionState::new(&cfg(3, 100));
    s.set_receive_maximum(std::num::NonZeroU16::new(1000));
    for i in 0..5 {
        s.offer(pending(i, QoS::AtLeastOnce), true);
    }
    let sent = std::iter::from_fn(|| s.next_packet()).count();
    assert_eq!(sent, 3);
}
