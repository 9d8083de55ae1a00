//! MQTT 5.0 state across restarts of the real binary on RocksDB: session expiry intervals,
//! message properties and message expiry, with a clean stop (SIGTERM) and a crash (kill -9).
//! Expiry is wall-clock time: it keeps running while the broker is down.

mod common;

use common::process::{terminate, BrokerProcess};
use common::v5::*;
use common::*;
use std::net::SocketAddr;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

const CLOSE: Duration = Duration::from_secs(5);

fn start(dir: &Path) -> BrokerProcess {
    BrokerProcess::start(dir, &[], &[])
}

fn connect5(addr: SocketAddr, c: &Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    let ack = ConnAck5::parse(first, &body);
    assert_eq!(ack.reason, 0, "CONNACK refused: {ack:?}");
    (cl, ack)
}

/// A 5.0 CONNECT keeping its session for `expiry` seconds.
fn persistent(id: &str, expiry: u32) -> Connect5 {
    Connect5::new(id).clean(false).session_expiry(expiry)
}

/// Connect, subscribe at QoS 1, DISCONNECT (normal, no property), wait for the close.
fn subscribe_and_leave(addr: SocketAddr, id: &str, expiry: u32, filter: &str) {
    let (mut c, _) = connect5(addr, &persistent(id, expiry));
    c.send(&subscribe5(1, &[(filter, 1)], &[]));
    let (first, body) = c.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![1], "SUBACK");
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
}

/// Publish at QoS 1 from a fresh 5.0 client and wait for PUBACK: stored once acknowledged.
fn publish_acked(addr: SocketAddr, topic: &str, payload: &[u8], retain: bool, ps: &[P]) {
    let (mut p, _) = connect5(addr, &Connect5::new(&unique("pub")));
    p.send(&publish5(topic, payload, 1, retain, 1, ps));
    let (first, body) = p.read_packet();
    let ack = Ack5::parse(first, &body);
    assert_eq!((ack.first, ack.pkid), (0x40, 1), "PUBACK");
    assert!(matches!(ack.reasons[..], [0x00] | [0x10]), "{ack:?}");
    p.send(&disconnect5(0, &[]));
}

/// The next PUBLISH, acknowledged if QoS 1.
fn recv5(c: &mut RawClient) -> Publish5 {
    let (first, body) = c.read_packet();
    let p = Publish5::parse(first, &body);
    if let Some(id) = p.pkid {
        c.send(&packet(0x40, &id.to_be_bytes()));
    }
    p
}

/// Splits off the Message Expiry Interval, returning the other properties and it.
fn without_expiry(ps: &[P]) -> (Vec<P>, Option<u32>) {
    let left = match find(ps, prop::MESSAGE_EXPIRY_INTERVAL) {
        Some(P::U32(_, v)) => Some(*v),
        _ => None,
    };
    let rest = ps
        .iter()
        .filter(|p| p.id() != prop::MESSAGE_EXPIRY_INTERVAL)
        .cloned()
        .collect();
    (rest, left)
}

fn message_props(tag: &str) -> Vec<P> {
    vec![
        P::Byte(prop::PAYLOAD_FORMAT_INDICATOR, 1),
        P::Str(prop::CONTENT_TYPE, format!("text/{tag}")),
        P::Str(prop::RESPONSE_TOPIC, format!("reply/{tag}")),
        P::Bin(prop::CORRELATION_DATA, vec![0, 0xFF, tag.len() as u8]),
        P::Pair("k".into(), "2".into()),
        P::Pair("a".into(), tag.into()),
        P::Pair("k".into(), "1".into()),
    ]
}

/// Sleeps until `dur` has passed since `since`.
fn sleep_until(since: Instant, dur: Duration) {
    sleep(dur.saturating_sub(since.elapsed()));
}

