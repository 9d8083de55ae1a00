use super::*;

fn item(seq: u64, qos: QoS) -> Outgoing {
    let m = Message::new("t".into(), bytes::Bytes::from_static(b"12345"), qos, false);
    Outgoing::new(Some(seq), Arc::new(m), qos, false)
}

fn limits(max_messages: usize, max_bytes: usize, overflow: OverflowPolicy) -> Limits {
    Limits {
        max_messages,
        max_bytes,
        overflow,
    }
}

fn sent_seq(n: Option<Next>) -> u64 {
    match n {
        Some(Next::Publish(o)) => o.seq.unwrap(),
        _ => panic!("expected a publish"),
    }
}

#[test]
fn sends_in_order_within_the_window_and_completes_on_ack() {
    let mut q = OutQueue::new(limits(0, 0, OverflowPolicy::DropNew));
    for s in 1..=3 {
        assert!(q.push(item(s, QoS::AtLeastOnce)).is_empty());
    }
    assert_eq!(sent_seq(q.next(2)), 1);
    assert_eq!(sent_seq(q.next(2)), 2);
    assert!(q.next(2).is_none(), "window of 2 is full");
    assert_eq!(q.complete(1).unwrap().seq, Some(1));
    assert!(q.complete(1).is_none(), "an ack is used once");
    assert_eq!(sent_seq(q.next(2)), 3);
    assert_eq!(q.len(), 2);
}

#[test]
fn drop_new_refuses_the_new_message_when_full() {
    let mut q = OutQueue::new(limits(2, 0, OverflowPolicy::DropNew));
    q.push(item(1, QoS::AtLeastOnce));
    q.push(item(2, QoS::AtLeastOnce));
    let dropped = q.push(item(3, QoS::AtLeastOnce));
    assert_eq!(dropped.iter().map(|o| o.seq).collect::<Vec<_>>(), [Some(3)]);
    assert_eq!(q.len(), 2);
}

#[test]
fn drop_oldest_evicts_the_oldest_unsent_message_and_counts_bytes() {
    // 6 bytes per message (topic "t" + 5 bytes): room for two.
    let mut q = OutQueue::new(limits(0, 12, OverflowPolicy::DropOldest));
    q.push(item(1, QoS::AtLeastOnce));
    q.push(item(2, QoS::AtLeastOnce));
    assert_eq!(sent_seq(q.next(10)), 1);
    let dropped = q.push(item(3, QoS::AtLeastOnce));
    assert_eq!(dropped.iter().map(|o| o.seq).collect::<Vec<_>>(), [Some(2)]);
    assert_eq!(q.bytes(), 12);
    // Only the in-flight one is left to evict: the new message is refused instead.
    assert_eq!(sent_seq(q.next(10)), 3);
    let dropped = q.push(item(4, QoS::AtLeastOnce));
    assert_eq!(dropped.iter().map(|o| o.seq).collect::<Vec<_>>(), [Some(4)]);
}

#[test]
fn requeue_puts_inflight_back_in_order_with_its_packet_id() {
    let mut q = OutQueue::new(limits(0, 0, OverflowPolicy::DropNew));
    for s in 1..=3 {
        q.push(item(s, QoS::ExactlyOnce));
    }
    let first = match q.next(10) {
        Some(Next::Publish(o)) => o.pkid.unwrap(),
        _ => panic!(),
    };
    q.next(10);
    assert!(q.received(first));
    q.requeue(true);
    assert_eq!(q.inflight(), 0);
    assert!(matches!(q.next(10), Some(Next::Release(p)) if p == first));
    assert_eq!(sent_seq(q.next(10)), 2);
    assert_eq!(sent_seq(q.next(10)), 3);
    // Without the remote's session, a released message is published again.
    q.requeue(false);
    assert_eq!(sent_seq(q.next(10)), 1);
}

#[test]
fn qos0_leaves_the_queue_when_sent_and_ignores_the_window() {
    let mut q = OutQueue::new(limits(0, 0, OverflowPolicy::DropNew));
    q.push(item(1, QoS::AtLeastOnce));
    q.push(item(2, QoS::AtMostOnce));
    assert_eq!(sent_seq(q.next(1)), 1);
    assert_eq!(sent_seq(q.next(1)), 2);
    assert_eq!(q.len(), 1);
    q.complete(1);
    assert!(q.is_empty());
    assert_eq!(q.bytes(), 0);
}
