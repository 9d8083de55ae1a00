//! MQTT 5.0 Subscription Identifiers (§3.8.2.1.2, §3.3.2.3.8), as raw packets: kept per
//! subscription, every matching one sent with a delivery, replaced and removed with the
//! subscription, sent with retained messages, and restored after kill -9.

mod common;

use common::process::BrokerProcess;
use common::v5::*;
use common::*;
use std::time::Duration;

const CLOSE: Duration = Duration::from_secs(5);

fn sub(c: &mut RawClient, pkid: u16, filters: &[(&str, u8)], id: Option<u32>) -> Vec<u8> {
    let props: Vec<P> = id
        .map(|id| P::Vbi(prop::SUBSCRIPTION_IDENTIFIER, id))
        .into_iter()
        .collect();
    c.send(&subscribe5(pkid, filters, &props));
    let (first, body) = c.read_packet();
    assert_eq!(first, 0x90);
    Ack5::parse(first, &body).reasons
}

/// The next PUBLISH (acknowledged if QoS 1) and its Subscription Identifiers, sorted.
fn recv_ids(c: &mut RawClient) -> (Publish5, Vec<u32>) {
    let (first, body) = c.read_packet();
    let p = Publish5::parse(first, &body);
    if let Some(id) = p.pkid {
        c.send(&packet(0x40, &id.to_be_bytes()));
    }
    let mut ids: Vec<u32> = p
        .props
        .iter()
        .filter_map(|x| match x {
            P::Vbi(prop::SUBSCRIPTION_IDENTIFIER, v) => Some(*v),
            _ => None,
        })
        .collect();
    ids.sort_unstable();
    (p, ids)
}

#[test]
fn mqtt_3_3_4_4_a_delivery_carries_every_matching_subscription_identifier() {
    let b = start_broker();
    let (mut s, ack) = connect5(b.addr(), &Connect5::new(&unique("si")));
    assert!(find(&ack.props, prop::SUBSCRIPTION_IDENTIFIER_AVAILABLE).is_none());
    assert_eq!(sub(&mut s, 1, &[("si/#", 1)], Some(7)), vec![1]);
    assert_eq!(
        sub(&mut s, 2, &[("si/+/t", 0), ("+/a/t", 0)], Some(268_435_455)),
        vec![0, 0]
    );
    assert_eq!(sub(&mut s, 3, &[("si/a/t", 1)], None), vec![1]);
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("si-pub")));
    // One copy, at the highest QoS, with both identifiers [MQTT-3.3.4-3], [MQTT-3.3.4-4].
    p.send(&publish5("si/a/t", b"1", 1, false, 1, &[]));
    let (got, ids) = recv_ids(&mut s);
    assert_eq!((got.payload.as_slice(), got.qos), (&b"1"[..], 1));
    assert_eq!(ids, vec![7, 268_435_455]);
    p.send(&publish5("si/x", b"2", 0, false, 0, &[]));
    assert_eq!(recv_ids(&mut s).1, vec![7]);
    // Re-subscribing without an identifier replaces the subscription, identifier and all.
    assert_eq!(sub(&mut s, 4, &[("si/#", 1)], None), vec![1]);
    p.send(&publish5("si/x", b"3", 0, false, 0, &[]));
    assert_eq!(recv_ids(&mut s).1, Vec::<u32>::new());
    assert_eq!(sub(&mut s, 5, &[("si/#", 1)], Some(9)), vec![1]);
    s.send(&unsubscribe5(6, &["si/+/t", "+/a/t"]));
    s.read_packet();
    p.send(&publish5("si/a/t", b"4", 0, false, 0, &[]));
    assert_eq!(recv_ids(&mut s).1, vec![9]);
}

#[test]
fn a_retained_message_and_a_3_1_1_subscriber_get_what_they_should() {
    let b = start_broker();
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("sir-pub")));
    p.send(&publish5("sir/t", b"kept", 1, true, 1, &[]));
    p.read_packet();
    let (mut s, _) = connect5(b.addr(), &Connect5::new(&unique("sir")));
    assert_eq!(sub(&mut s, 1, &[("sir/#", 1)], Some(42)), vec![1]);
    let (got, ids) = recv_ids(&mut s);
    assert!(got.retain);
    assert_eq!(ids, vec![42]);
    // A 3.1.1 subscriber on the same topic gets the plain PUBLISH.
    let mut old = RawClient::connected(b.addr(), &unique("sir-old"));
    old.subscribe(1, &[("sir/t", 0)]);
    assert_eq!(old.recv_publish().payload, b"kept");
}

#[test]
fn subscription_identifiers_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let id = unique("si-restart");
    let persistent = Connect5::new(&id).clean(false).session_expiry(300);
    let (mut c, _) = connect5(b.addr, &persistent);
    assert_eq!(sub(&mut c, 1, &[("sik/#", 1)], Some(11)), vec![1]);
    assert_eq!(sub(&mut c, 2, &[("sik/plain", 1)], None), vec![1]);
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
    b.kill9();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let (mut c, ack) = connect5(b.addr, &persistent);
    assert!(ack.session_present);
    let (mut p, _) = connect5(b.addr, &Connect5::new(&unique("sik-pub")));
    p.send(&publish5("sik/plain", b"x", 1, false, 1, &[]));
    assert_eq!(recv_ids(&mut c).1, vec![11]);
    p.send(&publish5("sik/other", b"y", 1, false, 2, &[]));
    assert_eq!(recv_ids(&mut c).1, vec![11]);
    common::process::terminate(b);
}

#[test]
fn mqtt_3_1_2_24_a_delivery_sized_with_its_subscription_identifiers_stays_within_the_maximum() {
    let b = start_broker();
    let (mut s, _) = connect5(
        b.addr(),
        &Connect5::new(&unique("si-mps")).prop(P::U32(prop::MAXIMUM_PACKET_SIZE, 64)),
    );
    assert_eq!(sub(&mut s, 1, &[("mi/t", 0)], Some(300)), vec![0]);
    let (mut p, _) = connect5(b.addr(), &Connect5::new(&unique("si-mpp")));
    // 64 bytes without the identifier (1 + 1 + 6 topic + 1 property length + 55), 67 with
    // it: more than the client accepts, so it is not sent [MQTT-3.1.2-24].
    p.send(&publish5("mi/t", &[7u8; 55], 0, false, 0, &[]));
    p.send(&publish5("mi/t", b"small", 0, false, 0, &[]));
    let (got, ids) = recv_ids(&mut s);
    assert_eq!((got.payload.as_slice(), ids), (&b"small"[..], vec![300]));
}