#[test]
fn mqtt_3_3_2_queued_messages_keep_their_properties_across_kill_9_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    subscribe_and_leave(b.addr, "qp-sub", 300, "qp/#");
    publish_acked(b.addr, "qp/crash", b"one", false, &message_props("crash"));
    publish_acked(b.addr, "qp/term", b"two", false, &message_props("term"));
    b.kill9();
    // Restored from the write-ahead log, then written out again by a clean stop.
    terminate(start(dir.path()));

    let b = start(dir.path());
    let (mut c, ack) = connect5(b.addr, &persistent("qp-sub", 300));
    assert!(ack.session_present);
    let one = recv5(&mut c);
    assert_eq!(
        (one.topic.as_str(), one.payload.as_slice()),
        ("qp/crash", &b"one"[..])
    );
    // Exactly what was sent, in order, duplicates kept; no expiry made up [MQTT-3.3.2-17].
    assert_eq!(one.props, message_props("crash"));
    let two = recv5(&mut c);
    assert_eq!(
        (two.topic.as_str(), two.payload.as_slice()),
        ("qp/term", &b"two"[..])
    );
    assert_eq!(two.props, message_props("term"));
    c.expect_silence(Duration::from_millis(300));
}

#[test]
fn mqtt_3_3_2_5_a_queued_message_that_expired_while_the_broker_was_down_is_not_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    subscribe_and_leave(b.addr, "qe-sub", 300, "qe/#");
    let published = Instant::now();
    let short = [P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 2)];
    publish_acked(b.addr, "qe/short", b"stale", false, &short);
    let mut long = message_props("long");
    long.push(P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 300));
    publish_acked(b.addr, "qe/long", b"fresh", false, &long);
    b.kill9();
    sleep_until(published, Duration::from_millis(2500));

    let b = start(dir.path());
    let (mut c, ack) = connect5(b.addr, &persistent("qe-sub", 300));
    assert!(ack.session_present);
    let got = recv5(&mut c);
    assert_eq!(
        got.payload, b"fresh",
        "the 2 s message is gone [MQTT-3.3.2-5]"
    );
    let (rest, left) = without_expiry(&got.props);
    assert_eq!(rest, message_props("long"));
    // 2.5 s of the 300 have passed, the broker being down for most of them [MQTT-3.3.2-6].
    let left = left.expect("Message Expiry Interval forwarded");
    assert!((1..=298).contains(&left), "{left}");
    c.expect_silence(Duration::from_millis(500));
}

#[test]
fn mqtt_3_3_2_5_retained_message_survives_kill_9_with_its_properties_unless_expired() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    let published = Instant::now();
    let mut long = message_props("retained");
    long.push(P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 300));
    publish_acked(b.addr, "rt/long", b"kept", true, &long);
    let short = [
        P::Str(prop::CONTENT_TYPE, "text/short".into()),
        P::U32(prop::MESSAGE_EXPIRY_INTERVAL, 2),
    ];
    publish_acked(b.addr, "rt/short", b"gone", true, &short);
    b.kill9();
    sleep_until(published, Duration::from_millis(2500));

    let b = start(dir.path());
    let (mut s, _) = connect5(b.addr, &Connect5::new(&unique("rt-sub")));
    s.send(&subscribe5(1, &[("rt/#", 1)], &[]));
    assert_eq!(s.read_packet().0, 0x90, "SUBACK");
    let got = recv5(&mut s);
    assert_eq!((got.topic.as_str(), got.retain), ("rt/long", true));
    assert_eq!(got.payload, b"kept");
    let (rest, left) = without_expiry(&got.props);
    assert_eq!(rest, message_props("retained"));
    let left = left.expect("Message Expiry Interval forwarded");
    assert!((1..=298).contains(&left), "{left}");
    s.expect_silence(Duration::from_millis(500));
}

/// Two sessions leave at the same moment: one with a 3 s expiry, one with 300 s. The broker
/// is stopped 2 s later and started again; the clients come back 3.7 s after leaving. The
/// short session has then been without its client for more than its 3 s of wall-clock time
/// (expired), though less than 3 s since the broker stopped or started again.
fn session_expiry_counts_wall_clock_time_across(stop: fn(BrokerProcess)) {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    subscribe_and_leave(b.addr, "se-short", 3, "se/short");
    let left = Instant::now();
    subscribe_and_leave(b.addr, "se-long", 300, "se/long");
    sleep(Duration::from_secs(2));
    stop(b);
    let b = start(dir.path());
    sleep_until(left, Duration::from_millis(3700));

    let (_short, ack) = connect5(b.addr, &persistent("se-short", 3));
    assert!(
        !ack.session_present,
        "3 s session left {:?} ago is still present [§3.1.2.11.2]",
        left.elapsed()
    );
    let (_long, ack) = connect5(b.addr, &persistent("se-long", 300));
    assert!(ack.session_present, "the 300 s session is present");
}

