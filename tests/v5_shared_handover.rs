//! A shared subscription's member whose connection breaks: its unacknowledged QoS 1 and its
//! queued messages go to another member of the group (MQTT 5.0 §4.8.2), its QoS 2 messages in
//! flight stay with it [MQTT-4.8.2-4, -5].

mod common;

use common::v5::*;
use common::*;
use std::net::SocketAddr;
use std::time::Duration;

const QUIET: Duration = Duration::from_millis(500);

fn client5(addr: SocketAddr, c: Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    let ack = ConnAck5::parse(first, &body);
    assert_eq!(ack.reason, 0);
    (cl, ack)
}

fn member(addr: SocketAddr, c: Connect5, filter: &str, qos: u8) -> RawClient {
    let mut cl = client5(addr, c).0;
    cl.send(&subscribe5(1, &[(filter, qos)], &[]));
    let (first, body) = cl.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![qos]);
    cl
}

/// PUBLISHes until `QUIET` passes without one; acknowledged only if `ack`.
fn received(c: &mut RawClient, ack: bool) -> Vec<Publish5> {
    let mut got = Vec::new();
    while let Ok((first, body)) = c.try_read_packet(QUIET) {
        if first == 0x62 {
            // PUBREL of a QoS 2 delivery this test acknowledged.
            c.send(&pubcomp(u16::from_be_bytes([body[0], body[1]])));
            continue;
        }
        let p = Publish5::parse(first, &body);
        if let (true, Some(pkid)) = (ack, p.pkid) {
            match p.qos {
                1 => c.send(&puback(pkid)),
                _ => c.send(&pubrec(pkid)),
            }
        }
        got.push(p);
    }
    got
}

fn payloads(ps: &[Publish5]) -> Vec<String> {
    let mut v: Vec<String> = ps
        .iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect();
    v.sort();
    v
}

fn publish_all(addr: SocketAddr, topic: &str, n: u16, qos: u8) {
    let (mut p, _) = client5(addr, Connect5::new(&unique("pub")));
    for i in 0..n {
        p.send(&publish5(
            topic,
            i.to_string().as_bytes(),
            qos,
            false,
            i + 1,
            &[],
        ));
        let (first, body) = p.read_packet();
        if qos == 2 {
            assert_eq!(first, 0x50);
            p.send(&pubrel(i + 1));
            assert_eq!(p.read_packet().0, 0x70);
        } else {
            assert_eq!(Ack5::parse(first, &body).reasons, vec![0]);
        }
    }
}

#[test]
fn unacknowledged_and_queued_messages_of_a_lost_member_go_to_another() {
    let b = start_broker();
    let topic = unique("ho");
    let filter = format!("$share/g/{topic}");
    // Receive Maximum 1: one message in flight to the lost member, the rest queued behind it.
    let lost_id = unique("lost");
    let lost_conn = Connect5::new(&lost_id).prop(P::U16(prop::RECEIVE_MAXIMUM, 1));
    let mut lost = member(b.addr(), lost_conn, &filter, 1);
    let mut stays = member(b.addr(), Connect5::new(&unique("stays")), &filter, 1);
    publish_all(b.addr(), &topic, 8, 1);
    let first_share = received(&mut stays, true);
    assert_eq!(first_share.len(), 4, "round robin");
    let unacked = received(&mut lost, false);
    assert_eq!(unacked.len(), 1, "Receive Maximum 1: the rest is queued");
    // The connection breaks (no DISCONNECT); the session ends with it.
    lost.drop_connection();
    let handed = received(&mut stays, true);
    assert_eq!(
        handed.len(),
        4,
        "its in-flight message and its 3 queued ones"
    );
    assert!(handed.iter().all(|p| !p.dup && p.qos == 1));
    let mut all = first_share;
    all.extend(handed);
    assert_eq!(payloads(&all), ["0", "1", "2", "3", "4", "5", "6", "7"]);
}

#[test]
fn a_persistent_member_s_messages_move_on_and_do_not_come_back_to_it() {
    let b = start_broker();
    let topic = unique("ho-p");
    let filter = format!("$share/g/{topic}");
    let away_id = unique("away");
    let session = Connect5::new(&away_id).clean(false).session_expiry(600);
    let mut away = member(b.addr(), session.clone(), &filter, 1);
    let mut stays = member(b.addr(), Connect5::new(&unique("stays")), &filter, 1);
    publish_all(b.addr(), &topic, 4, 1);
    assert_eq!(received(&mut stays, true).len(), 2);
    assert_eq!(received(&mut away, false).len(), 2);
    away.drop_connection();
    assert_eq!(payloads(&received(&mut stays, true)).len(), 2);
    let (mut back, ack) = client5(b.addr(), session.clean(false));
    assert!(ack.session_present);
    assert!(
        received(&mut back, true).is_empty(),
        "handed over, not resent"
    );
}

#[test]
fn mqtt_4_8_2_4_a_qos_2_message_in_flight_stays_with_its_member() {
    let b = start_broker();
    let topic = unique("ho-q2");
    let filter = format!("$share/g/{topic}");
    let away_id = unique("q2-away");
    let session = Connect5::new(&away_id).clean(false).session_expiry(600);
    let mut away = member(b.addr(), session.clone(), &filter, 2);
    let mut stays = member(b.addr(), Connect5::new(&unique("q2-stays")), &filter, 2);
    publish_all(b.addr(), &topic, 2, 2);
    let kept = received(&mut away, false);
    assert_eq!(kept.len(), 1);
    assert_eq!(received(&mut stays, true).len(), 1);
    away.drop_connection();
    assert!(received(&mut stays, true).is_empty(), "[MQTT-4.8.2-5]");
    // The member that had it finishes it when it comes back [MQTT-4.8.2-4].
    let (mut back, _) = client5(b.addr(), session);
    let resent = received(&mut back, true);
    assert_eq!(resent.len(), 1);
    assert!(resent[0].dup);
    assert_eq!(resent[0].payload, kept[0].payload);
}
