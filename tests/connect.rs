//! Codec framing and connection rules (MQTT 3.1.1 sections 2, 3.1, 4.8, 1.5.3), raw bytes.

mod common;

use common::*;
use std::time::{Duration, Instant};

const CLOSE: Duration = Duration::from_secs(5);

// ---- codec framing ----------------------------------------------------------------------------

#[test]
fn several_packets_in_one_write_are_all_handled() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut bytes = connect("multi-1", true);
    bytes.extend(subscribe(1, &[("multi/t", 0)]));
    bytes.extend(publish("multi/t", b"hello", 0, false, false, 0));
    bytes.extend(pingreq());
    c.send(&bytes);
    c.expect(&connack(false, 0));
    c.expect(&suback(1, &[0]));
    c.expect(&publish("multi/t", b"hello", 0, false, false, 0));
    c.expect_hex("d0 00");
}

#[test]
fn one_packet_split_over_several_writes_is_reassembled() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let conn = connect("split-1", true);
    // Cut inside the fixed header, inside the protocol name and inside the client id.
    c.send_split(&conn, &[1, 5, conn.len() - 2], Duration::from_millis(150));
    c.expect(&connack(false, 0));
    c.subscribe(1, &[("split/t", 1)]);
    let p = publish("split/t", b"piecewise payload", 1, false, false, 7);
    c.send_split(&p, &[1, 2, 9], Duration::from_millis(100));
    c.expect_unordered(&[
        puback(7),
        publish("split/t", b"piecewise payload", 1, false, false, 1),
    ]);
}

#[test]
fn multi_byte_remaining_length_is_decoded_and_encoded() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake(b.addr(), "rl-1", true);
    c.subscribe(1, &[("rl/t", 0)]);
    // 200 bytes needs a 2-byte remaining length; 20_000 needs 3 bytes.
    for size in [200usize, 20_000] {
        let payload = vec![b'x'; size];
        let p = publish("rl/t", &payload, 0, false, false, 0);
        assert!(p[1] & 0x80 != 0, "test packet must use a multi-byte length");
        c.send(&p);
        let got = c.recv_publish();
        assert_eq!(got.payload.len(), size);
    }
}

#[test]
fn packet_larger_than_max_packet_size_closes_the_connection() {
    let b = start_broker_with(TestConfig {
        max_packet_size: 1024,
        ..TestConfig::default()
    });
    let (mut c, _) = RawClient::handshake(b.addr(), "big-1", true);
    c.send_lossy(&publish("big/t", &vec![0u8; 4096], 0, false, false, 0));
    c.expect_closed(CLOSE);
    // A packet under the limit is still fine on a new connection.
    let (mut c, _) = RawClient::handshake(b.addr(), "big-2", true);
    c.subscribe(1, &[("big/t", 0)]);
    c.send(&publish("big/t", &[1u8; 100], 0, false, false, 0));
    assert_eq!(c.recv_publish().payload.len(), 100);
}

// ---- connection rules -------------------------------------------------------------------------

#[test]
fn mqtt_3_1_0_1_first_packet_must_be_connect() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    c.send(&publish("a", b"x", 0, false, false, 0));
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_3_1_0_2_second_connect_closes_the_connection() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake(b.addr(), "twice", true);
    c.send(&connect("twice", true));
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_3_1_2_1_invalid_protocol_name_closes_without_connack() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut conn = Connect::v311("badname");
    conn.protocol_name = b"MQTX".to_vec();
    c.send(&conn.to_bytes());
    c.expect_closed(CLOSE);
}

/// An unknown level below 3.1's is answered in the 3.1.1 form, all such a client can read (a
/// level above 5 gets 5.0's 0x84: tests/v5_connect.rs).
#[test]
fn mqtt_3_1_2_2_unsupported_protocol_level_gets_connack_1() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut conn = Connect::v311("badlevel");
    conn.level = 1;
    c.send(&conn.to_bytes());
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got, vec![(0x20, vec![0, 1])]);
}

#[test]
fn mqtt_3_1_2_3_reserved_connect_flag_closes_the_connection() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut conn = Connect::v311("reserved");
    conn.reserved_flag = true;
    c.send(&conn.to_bytes());
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_1_5_3_1_invalid_utf8_client_id_closes_the_connection() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut conn = Connect::v311("x");
    conn.client_id = vec![b'a', 0xc3, 0x28, b'b']; // invalid 2-byte sequence
    c.send(&conn.to_bytes());
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_1_5_3_2_nul_in_client_id_closes_the_connection() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    let mut conn = Connect::v311("x");
    conn.client_id = b"ab\0cd".to_vec();
    c.send(&conn.to_bytes());
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_1_5_3_1_invalid_utf8_topic_closes_the_connection() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake(b.addr(), "utf8-topic", true);
    c.send(&publish([b'a', 0xff, b'b'], b"x", 0, false, false, 0));
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_1_5_3_2_nul_in_topic_closes_the_connection() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake(b.addr(), "nul-topic", true);
    c.send(&publish(b"a\0b", b"x", 0, false, false, 0));
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_3_1_3_7_empty_client_id_with_clean_session_is_accepted_and_works() {
    let b = start_broker();
    let (mut c, present) = RawClient::handshake(b.addr(), "", true);
    assert!(!present);
    c.subscribe(1, &[("anon/t", 1)]);
    c.send(&publish("anon/t", b"hi", 1, false, false, 3));
    c.expect_unordered(&[puback(3), publish("anon/t", b"hi", 1, false, false, 1)]);
}

