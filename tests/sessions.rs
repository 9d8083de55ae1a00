//! Sessions: clean session, offline queueing, redelivery on reconnect, QoS 2 exactly-once
//! (MQTT 3.1.1 sections 3.1.2.4, 4.1, 4.3.3, 4.4).

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

/// Send DISCONNECT and wait until the broker has closed the socket.
fn disconnect_cleanly(mut c: RawClient) {
    c.send(&disconnect());
    c.expect_closed(CLOSE);
}

fn publish_qos1(addr: SocketAddr, id: &str, topic: &str, payload: &[u8]) {
    let mut p = RawClient::connected(addr, id);
    p.send(&publish(topic, payload, 1, false, false, 1));
    p.expect(&puback(1));
    disconnect_cleanly(p);
}

#[test]
fn mqtt_3_1_2_4_persistent_session_keeps_subscriptions_and_queues_qos1_while_offline() {
    let b = start_broker();
    let (mut s, present) = RawClient::handshake(b.addr(), "persist", false);
    assert!(!present, "a brand new session is not present");
    s.subscribe(1, &[("persist/t", 1)]);
    disconnect_cleanly(s);

    publish_qos1(b.addr(), "persist-pub", "persist/t", b"while offline");

    let (mut s, present) = RawClient::handshake(b.addr(), "persist", false);
    assert!(present, "MQTT-3.2.2-2: session present must be 1");
    let got = s.recv_publish();
    assert_eq!(
        (got.topic.as_str(), got.qos, got.payload.as_slice()),
        ("persist/t", 1, &b"while offline"[..])
    );
    s.send(&puback(got.packet_id.unwrap()));
    // The subscription itself survived too.
    publish_qos1(b.addr(), "persist-pub", "persist/t", b"online again");
    assert_eq!(s.recv_publish().payload, b"online again");
}

// A persistent session that subscribed to nothing, with sessions set never to expire (no
// expiry timer either): nothing in the broker sends to it while its client is away, and the
// registry holds sessions weakly, so it must keep itself running [MQTT-3.1.2-4].
#[test]
fn mqtt_3_1_2_4_persistent_session_without_subscriptions_survives_while_offline() {
    let b = start_broker_with(TestConfig {
        session_expiry_secs: 0,
        ..TestConfig::default()
    });
    let (s, present) = RawClient::handshake(b.addr(), "nosubs", false);
    assert!(!present);
    disconnect_cleanly(s);
    // Another client's traffic, so the broker surely handled the Detach meanwhile.
    publish_qos1(b.addr(), "nosubs-pub", "nosubs/t", b"x");
    let (_s, present) = RawClient::handshake(b.addr(), "nosubs", false);
    assert!(present, "MQTT-3.2.2-2: session present must be 1");
}

#[test]
fn mqtt_3_1_2_6_clean_session_discards_the_old_session() {
    let b = start_broker();
    let (mut s, _) = RawClient::handshake(b.addr(), "cleaner", false);
    s.subscribe(1, &[("cleaner/t", 1)]);
    disconnect_cleanly(s);
    publish_qos1(b.addr(), "cleaner-pub", "cleaner/t", b"lost");

    let (mut s, present) = RawClient::handshake(b.addr(), "cleaner", true);
    assert!(
        !present,
        "MQTT-3.2.2-1: clean session gets session present 0"
    );
    s.expect_silence(Duration::from_millis(500));
    publish_qos1(
        b.addr(),
        "cleaner-pub",
        "cleaner/t",
        b"no subscription any more",
    );
    s.expect_silence(Duration::from_millis(500));
    disconnect_cleanly(s);

    // MQTT-3.1.2-6: a clean session is not kept after the connection either.
    let (_s, present) = RawClient::handshake(b.addr(), "cleaner", false);
    assert!(!present);
}

