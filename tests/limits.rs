//! Broker limits: connections, offline queue, inflight window, slow consumers.

mod common;

use common::*;
use std::time::{Duration, Instant};

const CLOSE: Duration = Duration::from_secs(5);

#[test]
fn max_connections_refuses_the_next_connection() {
    let b = start_broker_with(TestConfig {
        max_connections: Some(3),
        ..TestConfig::default()
    });
    let mut open: Vec<RawClient> = (0..3)
        .map(|i| RawClient::connected(b.addr(), &format!("maxc-{i}")))
        .collect();
    let mut extra = RawClient::connect(b.addr());
    extra.send_lossy(&connect("maxc-extra", true));
    // Either closed straight away (Mosquitto) or after a refusing CONNACK: never CONNACK 0.
    let got = extra.expect_closed_after_packets(CLOSE);
    assert!(
        got.iter()
            .all(|(f, body)| !(*f == 0x20 && body.get(1) == Some(&0))),
        "the 4th connection was accepted: {got:?}"
    );
    // The connected ones still work.
    for c in open.iter_mut() {
        c.send(&pingreq());
        c.expect_hex("d0 00");
    }
    // A freed slot can be used again.
    let gone = open.pop().unwrap();
    gone.drop_connection();
    std::thread::sleep(Duration::from_millis(300));
    let (_again, _) = RawClient::handshake(b.addr(), "maxc-again", true);
}

#[test]
fn max_queued_messages_keeps_at_most_n_oldest_for_an_offline_session() {
    let b = start_broker_with(TestConfig {
        max_queued_messages: 10,
        ..TestConfig::default()
    });
    let (mut s, _) = RawClient::handshake(b.addr(), "mq-sub", false);
    s.subscribe(1, &[("mq/t", 1)]);
    s.send(&disconnect());
    s.expect_closed(CLOSE);

    let mut p = RawClient::connected(b.addr(), "mq-pub");
    for i in 0..30u16 {
        p.send(&publish(
            "mq/t",
            format!("{i}").as_bytes(),
            1,
            false,
            false,
            i + 1,
        ));
        p.expect(&puback(i + 1)); // the publisher is acknowledged even when the message is dropped
    }

    let (mut s, present) = RawClient::handshake(b.addr(), "mq-sub", false);
    assert!(present);
    let mut got = Vec::new();
    while let Ok((f, body)) = s.try_read_packet(Duration::from_millis(1000)) {
        let m = Publish::parse(f, &body).expect("only PUBLISH expected");
        s.send(&puback(m.packet_id.unwrap()));
        got.push(
            String::from_utf8(m.payload)
                .unwrap()
                .parse::<u16>()
                .unwrap(),
        );
    }
    // drop_new (the default policy): the queue keeps the oldest 10 and refuses the rest.
    assert_eq!(got, (0..10).collect::<Vec<u16>>());
}

#[test]
fn max_inflight_messages_limits_unacknowledged_deliveries() {
    let b = start_broker_with(TestConfig {
        max_inflight_messages: 2,
        ..TestConfig::default()
    });
    let mut s = RawClient::connected(b.addr(), "inflight-sub");
    s.subscribe(1, &[("inf/t", 1)]);
    let mut p = RawClient::connected(b.addr(), "inflight-pub");
    for i in 0..5u16 {
        p.send(&publish("inf/t", &[i as u8], 1, false, false, i + 1));
        p.expect(&puback(i + 1));
    }
    let a = s.recv_publish();
    let b2 = s.recv_publish();
    assert_eq!((a.payload.clone(), b2.payload.clone()), (vec![0], vec![1]));
    s.expect_silence(Duration::from_millis(500));
    // Each PUBACK opens the window for one more, in order.
    let mut next = 2u8;
    s.send(&puback(a.packet_id.unwrap()));
    s.send(&puback(b2.packet_id.unwrap()));
    while next < 5 {
        let m = s.recv_publish();
        assert_eq!(m.payload, vec![next]);
        s.send(&puback(m.packet_id.unwrap()));
        next += 1;
    }
}

