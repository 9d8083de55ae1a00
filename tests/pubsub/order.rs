//! Order (section 4.6, [MQTT-4.6.0-2] and [MQTT-4.6.0-6]): per publisher and topic, across
//! parked writers, and for packets a client writes together (batched hand-overs to the session).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_4_6_qos1_order_per_publisher_is_preserved_for_1000_messages() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let b = start_broker();
    let mut so = MqttOptions::new("order-sub", "127.0.0.1", b.port());
    so.set_keep_alive(Duration::from_secs(30));
    let (sub, mut sub_loop) = AsyncClient::new(so, 100);
    sub.subscribe("order/t", QoS::AtLeastOnce).await.unwrap();
    // Wait for the SUBACK before publishing.
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = sub_loop.poll().await.unwrap() {
            break;
        }
    }
    let (publ, mut pub_loop) =
        AsyncClient::new(MqttOptions::new("order-pub", "127.0.0.1", b.port()), 100);
    tokio::spawn(async move { while pub_loop.poll().await.is_ok() {} });
    tokio::spawn(async move {
        for i in 0..1000u32 {
            publ.publish("order/t", QoS::AtLeastOnce, false, i.to_be_bytes().to_vec())
                .await
                .unwrap();
        }
        std::future::pending::<()>().await;
    });
    let mut next = 0u32;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while next < 1000 {
        let ev = tokio::time::timeout_at(deadline, sub_loop.poll())
            .await
            .expect("timed out")
            .unwrap();
        if let Event::Incoming(Packet::Publish(p)) = ev {
            let n = u32::from_be_bytes(p.payload[..4].try_into().unwrap());
            assert_eq!(n, next, "out of order");
            next += 1;
        }
    }
}

/// Regression: mosquitto_pub writes CONNECT, PUBLISH and DISCONNECT back to back. With several
/// packets in flight per connection, the DISCONNECT must not end the (clean) session before the
/// PUBLISH is routed.
#[test]
fn publish_followed_at_once_by_disconnect_is_still_delivered() {
    let b = start_broker();
    let mut sub = RawClient::connected(b.addr(), &unique("quick-sub"));
    sub.send(&subscribe(1, &[("quick/#", 0)]));
    assert_eq!(sub.read_packet().0, 0x90);
    for i in 0..20u8 {
        let mut bytes = connect(&unique("quick-pub"), true);
        bytes.extend(publish("quick/t", &[i], 0, false, false, 0));
        bytes.extend([0xe0, 0x00]);
        let mut p = RawClient::connect(b.addr());
        p.send(&bytes);
        let (first, body) = sub.read_packet();
        let m = Publish::parse(first, &body).expect("PUBLISH");
        assert_eq!(m.payload, vec![i]);
    }
}

/// An idle connection has no writer task: it parks in the connection's outbox and the next
/// packet queued starts it again (connection/outbox.rs). Every burst here is queued to parked
/// writers: deliveries by the subscriber's session, PUBACKs by the publisher's, a PINGRESP
/// after a pause; each must go out at once and in order [MQTT-4.6.0-2] [MQTT-4.6.0-6].
#[test]
fn writers_parked_between_bursts_send_every_later_packet_in_order() {
    let b = start_broker();
    let mut s = sub_client(b.addr(), "park-sub", &[("park/t", 1)]);
    let mut p = RawClient::connected(b.addr(), "park-pub");
    for round in 0..20u16 {
        std::thread::sleep(Duration::from_millis(20));
        for i in 0..5u16 {
            let id = round * 5 + i + 1;
            p.send(&publish("park/t", &id.to_be_bytes(), 1, false, false, id));
        }
        for i in 0..5u16 {
            let id = round * 5 + i + 1;
            p.expect(&puback(id));
            let got = s.recv_publish();
            assert_eq!(got.payload, id.to_be_bytes(), "round {round}: out of order");
            s.send(&puback(got.packet_id.unwrap()));
        }
        if round % 5 == 4 {
            std::thread::sleep(Duration::from_millis(20));
            s.send(&pingreq());
            s.expect_hex("d0 00"); // PINGRESP
        }
    }
}

