//! Retained messages (MQTT 3.1.1 section 3.3.1.3).

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::Duration;

fn retain(addr: SocketAddr, topic: &str, payload: &[u8], qos: u8) {
    let mut p = RawClient::connected(addr, &unique("ret-pub"));
    p.send(&publish(topic, payload, qos, true, false, 1));
    match qos {
        0 => {
            // No ack for QoS 0: a PINGREQ round trip shows the PUBLISH was processed.
            p.send(&pingreq());
            p.expect_hex("d0 00");
        }
        1 => p.expect(&puback(1)),
        _ => {
            p.expect(&pubrec(1));
            p.send(&pubrel(1));
            p.expect(&pubcomp(1));
        }
    }
}

#[test]
fn mqtt_3_3_1_6_retained_message_is_sent_on_subscribe_with_retain_flag() {
    let b = start_broker();
    retain(b.addr(), "ret/a", b"kept", 1);
    let mut s = RawClient::connected(b.addr(), "ret-sub");
    assert_eq!(s.subscribe(1, &[("ret/a", 1)]), vec![1]);
    let got = s.recv_publish();
    assert_eq!(
        (
            got.topic.as_str(),
            got.payload.as_slice(),
            got.retain,
            got.qos
        ),
        ("ret/a", &b"kept"[..], true, 1)
    );
}

#[test]
fn retained_message_is_replaced_by_a_newer_one() {
    let b = start_broker();
    retain(b.addr(), "ret/r", b"old", 0);
    retain(b.addr(), "ret/r", b"new", 0);
    let mut s = RawClient::connected(b.addr(), "ret-sub");
    s.subscribe(1, &[("ret/r", 0)]);
    assert_eq!(s.recv_publish().payload, b"new");
    s.expect_silence(Duration::from_millis(300));
}

#[test]
fn mqtt_3_3_1_10_empty_retained_payload_deletes_the_retained_message() {
    let b = start_broker();
    retain(b.addr(), "ret/d", b"doomed", 1);
    retain(b.addr(), "ret/d", b"", 1);
    let mut s = RawClient::connected(b.addr(), "ret-sub");
    s.subscribe(1, &[("ret/d", 1), ("ret/#", 1)]);
    s.expect_silence(Duration::from_millis(500));
}

#[test]
fn retained_messages_are_delivered_through_wildcards() {
    let b = start_broker();
    retain(b.addr(), "retw/x/1", b"one", 0);
    retain(b.addr(), "retw/y/2", b"two", 0);
    retain(b.addr(), "retw/z", b"three", 0);
    let mut s = RawClient::connected(b.addr(), "retw-sub");
    s.subscribe(1, &[("retw/+/#", 0)]);
    let mut got: Vec<(String, bool)> = (0..3)
        .map(|_| s.recv_publish())
        .map(|p| (p.topic, p.retain))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("retw/x/1".into(), true),
            ("retw/y/2".into(), true),
            ("retw/z".into(), true)
        ]
    );
    s.expect_silence(Duration::from_millis(300));
    let mut s2 = RawClient::connected(b.addr(), "retw-sub2");
    s2.subscribe(1, &[("retw/+", 0)]);
    assert_eq!(s2.recv_publish().topic, "retw/z");
    s2.expect_silence(Duration::from_millis(300));
}

#[test]
fn mqtt_3_3_1_9_live_forwarding_of_a_retained_publish_has_retain_0() {
    let b = start_broker();
    let mut s = RawClient::connected(b.addr(), "retlive-sub");
    s.subscribe(1, &[("retlive/t", 1)]);
    retain(b.addr(), "retlive/t", b"live", 1);
    let got = s.recv_publish();
    assert_eq!((got.payload.as_slice(), got.retain), (&b"live"[..], false));
    // ...but it was stored: a new subscriber gets it with retain 1.
    let mut s2 = RawClient::connected(b.addr(), "retlive-sub2");
    s2.subscribe(1, &[("retlive/t", 1)]);
    assert!(s2.recv_publish().retain);
}

#[test]
fn retained_message_qos_is_downgraded_to_granted_qos() {
    let b = start_broker();
    retain(b.addr(), "retq/t", b"q2", 2);
    let mut s = RawClient::connected(b.addr(), "retq-sub");
    s.subscribe(1, &[("retq/t", 0)]);
    let got = s.recv_publish();
    assert_eq!((got.qos, got.retain), (0, true));
}

#[test]
fn resubscribing_sends_the_retained_message_again() {
    // MQTT-3.8.4-3: a repeated SUBSCRIBE replaces the subscription and resends retained messages.
    let b = start_broker();
    retain(b.addr(), "retre/t", b"again", 0);
    let mut s = RawClient::connected(b.addr(), "retre-sub");
    s.subscribe(1, &[("retre/t", 0)]);
    assert_eq!(s.recv_publish().payload, b"again");
    s.subscribe(2, &[("retre/t", 0)]);
    assert_eq!(s.recv_publish().payload, b"again");
}

/// A retained PUBLISH is acknowledged only once stored; PUBLISH packets after it must still be
/// acknowledged after it, in the order received [MQTT-4.6.0-2], and their PINGRESP after both.
#[test]
fn mqtt_4_6_0_2_acks_keep_publish_order_when_a_retained_store_write_is_pending() {
    let b = start_broker();
    let mut p = RawClient::connected(b.addr(), "ret-order");
    for round in 0..20u16 {
        let base = round * 4;
        let mut bytes = Vec::new();
        bytes.extend(publish("ro/a", b"1", 1, true, false, base + 1));
        bytes.extend(publish("ro/b", b"2", 1, false, false, base + 2));
        bytes.extend(publish("ro/c", b"3", 1, true, false, base + 3));
        bytes.extend(publish("ro/d", b"4", 1, false, false, base + 4));
        bytes.extend(pingreq());
        p.send(&bytes);
        for id in base + 1..=base + 4 {
            p.expect(&puback(id));
        }
        p.expect_hex("d0 00");
    }
}

/// Rapid updates of one retained topic (a device's state) keep the last one: the store must
/// apply them in publish order even when its mailbox is full [MQTT-3.3.1-5].
#[test]
fn mqtt_3_3_1_5_the_last_of_many_rapid_retained_updates_is_kept() {
    let b = start_broker();
    let mut publishers: Vec<RawClient> = (0..4)
        .map(|i| RawClient::connected(b.addr(), &format!("ret-rapid-{i}")))
        .collect();
    for (i, p) in publishers.iter_mut().enumerate() {
        let topic = format!("rapid/{i}");
        let mut bytes = Vec::new();
        for n in 0..500 {
            bytes.extend(publish(
                &topic,
                format!("{n}").as_bytes(),
                0,
                true,
                false,
                0,
            ));
        }
        p.send(&bytes);
    }
    for p in publishers.iter_mut() {
        p.send(&pingreq());
        p.expect_hex("d0 00");
    }
    let mut s = RawClient::connected(b.addr(), "ret-rapid-sub");
    s.subscribe(1, &[("rapid/+", 0)]);
    for _ in 0..4 {
        let m = s.recv_publish();
        assert_eq!(
            m.payload,
            b"499".to_vec(),
            "{} kept an older update",
            m.topic
        );
    }
}