#[test]
fn mqtt_4_4_0_1_unacknowledged_qos1_is_resent_with_dup_on_reconnect() {
    let b = start_broker();
    let (mut s, _) = RawClient::handshake(b.addr(), "dup1", false);
    s.subscribe(1, &[("dup1/t", 1)]);
    let mut p = RawClient::connected(b.addr(), "dup1-pub");
    p.send(&publish("dup1/t", b"ack me", 1, false, false, 5));
    p.expect(&puback(5));
    let first = s.recv_publish();
    assert!(!first.dup);
    s.drop_connection(); // no PUBACK

    let (mut s, present) = RawClient::handshake(b.addr(), "dup1", false);
    assert!(present);
    let again = s.recv_publish();
    assert!(again.dup, "MQTT-3.3.1-1: a redelivery has DUP set");
    assert_eq!(
        (again.packet_id, again.payload.as_slice(), again.qos),
        (first.packet_id, &b"ack me"[..], 1)
    );
    s.send(&puback(again.packet_id.unwrap()));
    s.expect_silence(Duration::from_millis(500));
}

#[test]
fn mqtt_4_4_0_1_pubrel_is_resent_on_reconnect_after_pubrec() {
    let b = start_broker();
    let (mut s, _) = RawClient::handshake(b.addr(), "rel2", false);
    s.subscribe(1, &[("rel2/t", 2)]);
    let mut p = RawClient::connected(b.addr(), "rel2-pub");
    p.send(&publish("rel2/t", b"exactly once", 2, false, false, 5));
    p.expect(&pubrec(5));
    p.send(&pubrel(5));
    p.expect(&pubcomp(5));
    let got = s.recv_publish();
    let id = got.packet_id.unwrap();
    s.send(&pubrec(id));
    s.expect(&pubrel(id));
    s.drop_connection(); // no PUBCOMP

    let (mut s, present) = RawClient::handshake(b.addr(), "rel2", false);
    assert!(present);
    // The message itself must not come again, only the PUBREL.
    s.expect(&pubrel(id));
    s.send(&pubcomp(id));
    s.expect_silence(Duration::from_millis(500));
}

#[test]
fn qos2_publish_unacked_before_pubrec_is_resent_with_dup() {
    let b = start_broker();
    let (mut s, _) = RawClient::handshake(b.addr(), "dup2", false);
    s.subscribe(1, &[("dup2/t", 2)]);
    let mut p = RawClient::connected(b.addr(), "dup2-pub");
    p.send(&publish("dup2/t", b"two", 2, false, false, 5));
    p.expect(&pubrec(5));
    p.send(&pubrel(5));
    p.expect(&pubcomp(5));
    let first = s.recv_publish();
    s.drop_connection(); // no PUBREC

    let (mut s, _) = RawClient::handshake(b.addr(), "dup2", false);
    let again = s.recv_publish();
    assert!(again.dup);
    assert_eq!((again.packet_id, again.qos), (first.packet_id, 2));
}

#[test]
fn mqtt_4_3_3_2_inbound_qos2_duplicate_before_pubrel_is_delivered_once() {
    let b = start_broker();
    let mut s = RawClient::connected(b.addr(), "once-sub");
    s.subscribe(1, &[("once/t", 0)]);
    let mut p = RawClient::connected(b.addr(), "once-pub");
    p.send(&publish("once/t", b"x", 2, false, false, 77));
    p.expect(&pubrec(77));
    p.send(&publish("once/t", b"x", 2, false, true, 77)); // DUP resend, same id
    p.expect(&pubrec(77));
    p.send(&pubrel(77));
    p.expect(&pubcomp(77));
    assert_eq!(s.recv_publish().payload, b"x");
    s.expect_silence(Duration::from_millis(500));
}

#[test]
fn inbound_qos2_duplicate_after_reconnect_is_delivered_once() {
    let b = start_broker();
    let mut s = RawClient::connected(b.addr(), "once-rc-sub");
    s.subscribe(1, &[("oncerc/t", 0)]);
    let (mut p, _) = RawClient::handshake(b.addr(), "once-rc-pub", false);
    p.send(&publish("oncerc/t", b"y", 2, false, false, 12));
    p.expect(&pubrec(12));
    p.drop_connection();
    let (mut p, present) = RawClient::handshake(b.addr(), "once-rc-pub", false);
    assert!(present);
    p.send(&publish("oncerc/t", b"y", 2, false, true, 12));
    p.expect(&pubrec(12));
    p.send(&pubrel(12));
    p.expect(&pubcomp(12));
    assert_eq!(s.recv_publish().payload, b"y");
    s.expect_silence(Duration::from_millis(500));
}

