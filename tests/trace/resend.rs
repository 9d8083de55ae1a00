//! Resends after a reconnect (PUBLISH with DUP, PUBREL) and a stored message after a restart.

use super::*;

#[test]
fn mqtt_4_4_0_1_a_publish_resent_with_dup_after_a_reconnect_is_traced() {
    let (_dir, b) = broker("[trace]\ntopics = [\"home/+/light\"]\n", &[]);
    let (lamp, first) = light_to_persistent_lamp(&b, 1);
    let pkid = first.packet_id.unwrap();
    // No PUBACK: the delivery stays in flight across the reconnect.
    let mut lamp = reconnect_lamp(&b, lamp);
    let again = lamp.recv_publish();
    assert!(again.dup, "[MQTT-4.4.0-1] resent with DUP");
    assert_eq!(
        again.packet_id,
        Some(pkid),
        "[MQTT-4.4.0-1] under its original id"
    );
    lamp.send(&puback(pkid));

    let (id, hops) = light_path(&b, "acked");
    assert_eq!(
        hops,
        [
            format!("{id} received client=\"switch\" topic=\"home/hall/light\" qos=1 retain=false bytes=2 via=publish protocol=3.1.1"),
            format!("{id} matched subscribers=1 clients=[\"lamp\"]"),
            format!("{id} client=\"lamp\" stored qos=1"),
            format!("{id} client=\"lamp\" queued qos=1"),
            format!("{id} client=\"lamp\" sent pkid={pkid} qos=1 dup=false protocol=3.1.1"),
            format!("{id} client=\"lamp\" sent pkid={pkid} qos=1 dup=true protocol=3.1.1"),
            format!("{id} client=\"lamp\" acked pkid={pkid} by=PUBACK"),
        ]
    );
}

#[test]
fn mqtt_4_4_0_1_a_pubrel_resent_after_a_reconnect_is_traced() {
    let (_dir, b) = broker("[trace]\ntopics = [\"home/+/light\"]\n", &[]);
    let (mut lamp, first) = light_to_persistent_lamp(&b, 2);
    let pkid = first.packet_id.unwrap();
    lamp.send(&pubrec(pkid));
    lamp.expect(&pubrel(pkid));
    // No PUBCOMP: the PUBREL is resent on reconnect, the PUBLISH is not.
    let mut lamp = reconnect_lamp(&b, lamp);
    lamp.expect(&pubrel(pkid));
    lamp.send(&pubcomp(pkid));

    let (id, hops) = light_path(&b, "acked");
    let tail = &hops[hops.len() - 4..];
    assert_eq!(
        tail,
        [
            format!("{id} client=\"lamp\" received PUBREC pkid={pkid}"),
            format!("{id} client=\"lamp\" released pkid={pkid}"),
            format!("{id} client=\"lamp\" released pkid={pkid} resent=true"),
            format!("{id} client=\"lamp\" acked pkid={pkid} by=PUBCOMP"),
        ],
        "{hops:#?}"
    );
}

/// A message stored for an offline persistent session is the same message after a restart:
/// the trace of its delivery goes on under the id it was stored with.
#[test]
fn a_stored_message_keeps_its_id_and_trace_across_a_restart() {
    let (dir, b) = broker("[trace]\ntopics = [\"alarm/#\"]\n", &[]);
    let mut siren = RawClient::handshake(b.addr, "siren", false).0;
    siren.subscribe(1, &[("alarm/#", 1)]);
    siren.send(&disconnect());
    siren.expect_closed(Duration::from_secs(5));
    let mut door = RawClient::connected(b.addr, "door");
    door.send(&publish("alarm/door", b"open", 1, false, false, 1));
    door.expect(&puback(1));
    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "stored qos=1");
    let id = msg_id(&lines, "received");
    common::process::terminate(b);

    let conf = dir.path().join("conf.d");
    let args = ["-c", conf.to_str().unwrap()];
    let b = BrokerProcess::start(&dir.path().join("data"), &args, &[]);
    let mut siren = RawClient::handshake(b.addr, "siren", false).0;
    let p = siren.recv_publish();
    assert_eq!(p.payload, b"open");
    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "sent pkid=");
    let sent = lines.iter().find(|l| l.contains("sent pkid=")).unwrap();
    // DUP: a QoS 1 message restored as queued may have been sent before (session/persist.rs).
    assert_eq!(
        hop(sent),
        format!("{id} client=\"siren\" sent pkid=1 qos=1 dup=true protocol=3.1.1"),
        "{lines:#?}"
    );
}
