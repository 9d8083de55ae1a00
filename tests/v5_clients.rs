//! MQTT 5.0 with a real 5.0 client: rumqttc's `v5` client (its own codec, not the test
//! helpers' raw bytes) against the in-process broker, and a 3.1.1 rumqttc client beside it.

mod common;

use bytes::Bytes;
use common::*;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnectProperties, ConnectReturnCode, Packet, Publish, PublishProperties,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use rumqttc::Packet as Packet4;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

fn opts(b: &TestBroker, id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", b.port());
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Connects and polls until the CONNACK, which must accept.
async fn connect(o: MqttOptions) -> (AsyncClient, EventLoop, ConnAck) {
    let (c, mut ev) = AsyncClient::new(o, 100);
    let ack = tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(a)) = ev.poll().await.expect("connect") {
                return a;
            }
        }
    })
    .await
    .expect("CONNACK within 5 s");
    assert_eq!(ack.code, ConnectReturnCode::Success, "{ack:?}");
    (c, ev, ack)
}

/// Polls until `f` picks something out of an incoming packet.
async fn next<T>(ev: &mut EventLoop, mut f: impl FnMut(Packet) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Event::Incoming(p) = ev.poll().await.expect("still connected") {
                if let Some(t) = f(p) {
                    return t;
                }
            }
        }
    })
    .await
    .expect("expected packet within 5 s")
}

async fn next_publish(ev: &mut EventLoop) -> Publish {
    next(ev, |p| match p {
        Packet::Publish(m) => Some(m),
        _ => None,
    })
    .await
}

/// No PUBLISH for `dur`, and the connection stays up.
async fn no_publish_for(ev: &mut EventLoop, dur: Duration) {
    let _ = tokio::time::timeout(dur, async {
        loop {
            match ev.poll().await.expect("still connected") {
                Event::Incoming(Packet::Publish(m)) => panic!("unexpected PUBLISH {m:?}"),
                _ => continue,
            }
        }
    })
    .await;
}

async fn subscribed(o: MqttOptions, filter: &str) -> (AsyncClient, EventLoop, ConnAck) {
    let (c, mut ev, ack) = connect(o).await;
    c.subscribe(filter, QoS::ExactlyOnce).await.unwrap();
    next(&mut ev, |p| matches!(p, Packet::SubAck(_)).then_some(())).await;
    (c, ev, ack)
}

/// DISCONNECT, then poll until the event loop ends.
async fn leave(c: AsyncClient, mut ev: EventLoop) {
    c.disconnect().await.unwrap();
    let _ = tokio::time::timeout(WAIT, async { while ev.poll().await.is_ok() {} }).await;
}

fn user_props() -> Vec<(String, String)> {
    vec![
        ("zone".into(), "hall".into()),
        ("a".into(), "1".into()),
        ("zone".into(), "kitchen".into()),
        ("ünï".into(), "cødé ✓".into()),
        ("a".into(), "1".into()),
    ]
}

fn all_props(expiry: u32) -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(expiry),
        response_topic: Some("reply/to/me".into()),
        correlation_data: Some(Bytes::from_static(&[0, 1, 0xFE, 0xFF])),
        user_properties: user_props(),
        content_type: Some("application/json; charset=utf-8".into()),
        ..PublishProperties::default()
    }
}