#[test]
fn a_subscriber_that_never_reads_does_not_stall_other_subscribers() {
    const N: usize = 20_000;
    // Room for every message in both queues: QoS 0 beyond a full queue is dropped (as in
    // Mosquitto), and a publisher can outrun the test's reader; what is tested is that the
    // stuck subscriber does not hold anyone up.
    let b = start_broker_with(TestConfig {
        max_queued_messages: N + 1_000,
        ..TestConfig::default()
    });
    // Never reads after its SUBACK: its socket buffers fill up.
    let mut stuck = RawClient::connected(b.addr(), "slow-stuck");
    stuck.subscribe(1, &[("slow/t", 0)]);

    let addr = b.addr();
    let reader = std::thread::spawn(move || {
        let mut fast = RawClient::connected(addr, "slow-fast");
        fast.subscribe(1, &[("slow/t", 0)]);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t0 = Instant::now();
        let publisher = std::thread::spawn(move || {
            rx.recv().unwrap();
            let mut p = RawClient::connected(addr, "slow-pub");
            let payload = vec![b'p'; 512];
            let mut batch = Vec::new();
            for _ in 0..N {
                batch.extend(publish("slow/t", &payload, 0, false, false, 0));
                if batch.len() > 64 * 1024 {
                    p.send(&batch);
                    batch.clear();
                }
            }
            p.send(&batch);
            p.send(&pingreq());
            p.expect_hex("d0 00");
        });
        tx.send(()).unwrap();
        let mut n = 0;
        while n < N {
            match fast.try_read_packet(Duration::from_secs(20)) {
                Ok((f, _)) if f >> 4 == 3 => n += 1,
                Ok(_) => {}
                Err(e) => panic!("fast subscriber stalled after {n} messages: {e:?}"),
            }
        }
        publisher.join().unwrap();
        t0.elapsed()
    });
    let took = reader.join().unwrap();
    assert!(took < Duration::from_secs(30), "{N} messages took {took:?}");
    drop(stuck);
}

// courtier-specific: Mosquitto 2.0.11 (Debian 12) miscounts closed connections: once any
// connection has closed (before or after CONNECT), max_connections=3 lets a 4th client in.
// Courtier must count only live connections.
#[test]
fn connections_closed_before_connect_do_not_change_the_connection_count() {
    let b = start_broker_with(TestConfig {
        max_connections: Some(3),
        ..TestConfig::default()
    });
    for _ in 0..3 {
        drop(std::net::TcpStream::connect(b.addr()).unwrap());
    }
    std::thread::sleep(Duration::from_millis(300));
    let _open: Vec<RawClient> = (0..3)
        .map(|i| RawClient::connected(b.addr(), &format!("cnt-{i}")))
        .collect();
    let mut extra = RawClient::connect(b.addr());
    extra.send_lossy(&connect("cnt-extra", true));
    let got = extra.expect_closed_after_packets(CLOSE);
    assert!(
        got.iter()
            .all(|(f, body)| !(*f == 0x20 && body.get(1) == Some(&0))),
        "4th connection accepted: {got:?}"
    );
}

/// A publisher that never reads its PUBACKs runs out of credits once its acknowledgements fill
/// the socket: the broker stops reading from it (TCP flow control then stops the publisher)
/// instead of queueing acknowledgements in memory; other clients are unaffected; and when it
/// finally reads, every PUBLISH the broker took is acknowledged once, in order
/// [MQTT-4.6.0-2]. Tiny publishes and a small receive buffer make the acks fill the socket fast.
#[test]
fn mqtt_4_6_0_2_a_publisher_that_does_not_read_its_acks_is_slowed_not_buffered() {
    let b = start_broker();
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&b.addr().into()).unwrap();
    let stream: std::net::TcpStream = sock.into();
    let mut p = RawClient::from_stream(stream);
    p.send(&connect("noread-pub", true));
    p.expect(&connack(false, 0));
    p.stream().set_nonblocking(true).unwrap();
    let mut written = 0usize; // bytes the kernel accepted
    let mut sent = 0usize; // whole packets among them
    let mut pending: Vec<u8> = Vec::new();
    let mut stalled_since: Option<Instant> = None;
    // Write until the socket stays full for a second (the broker stopped reading).
    loop {
        if pending.is_empty() {
            for _ in 0..256 {
                let pkid = ((sent + pending.len() / 8) % 65_535 + 1) as u16;
                pending.extend(publish("t", b"x", 1, false, false, pkid));
            }
        }
        match std::io::Write::write(&mut p.stream(), &pending) {
            Ok(n) => {
                written += n;
                pending.drain(..n);
                sent = written / 8; // every packet is 8 bytes
                stalled_since = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(1) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write failed: {e}"),
        }
        assert!(
            written < 64 << 20,
            "the broker kept reading: {written} bytes accepted without a PUBACK read"
        );
    }
    // Someone else is served meanwhile.
    let mut s = RawClient::connected(b.addr(), "noread-sub");
    s.subscribe(1, &[("other/t", 0)]);
    let mut q = RawClient::connected(b.addr(), "noread-other");
    q.send(&publish("other/t", b"hi", 0, false, false, 0));
    assert_eq!(s.recv_publish().payload, b"hi".to_vec());

    // Now read: one PUBACK per PUBLISH written, in order (the broker reads on as acks drain).
    p.stream().set_nonblocking(false).unwrap();
    for i in 0..sent {
        let (first, body) = p.try_read_packet(Duration::from_secs(10)).unwrap();
        assert_eq!(first, 0x40, "only PUBACKs expected");
        let want = (i % 65_535 + 1) as u16;
        assert_eq!(
            u16::from_be_bytes([body[0], body[1]]),
            want,
            "PUBACK {i} in order"
        );
    }
}
