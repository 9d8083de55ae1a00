//! What a persistent subscriber is sent again after kill -9 (issue #19, item 8): a possible
//! re-delivery carries DUP, and a QoS 2 delivery whose PUBREL was sent resumes with PUBREL,
//! never with the PUBLISH (scripts/crash-loop.sh runs the same under load, 20 rounds).

mod common;

use common::process::BrokerProcess;
use common::*;
use std::time::Duration;

fn subscribe_persistent(b: &BrokerProcess, id: &str, filter: &str, qos: u8) -> RawClient {
    let (mut c, _) = RawClient::handshake(b.addr, id, false);
    c.send(&subscribe(1, &[(filter, qos)]));
    let (first, _) = c.read_packet();
    assert_eq!(first, 0x90, "SUBACK");
    c
}

/// Publish from a clean publisher and wait for its PUBACK / PUBREC+PUBCOMP: once acknowledged,
/// the persistent subscriber's copy is stored.
fn publish_acked(b: &BrokerProcess, topic: &str, payload: &[u8], qos: u8) {
    let mut p = RawClient::connected(b.addr, "redeliver-pub");
    p.send(&publish(topic, payload, qos, false, false, 7));
    let (first, _) = p.read_packet();
    if qos == 2 {
        assert_eq!(first, 0x50, "PUBREC");
        p.send(&pubrel(7));
        let (first, _) = p.read_packet();
        assert_eq!(first, 0x70, "PUBCOMP");
    } else {
        assert_eq!(first, 0x40, "PUBACK");
    }
}

fn next_publish(c: &mut RawClient) -> Publish {
    let (first, body) = c.try_read_packet(Duration::from_secs(10)).expect("PUBLISH");
    Publish::parse(first, &body).unwrap_or_else(|| panic!("expected PUBLISH, got {first:#x}"))
}

#[test]
fn mqtt_3_3_1_1_qos1_sent_before_kill_9_is_resent_with_dup() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let mut s = subscribe_persistent(&b, "redeliver-q1", "r1/#", 1);
    publish_acked(&b, "r1/a", b"one", 1);
    let first = next_publish(&mut s);
    assert!(!first.dup, "a first delivery has no DUP");
    // No PUBACK: the delivery is unfinished when the broker dies.
    b.kill9();

    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let (mut s, present) = RawClient::handshake(b.addr, "redeliver-q1", false);
    assert!(present);
    let again = next_publish(&mut s);
    assert_eq!(again.payload, b"one");
    assert!(
        again.dup,
        "[MQTT-3.3.1-1] a re-delivery after a restart carries DUP"
    );
    s.send(&puback(again.packet_id.unwrap()));
}

#[test]
fn mqtt_4_3_3_1_qos2_released_before_kill_9_resumes_with_pubrel() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let mut s = subscribe_persistent(&b, "redeliver-q2", "r2/#", 2);
    publish_acked(&b, "r2/a", b"two", 2);
    let first = next_publish(&mut s);
    let pkid = first.packet_id.unwrap();
    s.send(&pubrec(pkid));
    let (rel, body) = s.read_packet();
    assert_eq!((rel, &body[..]), (0x62, &pkid.to_be_bytes()[..]), "PUBREL");
    // The client may deliver now and forget the id; the broker dies before PUBCOMP.
    b.kill9();

    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let (mut s, present) = RawClient::handshake(b.addr, "redeliver-q2", false);
    assert!(present);
    let (first, body) = s.try_read_packet(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (first, &body[..]),
        (0x62, &pkid.to_be_bytes()[..]),
        "[MQTT-4.3.3-1] PUBREL again, not the PUBLISH: the client already delivered it"
    );
    s.send(&pubcomp(pkid));
    assert!(
        s.try_read_packet(Duration::from_millis(500)).is_err(),
        "nothing else is sent"
    );
}