/// What arrived equals what was sent, but for the expiry, which may only have gone down.
fn assert_same_props(got: &Publish, sent: &PublishProperties) {
    let mut got = got.properties.clone().expect("properties arrived");
    let left = got.message_expiry_interval.take();
    let mut sent = sent.clone();
    match (sent.message_expiry_interval.take(), left) {
        (Some(s), Some(l)) => assert!(l > 0 && l <= s, "expiry {l} of {s}"),
        (None, None) => {}
        other => panic!("message expiry (sent, got): {other:?}"),
    }
    assert_eq!(got, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_1_2_11_connect_properties_are_accepted_from_a_real_5_0_client() {
    let b = start_broker();
    let mut o = opts(&b, &unique("cp"));
    o.set_connect_properties(ConnectProperties {
        session_expiry_interval: Some(60),
        receive_maximum: Some(10),
        max_packet_size: Some(4096),
        user_properties: vec![("site".into(), "a".into()), ("site".into(), "b".into())],
        ..ConnectProperties::new()
    });
    o.set_clean_start(false);
    let (c, mut ev, ack) = connect(o).await;
    assert!(!ack.session_present);
    let props = ack.properties.as_ref();
    // Absent: the broker uses the client's 60 s; present, it says which.
    let expiry = props.and_then(|p| p.session_expiry_interval);
    assert!(matches!(expiry, None | Some(60)), "{props:?}");
    assert!(props
        .and_then(|p| p.assigned_client_identifier.as_ref())
        .is_none());
    // The connection works: a round trip through the broker.
    let t = unique("cp/t");
    c.subscribe(&t, QoS::AtLeastOnce).await.unwrap();
    next(&mut ev, |p| matches!(p, Packet::SubAck(_)).then_some(())).await;
    c.publish(&t, QoS::AtLeastOnce, false, "hi").await.unwrap();
    assert_eq!(next_publish(&mut ev).await.payload, "hi");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_2_2_16_empty_client_id_gets_an_assigned_client_identifier() {
    let b = start_broker();
    let (c, mut ev, ack) = connect(opts(&b, "")).await;
    let assigned = ack
        .properties
        .and_then(|p| p.assigned_client_identifier)
        .expect("Assigned Client Identifier in CONNACK");
    assert!(!assigned.is_empty());
    let (_c2, _ev2, ack2) = connect(opts(&b, "")).await;
    let other = ack2.properties.and_then(|p| p.assigned_client_identifier);
    assert_ne!(
        other.as_deref(),
        Some(assigned.as_str()),
        "unique per client"
    );
    // The connection is usable.
    let t = unique("anon/t");
    c.subscribe(&t, QoS::AtMostOnce).await.unwrap();
    next(&mut ev, |p| matches!(p, Packet::SubAck(_)).then_some(())).await;
    c.publish(&t, QoS::AtMostOnce, false, "x").await.unwrap();
    assert_eq!(next_publish(&mut ev).await.payload, "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_3_2_publish_properties_reach_a_5_0_subscriber_unchanged_at_qos_0_1_2() {
    let b = start_broker();
    let t = unique("props/t");
    let (_s, mut sev, _) = subscribed(opts(&b, &unique("props-sub")), &t).await;
    let (p, mut pev, _) = connect(opts(&b, &unique("props-pub"))).await;
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let sent = all_props(120);
        let payload = format!("{{\"qos\":{}}}", qos as u8);
        p.publish_with_properties(&t, qos, false, payload.clone(), sent.clone())
            .await
            .unwrap();
        let got = next_publish(&mut sev).await;
        assert_eq!((got.qos, got.payload.as_ref()), (qos, payload.as_bytes()));
        assert_same_props(&got, &sent);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_3_2_17_user_properties_keep_their_order_end_to_end() {
    let b = start_broker();
    let t = unique("up/t");
    let (_s, mut sev, _) = subscribed(opts(&b, &unique("up-sub")), &t).await;
    let (p, mut pev, _) = connect(opts(&b, &unique("up-pub"))).await;
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    // Many pairs, keys repeated, values out of order: nothing sorted, merged or dropped
    // [MQTT-3.3.2-17], [MQTT-3.3.2-18].
    let pairs: Vec<(String, String)> = (0..40)
        .map(|i| (format!("k{}", i % 3), format!("v{}", (i * 7) % 11)))
        .collect();
    let sent = PublishProperties {
        user_properties: pairs,
        ..PublishProperties::default()
    };
    p.publish_with_properties(&t, QoS::AtLeastOnce, false, "x", sent.clone())
        .await
        .unwrap();
    assert_same_props(&next_publish(&mut sev).await, &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_3_2_6_a_queued_message_is_forwarded_with_the_expiry_time_left() {
    let b = start_broker();
    let id = unique("mei-sub");
    let t = unique("mei/t");
    let mut o = opts(&b, &id);
    o.set_clean_start(false)
        .set_session_expiry_interval(Some(60));
    let (s, sev, _) = subscribed(o.clone(), &t).await;
    leave(s, sev).await;
    let (p, mut pev, _) = connect(opts(&b, &unique("mei-pub"))).await;
    let sent = all_props(10);
    p.publish_with_properties(&t, QoS::AtLeastOnce, false, "late", sent.clone())
        .await
        .unwrap();
    next(&mut pev, |p| matches!(p, Packet::PubAck(_)).then_some(())).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (_s, mut sev, ack) = connect(o).await;
    assert!(ack.session_present);
    let got = next_publish(&mut sev).await;
    assert_eq!(got.payload, "late");
    let left = got
        .properties
        .as_ref()
        .and_then(|p| p.message_expiry_interval);
    assert!(
        matches!(left, Some(1..=9)),
        "10 s less 1.2 s waited: {left:?}"
    );
    assert_same_props(&got, &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_1_2_5_persistent_session_gets_the_qos_1_message_published_while_offline() {
    let b = start_broker();
    let id = unique("ps-sub");
    let t = unique("ps/t");
    let mut o = opts(&b, &id);
    o.set_clean_start(false)
        .set_session_expiry_interval(Some(60));
    let (s, sev, ack) = subscribed(o.clone(), &t).await;
    assert!(!ack.session_present);
    leave(s, sev).await;
    let (p, mut pev, _) = connect(opts(&b, &unique("ps-pub"))).await;
    let sent = all_props(300);
    p.publish_with_properties(&t, QoS::AtLeastOnce, false, "while away", sent.clone())
        .await
        .unwrap();
    next(&mut pev, |p| matches!(p, Packet::PubAck(_)).then_some(())).await;
    let (_s, mut sev, ack) = connect(o).await;
    assert!(ack.session_present, "session present [MQTT-3.2.2-2]");
    let got = next_publish(&mut sev).await;
    assert_eq!(
        (got.qos, got.payload.as_ref()),
        (QoS::AtLeastOnce, &b"while away"[..])
    );
    assert_same_props(&got, &sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_3_4_9_no_more_unacknowledged_qos_1_deliveries_than_receive_maximum() {
    let b = start_broker();
    let t = unique("rm/t");
    let mut o = opts(&b, &unique("rm-sub"));
    o.set_receive_maximum(Some(3)).set_manual_acks(true);
    let (s, mut sev, _) = subscribed(o, &t).await;
    let (p, mut pev, _) = connect(opts(&b, &unique("rm-pub"))).await;
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    for i in 0..8 {
        p.publish(&t, QoS::AtLeastOnce, false, i.to_string())
            .await
            .unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_publish(&mut sev).await);
    }
    no_publish_for(&mut sev, Duration::from_millis(400)).await;
    // Each acknowledgement opens the window by one, in order.
    let mut payloads: Vec<String> = Vec::new();
    while payloads.len() < 8 {
        let m = got.remove(0);
        payloads.push(String::from_utf8(m.payload.to_vec()).unwrap());
        s.ack(&m).await.unwrap();
        if payloads.len() + got.len() < 8 {
            got.push(next_publish(&mut sev).await);
        }
    }
    let want: Vec<String> = (0..8).map(|i| i.to_string()).collect();
    assert_eq!(payloads, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_3_1_2_24_a_packet_above_the_client_maximum_is_not_sent_to_it() {
    let b = start_broker();
    let t = unique("mps/t");
    let mut o = opts(&b, &unique("mps-sub"));
    o.set_max_packet_size(Some(512));
    let (_s, mut sev, _) = subscribed(o, &t).await;
    let (p, mut pev, _) = connect(opts(&b, &unique("mps-pub"))).await;
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    p.publish(&t, QoS::AtLeastOnce, false, vec![b'x'; 1000])
        .await
        .unwrap();
    p.publish(&t, QoS::AtLeastOnce, false, "small")
        .await
        .unwrap();
    // rumqttc would end the connection on a packet above 512 bytes; the large one is
    // discarded for this client, the next one arrives.
    assert_eq!(next_publish(&mut sev).await.payload, "small");
}

/// The 3.1.1 client's `next`.
async fn next4<T>(ev: &mut rumqttc::EventLoop, mut f: impl FnMut(Packet4) -> Option<T>) -> T {
    let fut = async {
        loop {
            if let rumqttc::Event::Incoming(p) = ev.poll().await.expect("3.1.1 connected") {
                if let Some(t) = f(p) {
                    return t;
                }
            }
        }
    };
    tokio::time::timeout(WAIT, fut).await.expect("3.1.1 packet")
}

fn publish4(p: Packet4) -> Option<rumqttc::Publish> {
    match p {
        Packet4::Publish(m) => Some(m),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_mix_a_5_0_and_a_3_1_1_rumqttc_client_exchange_messages() {
    let b = start_broker();
    let prefix = unique("mix");
    let (c5, mut ev5, _) = subscribed(opts(&b, &unique("mix5")), &format!("{prefix}/#")).await;
    let o4 = rumqttc::MqttOptions::new(unique("mix4"), "127.0.0.1", b.port());
    let (c4, mut ev4) = rumqttc::AsyncClient::new(o4, 100);
    c4.subscribe(format!("{prefix}/#"), rumqttc::QoS::ExactlyOnce)
        .await
        .unwrap();
    next4(&mut ev4, |p| matches!(p, Packet4::SubAck(_)).then_some(())).await;
    let (topic4, qos4) = (format!("{prefix}/from4"), rumqttc::QoS::AtLeastOnce);
    c4.publish(&topic4, qos4, false, "four").await.unwrap();
    // (Polling the 3.1.1 event loop is what sends its PUBLISH.)
    assert_eq!(next4(&mut ev4, publish4).await.payload, "four");
    let got = next_publish(&mut ev5).await;
    assert_eq!(got.payload, "four");
    let props = got.properties.unwrap_or_default();
    assert_eq!(
        props,
        PublishProperties::default(),
        "a 3.1.1 message has none"
    );

    // A 5.0 message with every property reaches the 3.1.1 client as plain 3.1.1: a property
    // block on the wire would show up in its payload.
    let topic5 = format!("{prefix}/from5");
    c5.publish_with_properties(&topic5, QoS::ExactlyOnce, false, "five", all_props(60))
        .await
        .unwrap();
    assert_same_props(&next_publish(&mut ev5).await, &all_props(60));
    let old = next4(&mut ev4, publish4).await;
    assert_eq!(old.topic, topic5);
    let want = (rumqttc::QoS::ExactlyOnce, &b"five"[..]);
    assert_eq!((old.qos, old.payload.as_ref()), want);
}
