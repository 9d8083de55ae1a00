//! Will messages (MQTT 3.1.1 section 3.1.2.5, MQTT-3.1.2-8 / -10 / -16 / -17).

mod common;

use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

fn watcher(addr: SocketAddr, filter: &str, qos: u8) -> RawClient {
    let mut s = RawClient::connected(addr, &unique("will-watch"));
    assert_eq!(s.subscribe(1, &[(filter, qos)]), vec![qos]);
    s
}

fn with_will(
    addr: SocketAddr,
    id: &str,
    topic: &str,
    qos: u8,
    retain: bool,
    keep_alive: u16,
) -> RawClient {
    let c = Connect::v311(id)
        .keep_alive(keep_alive)
        .will(topic, b"gone", qos, retain);
    RawClient::handshake_with(addr, &c).0
}

#[test]
fn mqtt_3_1_2_8_will_is_published_on_abrupt_socket_close() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/abrupt", 0);
    let c = with_will(b.addr(), "abrupt", "will/abrupt", 0, false, 60);
    c.drop_connection();
    let got = w.recv_publish();
    assert_eq!(
        (got.topic.as_str(), got.payload.as_slice()),
        ("will/abrupt", &b"gone"[..])
    );
}

#[test]
fn will_is_published_on_keep_alive_timeout() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/ka", 0);
    let _c = with_will(b.addr(), "ka-will", "will/ka", 0, false, 1);
    // 1.5 x 1 s, plus Mosquitto's coarse keep-alive check (see connect.rs).
    match w.try_read_packet(Duration::from_secs(9)) {
        Ok((first, body)) => assert_eq!(Publish::parse(first, &body).unwrap().topic, "will/ka"),
        Err(e) => panic!("no will after keep-alive timeout: {e:?}"),
    }
}

#[test]
fn will_is_published_on_protocol_error() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/proto", 0);
    let mut c = with_will(b.addr(), "proto-will", "will/proto", 0, false, 60);
    c.send_hex("f0 00"); // packet type 15 is reserved in 3.1.1
    c.expect_closed(CLOSE);
    assert_eq!(w.recv_publish().topic, "will/proto");
}

#[test]
fn will_is_published_on_garbage_after_connect() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/garbage", 0);
    let mut c = with_will(b.addr(), "garbage-will", "will/garbage", 0, false, 60);
    c.send_lossy(b"\x00\x13not an mqtt packet!");
    c.expect_closed(CLOSE);
    assert_eq!(w.recv_publish().topic, "will/garbage");
}

// courtier-specific: MQTT-2.2.2-2 says invalid fixed-header flags close the connection.
// 'G' (0x47) reads as PUBACK with reserved flags 0111; Mosquitto 2.0 ignores PUBACK flags and
// length and keeps the connection open, Courtier closes it.
#[test]
fn mqtt_2_2_2_2_will_is_published_on_http_garbage_after_connect() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/http", 0);
    let mut c = with_will(b.addr(), "http-will", "will/http", 0, false, 60);
    let mut junk = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    junk.resize(200, b'x'); // so the length 'E' (69) claims arrives in full
    c.send_lossy(&junk);
    c.expect_closed(CLOSE);
    assert_eq!(w.recv_publish().topic, "will/http");
}

#[test]
fn will_is_published_when_the_connection_is_taken_over() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/takeover", 0);
    let mut first = with_will(b.addr(), "takeover-will", "will/takeover", 0, false, 60);
    let (_second, _) = RawClient::handshake(b.addr(), "takeover-will", false);
    first.expect_closed(CLOSE);
    assert_eq!(w.recv_publish().topic, "will/takeover");
}

#[test]
fn mqtt_3_1_2_10_will_is_not_published_after_disconnect() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/clean", 0);
    let mut c = with_will(b.addr(), "clean-will", "will/clean", 0, false, 60);
    c.send(&disconnect());
    c.expect_closed(CLOSE);
    w.expect_silence(Duration::from_millis(1000));
}

#[test]
fn mqtt_3_1_2_16_will_qos_is_honoured() {
    let b = start_broker();
    let mut w2 = watcher(b.addr(), "will/qos", 2);
    let mut w0 = watcher(b.addr(), "will/qos", 0);
    let c = with_will(b.addr(), "qos-will", "will/qos", 1, false, 60);
    c.drop_connection();
    let got = w2.recv_publish();
    assert_eq!((got.qos, got.retain), (1, false));
    w2.send(&puback(got.packet_id.unwrap()));
    assert_eq!(w0.recv_publish().qos, 0);
}

#[test]
fn mqtt_3_1_2_17_retained_will_is_received_by_a_later_subscriber() {
    let b = start_broker();
    let c = with_will(b.addr(), "ret-will", "will/retained", 1, true, 60);
    c.drop_connection();
    // Wait until the broker has published the will: a live watcher on a wildcard sees it.
    std::thread::sleep(Duration::from_millis(500));
    let mut later = watcher(b.addr(), "will/retained", 1);
    let got = later.recv_publish();
    assert_eq!(
        (got.payload.as_slice(), got.retain, got.qos),
        (&b"gone"[..], true, 1)
    );
}

#[test]
fn will_from_an_mqtt_3_1_client_is_published() {
    let b = start_broker();
    let mut w = watcher(b.addr(), "will/v31", 0);
    let (c, _) = RawClient::handshake_with(
        b.addr(),
        &Connect::v31("v31-will").will("will/v31", b"old", 0, false),
    );
    c.drop_connection();
    assert_eq!(w.recv_publish().payload, b"old");
}