#[test]
fn mqtt_3_1_2_11_session_expiry_counts_wall_clock_time_across_kill_9() {
    session_expiry_counts_wall_clock_time_across(BrokerProcess::kill9);
}

#[test]
fn mqtt_3_1_2_11_session_expiry_counts_wall_clock_time_across_sigterm() {
    session_expiry_counts_wall_clock_time_across(terminate);
}

#[test]
fn mqtt_3_1_2_11_session_expiry_0xffffffff_never_expires_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    subscribe_and_leave(b.addr, "forever", u32::MAX, "fe/t");
    publish_acked(b.addr, "fe/t", b"still here", false, &[]);
    terminate(b);
    start(dir.path()).kill9();

    let b = start(dir.path());
    let (mut c, ack) = connect5(b.addr, &persistent("forever", u32::MAX));
    assert!(ack.session_present);
    assert_eq!(recv5(&mut c).payload, b"still here");
    // The interval is granted as asked: no Session Expiry Interval in CONNACK, or this one.
    assert!(matches!(
        find(&ack.props, prop::SESSION_EXPIRY_INTERVAL),
        None | Some(P::U32(_, u32::MAX))
    ));
}

/// A session with expiry 300 and a subscription, ended by `end` while the broker runs: after
/// `stop` and a restart there is no session, and no subscription queues messages for it.
fn ended_session_stays_ended(end: fn(SocketAddr, RawClient), stop: fn(BrokerProcess)) {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    subscribe_and_leave(b.addr, "ended", 300, "z/t");
    let (c, ack) = connect5(b.addr, &persistent("ended", 300));
    assert!(ack.session_present);
    end(b.addr, c);
    // The deletion is written without the client waiting for it (and its CONNACK or the
    // close do not wait either): this is about whether it is written at all.
    sleep(Duration::from_millis(300));
    stop(b);

    let b = start(dir.path());
    publish_acked(b.addr, "z/t", b"for nobody", false, &[]);
    let (mut c, ack) = connect5(b.addr, &persistent("ended", 300));
    let got = c.try_read_packet(Duration::from_millis(500));
    let present = ack.session_present;
    assert!(
        !present,
        "session present after the restart; then got {got:?}"
    );
    assert!(got.is_err(), "{got:?}");
}

/// DISCONNECT with Session Expiry Interval 0: the session ends now [MQTT-3.14.2].
fn disconnect_with_expiry_0(_: SocketAddr, mut c: RawClient) {
    c.send(&disconnect5(0, &[P::U32(prop::SESSION_EXPIRY_INTERVAL, 0)]));
    c.expect_closed(CLOSE);
}

/// Resume the session with no Session Expiry Interval (0), then DISCONNECT: the session ends
/// with the connection [§3.1.2.11.2: absent means 0].
fn resume_with_expiry_0_and_leave(addr: SocketAddr, mut c: RawClient) {
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
    let (mut c, ack) = connect5(addr, &Connect5::new("ended").clean(false));
    assert!(ack.session_present);
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
}

/// Clean Start with no Session Expiry Interval: the old session is discarded [MQTT-3.1.2-4].
fn clean_start_with_expiry_0_and_leave(addr: SocketAddr, c: RawClient) {
    c.drop_connection();
    let (mut c, ack) = connect5(addr, &Connect5::new("ended"));
    assert!(!ack.session_present);
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
}

#[test]
fn mqtt_3_14_2_disconnect_setting_session_expiry_0_leaves_no_session_after_kill_9() {
    ended_session_stays_ended(disconnect_with_expiry_0, BrokerProcess::kill9);
}

