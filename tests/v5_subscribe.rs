//! MQTT 5.0 subscription options, as raw packets (MQTT 5.0 §3.8.3.1): No Local, Retain As
//! Published, Retain Handling.

mod common;

use common::v5::*;
use common::*;
use std::time::Duration;

const NO_LOCAL: u8 = 0b0100;
const RETAIN_AS_PUBLISHED: u8 = 0b1000;
const RETAIN_HANDLING_1: u8 = 0b01_0000;
const RETAIN_HANDLING_2: u8 = 0b10_0000;

fn client5(addr: std::net::SocketAddr, id: &str) -> RawClient {
    let mut cl = RawClient::connect(addr);
    cl.send(&Connect5::new(id).to_bytes());
    let (first, body) = cl.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0);
    cl
}

fn sub(c: &mut RawClient, pkid: u16, filter: &str, options: u8) {
    c.send(&subscribe5(pkid, &[(filter, options)], &[]));
    let (first, body) = c.read_packet();
    assert_eq!(first, 0x90);
    assert_eq!(Ack5::parse(first, &body).reasons, vec![options & 0b11]);
}

fn recv(c: &mut RawClient) -> Publish5 {
    let (first, body) = c.read_packet();
    Publish5::parse(first, &body)
}

#[test]
fn mqtt_3_8_3_3_no_local_keeps_a_client_s_own_messages_from_it() {
    let b = start_broker();
    let mut c = client5(b.addr(), &unique("nl"));
    sub(&mut c, 1, "nl/own", NO_LOCAL);
    sub(&mut c, 2, "nl/both", 0);
    c.send(&publish5("nl/own", b"mine", 0, false, 0, &[]));
    c.send(&publish5("nl/both", b"echo", 0, false, 0, &[]));
    // Only the subscription without No Local echoes the client's own message back.
    assert_eq!(recv(&mut c).payload, b"echo");
    c.expect_silence(Duration::from_millis(300));
    // Others still get the No Local subscriber's messages, and it gets theirs.
    let mut other = client5(b.addr(), &unique("nl-other"));
    other.send(&publish5("nl/own", b"theirs", 0, false, 0, &[]));
    assert_eq!(recv(&mut c).payload, b"theirs");
}

#[test]
fn mqtt_3_3_1_12_retain_as_published_keeps_the_retain_flag_on_live_messages() {
    let b = start_broker();
    let mut rap = client5(b.addr(), &unique("rap"));
    sub(&mut rap, 1, "rap/t", RETAIN_AS_PUBLISHED);
    let mut plain = client5(b.addr(), &unique("plain"));
    sub(&mut plain, 1, "rap/t", 0);
    let mut p = client5(b.addr(), &unique("rap-pub"));
    p.send(&publish5("rap/t", b"r", 0, true, 0, &[]));
    assert!(recv(&mut rap).retain, "Retain As Published keeps RETAIN");
    assert!(
        !recv(&mut plain).retain,
        "live forwarding clears RETAIN [MQTT-3.3.1-9]"
    );
}

#[test]
fn mqtt_3_3_1_10_retain_handling_1_sends_retained_only_for_a_new_subscription() {
    let b = start_broker();
    let mut p = client5(b.addr(), &unique("rh-pub"));
    p.send(&publish5("rh/t", b"kept", 1, true, 1, &[]));
    p.read_packet();
    let mut c = client5(b.addr(), &unique("rh1"));
    sub(&mut c, 1, "rh/t", 1 | RETAIN_HANDLING_1);
    let got = recv(&mut c);
    assert_eq!((got.payload.as_slice(), got.retain), (&b"kept"[..], true));
    c.send(&puback(got.pkid.unwrap()));
    // The same subscription again: no retained message this time.
    sub(&mut c, 2, "rh/t", 1 | RETAIN_HANDLING_1);
    c.expect_silence(Duration::from_millis(300));
    // Retain Handling 0 sends them again on every subscribe.
    sub(&mut c, 3, "rh/t", 1);
    assert_eq!(recv(&mut c).payload, b"kept");
}

#[test]
fn mqtt_3_3_1_11_retain_handling_2_sends_no_retained_messages() {
    let b = start_broker();
    let mut p = client5(b.addr(), &unique("rh2-pub"));
    p.send(&publish5("rh2/t", b"kept", 1, true, 1, &[]));
    p.read_packet();
    let mut c = client5(b.addr(), &unique("rh2"));
    sub(&mut c, 1, "rh2/t", RETAIN_HANDLING_2);
    c.expect_silence(Duration::from_millis(300));
    // Live messages still arrive.
    p.send(&publish5("rh2/t", b"live", 0, false, 0, &[]));
    assert_eq!(recv(&mut c).payload, b"live");
}

#[test]
fn subscription_options_survive_a_reconnect_of_a_persistent_session() {
    let b = start_broker();
    let id = unique("opts-keep");
    let connect = |b: &TestBroker| {
        let mut cl = RawClient::connect(b.addr());
        cl.send(
            &Connect5::new(&id)
                .clean(false)
                .session_expiry(60)
                .to_bytes(),
        );
        cl.read_packet();
        cl
    };
    let mut c = connect(&b);
    sub(&mut c, 1, "keep/t", NO_LOCAL);
    c.send(&disconnect5(0, &[]));
    c.expect_closed(Duration::from_secs(5));
    let mut c = connect(&b);
    c.send(&publish5("keep/t", b"mine", 0, false, 0, &[]));
    c.expect_silence(Duration::from_millis(300));
}