/// Packets written together reach the session together (PUBLISHes of one read are handed over
/// in one batch, connection/publishes.rs) and still act in the order sent: PUBLISHes before a
/// SUBSCRIBE are not delivered to it, those after it are, in order; the replies keep the order
/// of the packets [MQTT-4.6.0-2], the PINGRESP last [MQTT-3.12.4-1].
#[test]
fn mqtt_4_6_0_2_packets_written_together_act_in_the_order_sent() {
    let b = start_broker();
    let mut c = RawClient::connected(b.addr(), "batch-mix");
    let mut bytes = Vec::new();
    (1..=5u16).for_each(|i| bytes.extend(publish("mix/a", &[i as u8], 1, false, false, i)));
    bytes.extend(subscribe(20, &[("mix/#", 1)]));
    (6..=10u16).for_each(|i| bytes.extend(publish("mix/b", &[i as u8], 1, false, false, i)));
    bytes.extend(publish("mix/c", &[11], 2, false, false, 11));
    bytes.extend(pingreq());
    c.send(&bytes);
    let (mut replies, mut delivered) = (Vec::new(), Vec::new());
    while replies.last() != Some(&vec![0xd0, 0x00]) {
        let (first, body) = c.read_packet();
        match Publish::parse(first, &body) {
            Some(p) => delivered.push(p.payload[0]),
            None => replies.push(packet(first, &body)),
        }
    }
    let mut want: Vec<Vec<u8>> = (1..=5).map(puback).collect();
    want.push(suback(20, &[1]));
    want.extend((6..=10).map(puback));
    want.extend([pubrec(11), vec![0xd0, 0x00]]); // PINGRESP
    assert_eq!(replies, want, "replies in the order of the packets");
    assert_eq!(
        delivered,
        [6, 7, 8, 9, 10, 11],
        "after the SUBSCRIBE, in order"
    );
}

/// More PUBLISHes in one write than a connection has credits (48), QoS 1 and QoS 2 with their
/// PUBRELs: the batches are handed over as credits run out and when the socket has nothing
/// more (connection/publishes.rs), and every reply keeps the order of the packets
/// [MQTT-4.6.0-2] (PUBACKs, PUBRECs, PUBCOMPs, PINGRESP last [MQTT-3.12.4-1]), every
/// delivery the order of the PUBLISHes [MQTT-4.6.0-6].
#[test]
fn mqtt_4_6_0_2_more_publishes_in_one_write_than_credits_keep_their_order() {
    let b = start_broker();
    let mut s = sub_client(b.addr(), "batch-many-sub", &[("many/#", 0)]);
    let mut c = RawClient::connected(b.addr(), "batch-many");
    let mut bytes = Vec::new();
    (1..=100u16).for_each(|i| bytes.extend(publish("many/1", &[i as u8], 1, false, false, i)));
    (101..=200u16).for_each(|i| bytes.extend(publish("many/2", &[i as u8], 2, false, false, i)));
    (101..=200u16).for_each(|i| bytes.extend(pubrel(i)));
    bytes.extend(pingreq());
    c.send(&bytes);
    let mut replies = Vec::new();
    while replies.last() != Some(&vec![0xd0, 0x00]) {
        let (first, body) = c.read_packet();
        replies.push(packet(first, &body));
    }
    let mut want: Vec<Vec<u8>> = (1..=100).map(puback).collect();
    want.extend((101..=200).map(pubrec));
    want.extend((101..=200).map(pubcomp));
    want.push(vec![0xd0, 0x00]); // PINGRESP
    assert_eq!(replies, want, "replies in the order of the packets");
    let delivered: Vec<u8> = (1..=200)
        .map(|_| {
            let (first, body) = s.read_packet();
            Publish::parse(first, &body).expect("a PUBLISH").payload[0]
        })
        .collect();
    assert_eq!(
        delivered,
        (1..=200).collect::<Vec<u8>>(),
        "in the order sent"
    );
}
