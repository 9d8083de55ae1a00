//! MQTT over WebSocket (issue #4): the same Connection actor and codec as TCP behind `/mqtt`
//! and `/`, with frames chosen by the test (split packets, several packets per frame).

mod common;

use common::ws::{WsClient, WsEnd};
use common::*;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn ws_connected(b: &TestBroker, id: &str) -> WsClient {
    let mut c = WsClient::mqtt(b.http_addr());
    c.send_frame(&connect(id, true));
    c.expect(&connack(false, 0));
    c
}

#[test]
fn websocket_client_speaks_mqtt_through_slash_mqtt() {
    let b = start_broker();
    let (mut c, resp) = WsClient::open(b.http_addr(), "/mqtt", Some("mqtt")).unwrap();
    assert_eq!(resp.status(), 101);
    assert_eq!(resp.headers()["sec-websocket-protocol"], "mqtt");
    c.send_frame(&connect("ws-basic", true));
    c.expect(&connack(false, 0));
    c.send_frame(&subscribe(1, &[("ws/basic", 1)]));
    c.expect(&suback(1, &[1]));
    c.send_frame(&publish("ws/basic", b"hello", 1, false, false, 7));
    // PUBACK and the delivery may come in either order.
    let mut got = [c.read_packet(), c.read_packet()];
    got.sort_by_key(|p| p.0);
    assert_eq!(got[0].0 >> 4, 3, "a PUBLISH");
    assert_eq!(
        Publish::parse(got[0].0, &got[0].1).unwrap().payload,
        b"hello"
    );
    assert_eq!(got[1], (0x40, vec![0, 7]), "PUBACK 7");
    c.send_frame(&pingreq());
    c.expect(&[0xd0, 0]);
}

#[test]
fn root_path_and_mqttv31_subprotocol_are_accepted() {
    let b = start_broker();
    let (mut c, resp) = WsClient::open(b.http_addr(), "/", Some("mqttv3.1")).unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "mqttv3.1");
    c.send_frame(&Connect::v31("ws-v31").to_bytes());
    c.expect(&connack(false, 0));
    // A client offering several protocols gets the first MQTT one.
    let (_, resp) = WsClient::open(b.http_addr(), "/mqtt", Some("chat, mqtt")).unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "mqtt");
}

#[test]
fn messages_cross_between_tcp_and_websocket_clients_both_ways() {
    let b = start_broker();
    let mut ws = ws_connected(&b, "x-ws");
    ws.send_frame(&subscribe(1, &[("from/tcp", 1)]));
    ws.expect(&suback(1, &[1]));
    let mut tcp = RawClient::connected(b.addr(), "x-tcp");
    tcp.subscribe(1, &[("from/ws", 0)]);

    tcp.send(&publish("from/tcp", b"to ws", 1, false, false, 1));
    tcp.expect(&puback(1));
    let p = ws.read_packet();
    let p = Publish::parse(p.0, &p.1).unwrap();
    assert_eq!(
        (p.topic.as_str(), p.payload.as_slice(), p.qos),
        ("from/tcp", &b"to ws"[..], 1)
    );
    ws.send_frame(&puback(p.packet_id.unwrap()));

    ws.send_frame(&publish("from/ws", b"to tcp", 0, false, false, 0));
    tcp.expect(&publish("from/ws", b"to tcp", 0, false, false, 0));
}

#[test]
fn a_packet_split_across_frames_is_reassembled() {
    let b = start_broker();
    let mut c = WsClient::mqtt(b.http_addr());
    let conn = connect("ws-split", true);
    // Fixed header byte alone, then the length, then the rest.
    c.send_frame(&conn[..1]);
    c.send_frame(&conn[1..2]);
    c.send_frame(&conn[2..]);
    c.expect(&connack(false, 0));
    c.send_frame(&subscribe(1, &[("split/t", 0)]));
    c.expect(&suback(1, &[0]));
    let payload = vec![b'x'; 300]; // a two-byte remaining length
    let publ = publish("split/t", &payload, 0, false, false, 0);
    for chunk in publ.chunks(7) {
        c.send_frame(chunk);
    }
    c.expect(&publ);
}

#[test]
fn several_packets_in_one_frame_are_all_handled() {
    let b = start_broker();
    let mut c = WsClient::mqtt(b.http_addr());
    let mut frame = connect("ws-many", true);
    frame.extend(subscribe(1, &[("many/t", 0)]));
    frame.extend(publish("many/t", b"one", 0, false, false, 0));
    frame.extend(publish("many/t", b"two", 0, false, false, 0));
    // ... and the first bytes of a third, completed by the next frame.
    let third = publish("many/t", b"three", 0, false, false, 0);
    frame.extend(&third[..4]);
    c.send_frame(&frame);
    c.send_frame(&third[4..]);
    c.expect(&connack(false, 0));
    c.expect(&suback(1, &[0]));
    c.expect(&publish("many/t", b"one", 0, false, false, 0));
    c.expect(&publish("many/t", b"two", 0, false, false, 0));
    c.expect(&publish("many/t", b"three", 0, false, false, 0));
}

#[test]
fn a_text_frame_gets_a_close_with_code_1003() {
    let b = start_broker();
    let mut c = ws_connected(&b, "ws-text");
    c.send_text("CONNECT please");
    let (packets, end) = c.read_until_end(Duration::from_secs(5));
    assert!(packets.is_empty(), "{packets:?}");
    match end {
        WsEnd::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::Unsupported);
            assert!(frame.reason.contains("binary"), "{}", frame.reason);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[test]
fn bad_handshakes_get_a_clear_400() {
    let b = start_broker();
    // Plain HTTP, no upgrade.
    let r = http::get(b.http_addr(), "/mqtt");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("MQTT over WebSocket"), "{}", r.body);
    // An upgrade that offers only non-MQTT subprotocols.
    match WsClient::open(b.http_addr(), "/mqtt", Some("chat")) {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 400);
            let body = String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default());
            assert!(body.contains("mqtt"), "{body}");
        }
        Ok(_) => panic!("a non-MQTT subprotocol was accepted"),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn a_vanished_websocket_client_publishes_its_will() {
    let b = start_broker();
    let mut watcher = RawClient::connected(b.addr(), "will-watcher");
    watcher.subscribe(1, &[("wills/ws", 0)]);
    let mut c = WsClient::mqtt(b.http_addr());
    c.send_frame(
        &Connect::v311("ws-will")
            .will("wills/ws", b"gone", 0, false)
            .to_bytes(),
    );
    c.expect(&connack(false, 0));
    c.vanish();
    watcher.expect(&publish("wills/ws", b"gone", 0, false, false, 0));
}

#[test]
fn shutdown_closes_websocket_clients() {
    let b = start_broker();
    let mut c = ws_connected(&b, "ws-shutdown");
    assert_eq!(
        b.broker()
            .metrics()
            .ws_connections_open
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let stopper = std::thread::spawn(move || drop(b));
    let (_, end) = c.read_until_end(Duration::from_secs(5));
    assert!(matches!(end, WsEnd::Close(_)), "{end:?}");
    stopper.join().unwrap();
}