#[test]
fn qos0_is_not_queued_for_offline_sessions_by_default() {
    let b = start_broker();
    let (mut s, _) = RawClient::handshake(b.addr(), "q0off", false);
    s.subscribe(1, &[("q0off/t", 1)]);
    disconnect_cleanly(s);
    let mut p = RawClient::connected(b.addr(), "q0off-pub");
    p.send(&publish("q0off/t", b"zero", 0, false, false, 0));
    p.send(&publish("q0off/t", b"one", 1, false, false, 2));
    p.expect(&puback(2));
    let (mut s, _) = RawClient::handshake(b.addr(), "q0off", false);
    let got = s.recv_publish();
    assert_eq!(got.payload, b"one");
    s.expect_silence(Duration::from_millis(300));
}

/// PUBACKs that arrive together are handed to the session as one batch (connection/acks.rs);
/// a DISCONNECT in the same write must not overtake them, or the session would resend every
/// message on reconnect as unacknowledged [MQTT-4.4.0-1].
#[test]
fn pubacks_sent_with_the_disconnect_in_one_write_are_all_counted() {
    let b = start_broker();
    let (mut s, _) = RawClient::handshake(b.addr(), "batch-acks", false);
    s.subscribe(1, &[("batch/t", 1)]);
    let mut p = RawClient::connected(b.addr(), "batch-pub");
    for i in 1..=20u16 {
        p.send(&publish("batch/t", &i.to_be_bytes(), 1, false, false, i));
        p.expect(&puback(i));
    }
    let mut acks = Vec::new();
    for _ in 0..20 {
        let m = s.recv_publish();
        acks.extend(puback(m.packet_id.unwrap()));
    }
    acks.extend(disconnect());
    s.send(&acks);
    s.expect_closed(CLOSE);

    let (mut s, present) = RawClient::handshake(b.addr(), "batch-acks", false);
    assert!(present);
    s.expect_silence(Duration::from_millis(500));
}

/// PUBRECs and PUBCOMPs that arrive together go to the session as one batch too: every PUBREC
/// in one write is answered with its PUBREL, in order [MQTT-4.3.3-1, MQTT-4.6.0-2], and the
/// PUBCOMPs in one write each finish their delivery, which frees the in-flight window for the
/// messages queued behind them.
#[test]
fn qos2_acknowledgements_in_one_write_are_each_answered_and_counted() {
    let b = start_broker_with(TestConfig {
        max_inflight_messages: 10,
        ..TestConfig::default()
    });
    let (mut s, _) = RawClient::handshake(b.addr(), "batch-q2", true);
    s.subscribe(1, &[("batchq2/t", 2)]);
    let mut p = RawClient::connected(b.addr(), "batch-q2-pub");
    for i in 1..=20u16 {
        p.send(&publish("batchq2/t", &i.to_be_bytes(), 2, false, false, i));
        p.expect(&pubrec(i));
        p.send(&pubrel(i));
        p.expect(&pubcomp(i));
    }
    // The window of 10 is full: the first 10 arrive, then nothing until they complete.
    let first: Vec<u16> = (0..10)
        .map(|_| s.recv_publish().packet_id.unwrap())
        .collect();
    s.expect_silence(Duration::from_millis(200));
    let recs: Vec<u8> = first.iter().flat_map(|&id| pubrec(id)).collect();
    s.send(&recs);
    for &id in &first {
        s.expect(&pubrel(id));
    }
    let comps: Vec<u8> = first.iter().flat_map(|&id| pubcomp(id)).collect();
    s.send(&comps);
    let rest: Vec<Vec<u8>> = (0..10)
        .map(|_| {
            let m = s.recv_publish();
            assert_eq!(m.qos, 2);
            m.payload
        })
        .collect();
    let expected: Vec<Vec<u8>> = (11..=20u16).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(
        rest, expected,
        "the freed window carries the next 10, in order"
    );
}