#[test]
fn mqtt_3_14_2_disconnect_setting_session_expiry_0_leaves_no_session_after_sigterm() {
    ended_session_stays_ended(disconnect_with_expiry_0, terminate);
}

#[test]
fn mqtt_3_1_2_11_session_resumed_with_expiry_0_leaves_no_session_after_a_restart() {
    ended_session_stays_ended(resume_with_expiry_0_and_leave, BrokerProcess::kill9);
}

#[test]
fn mqtt_3_1_2_4_clean_start_leaves_no_session_after_a_restart() {
    ended_session_stays_ended(clean_start_with_expiry_0_and_leave, BrokerProcess::kill9);
}

/// A restored persistent session's subscriptions are in place when the broker accepts
/// clients: a QoS 1 message published right after start-up is queued for it, not answered
/// with PUBACK 0x10 (no matching subscribers) and dropped [MQTT-3.1.2-23]. Sessions with long
/// queues, restored first, make the window wide enough to hit.
#[test]
fn restored_subscriptions_are_in_place_when_the_broker_accepts_clients() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    for i in 0..4 {
        subscribe_and_leave(b.addr, &format!("a-heavy-{i}"), 300, "heavy/t");
    }
    subscribe_and_leave(b.addr, "z-light", 300, "light/t");
    let (mut p, _) = connect5(b.addr, &Connect5::new("heavy-pub"));
    for chunk in 0..25u16 {
        let batch: Vec<u8> = (1..=200u16)
            .flat_map(|id| publish5("heavy/t", &chunk.to_be_bytes(), 1, false, id, &[]))
            .collect();
        p.send(&batch);
        for _ in 0..200 {
            assert_eq!(p.read_packet().0, 0x40);
        }
    }
    terminate(b);
    let b = start(dir.path());
    let (mut p, _) = connect5(b.addr, &Connect5::new("race-pub"));
    p.send(&publish5("light/t", b"x", 1, false, 1, &[]));
    let (first, body) = p.read_packet();
    assert_eq!(
        Ack5::parse(first, &body).reasons,
        [0],
        "PUBACK 0x10: not queued"
    );
    let (mut c, ack) = connect5(b.addr, &persistent("z-light", 300));
    assert!(ack.session_present);
    assert_eq!(recv5(&mut c).payload, b"x");
}

/// A broker that stops tells its 5.0 clients why: DISCONNECT 0x8B (server shutting down).
#[test]
fn mqtt_4_13_1_a_stopping_broker_sends_disconnect_0x8b() {
    let dir = tempfile::tempdir().unwrap();
    let b = BrokerProcess::start(dir.path(), &[], &[]);
    let mut c = RawClient::connect(b.addr);
    c.send(&Connect5::new("leaving").to_bytes());
    let (first, body) = c.read_packet();
    assert_eq!(ConnAck5::parse(first, &body).reason, 0);
    common::process::terminate(b);
    let got = c.expect_closed_after_packets(Duration::from_secs(10));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(parse_disconnect(got[0].0, &got[0].1).0, 0x8B);
}

/// Subscription options are stored with the session: No Local still holds after a restart.
#[test]
fn mqtt_3_8_3_3_no_local_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let b = start(dir.path());
    let id = unique("nl-restart");
    let (mut c, _) = connect5(b.addr, &persistent(&id, 300));
    c.send(&subscribe5(
        1,
        &[("nlr/own", 1 | 0b0100), ("nlr/all", 1)],
        &[],
    ));
    let (first, body) = c.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![1, 1]);
    c.send(&disconnect5(0, &[]));
    c.expect_closed(CLOSE);
    common::process::terminate(b);
    let b = start(dir.path());
    let (mut c, ack) = connect5(b.addr, &persistent(&id, 300));
    assert!(ack.session_present);
    c.send(&publish5("nlr/own", b"mine", 0, false, 0, &[]));
    c.send(&publish5("nlr/all", b"echo", 0, false, 0, &[]));
    assert_eq!(recv5(&mut c).payload, b"echo");
    c.expect_silence(Duration::from_millis(300));
}