#[test]
fn mqtt_3_1_3_8_empty_client_id_without_clean_session_gets_connack_2() {
    let b = start_broker();
    let mut c = RawClient::connect(b.addr());
    c.send(&connect("", false));
    let got = c.expect_closed_after_packets(CLOSE);
    assert_eq!(got, vec![(0x20, vec![0, 2])]);
}

#[test]
fn mqtt_3_1_connect_with_mqisdp_level_3_is_accepted() {
    let b = start_broker();
    let (mut c, present) = RawClient::handshake_with(b.addr(), &Connect::v31("v31-client"));
    assert!(!present);
    c.subscribe(1, &[("v31/t", 0)]);
    c.send(&publish("v31/t", b"old", 0, false, false, 0));
    assert_eq!(c.recv_publish().payload, b"old");
}

#[test]
fn mqtt_3_1_2_24_silent_client_is_disconnected_after_one_and_a_half_keep_alives() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake_with(b.addr(), &Connect::v311("ka-silent").keep_alive(2));
    let t0 = Instant::now();
    c.expect_closed(Duration::from_secs(8));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1900),
        "closed too early: {took:?}"
    );
    // Mosquitto checks keep-alives only every few seconds (closes at 5.4-6 s here), so the
    // shared test allows 4 s of slack; the strict bound is the courtier-specific test below.
    assert!(
        took <= Duration::from_millis(3000 + 4000),
        "closed too late: {took:?}"
    );
}

// courtier-specific: the strict form of MQTT-3.1.2-24 (1.5 x keep-alive plus 1 s of slack).
// Mosquitto 2.0 closes a 2 s keep-alive client only after 5.4-6 s.
#[test]
fn mqtt_3_1_2_24_silent_client_is_disconnected_within_keep_alive_times_1_5_strict() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake_with(b.addr(), &Connect::v311("ka-strict").keep_alive(2));
    let t0 = Instant::now();
    c.expect_closed(Duration::from_secs(8));
    let took = t0.elapsed();
    assert!(
        (Duration::from_millis(2900)..=Duration::from_millis(4000)).contains(&took),
        "closed after {took:?}"
    );
}

#[test]
fn keep_alive_client_that_pings_stays_connected() {
    let b = start_broker();
    let (mut c, _) = RawClient::handshake_with(b.addr(), &Connect::v311("ka-pinger").keep_alive(2));
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(1000));
        c.send(&pingreq());
        c.expect_hex("d0 00");
    }
}

#[test]
fn mqtt_3_1_4_2_second_connection_with_same_id_takes_over_and_session_continues() {
    let b = start_broker();
    let (mut first, _) = RawClient::handshake(b.addr(), "takeover", false);
    first.subscribe(1, &[("takeover/t", 1)]);
    let (mut second, present) = RawClient::handshake(b.addr(), "takeover", false);
    assert!(present, "the session must continue on take-over");
    first.expect_closed(CLOSE);
    // The subscription made on the first connection still delivers on the second.
    let mut p = RawClient::connected(b.addr(), "takeover-pub");
    p.send(&publish("takeover/t", b"after", 1, false, false, 1));
    p.expect(&puback(1));
    let got = second.recv_publish();
    assert_eq!(
        (got.topic.as_str(), got.payload.as_slice(), got.qos),
        ("takeover/t", &b"after"[..], 1)
    );
}

// ---- courtier-specific (Mosquitto behaves differently) -----------------------------------------

// courtier-specific: Mosquitto 2.0 has no connect timeout setting; Courtier closes a connection
// that sends no CONNECT within connect_timeout.
#[test]
fn no_connect_within_connect_timeout_closes_the_connection() {
    let b = start_broker_with(TestConfig {
        connect_timeout_secs: 1,
        ..TestConfig::default()
    });
    let mut c = RawClient::connect(b.addr());
    let t0 = Instant::now();
    c.expect_closed(Duration::from_secs(4));
    assert!(t0.elapsed() >= Duration::from_millis(900));
}

// ---- authentication (the built-in rules, actors/src/auth.rs) ------------------------------------

/// With `allow_anonymous = false` and no password file, nothing can check a password, so
/// every client is refused, with or without a user name, as Mosquitto refuses them (3.1.1
/// return code 5, "not authorized"): a user name alone proves nothing.
#[test]
fn anonymous_off_without_password_file_refuses_clients_with_and_without_user_name() {
    let b = start_broker_with(TestConfig {
        allow_anonymous: false,
        ..TestConfig::default()
    });
    let mut anonymous = RawClient::connect(b.addr());
    anonymous.send(&connect("anon", true));
    assert_eq!(
        anonymous.expect_closed_after_packets(CLOSE),
        vec![(0x20, vec![0, 5])]
    );
    let mut with_user = RawClient::connect(b.addr());
    let mut c = Connect::v311("nobody-client");
    c.username = Some("nobody".into());
    c.password = Some(b"whatever".to_vec());
    with_user.send(&c.to_bytes());
    assert_eq!(
        with_user.expect_closed_after_packets(CLOSE),
        vec![(0x20, vec![0, 5])]
    );
}

#[test]
fn anonymous_allowed_admits_clients_with_a_user_name_too() {
    let b = start_broker();
    let mut c = Connect::v311("named");
    c.username = Some("someone".into());
    c.password = Some(b"pw".to_vec());
    let (mut cl, _) = RawClient::handshake_with(b.addr(), &c);
    cl.subscribe(1, &[("named/t", 0)]);
    cl.send(&publish("named/t", b"x", 0, false, false, 0));
    assert_eq!(cl.recv_publish().payload, b"x");
}
