//! Drops and denials say why: offline sessions, `$SYS` denials, `drop_oldest` evictions.

use super::*;

/// Leave "siren" as an offline persistent session subscribed to `alarm/#` at QoS 1.
fn offline_siren(b: &BrokerProcess) {
    let (mut siren, _) = RawClient::handshake(b.addr, "siren", false);
    siren.subscribe(1, &[("alarm/#", 1)]);
    siren.send(&disconnect());
    siren.expect_closed(Duration::from_secs(5));
}

/// Two acknowledged QoS 1 alarms from "door": `alarm/door`, then `alarm/window`.
fn two_alarms(door: &mut RawClient) {
    door.send(&publish("alarm/door", b"open", 1, false, false, 1));
    door.expect(&puback(1));
    door.send(&publish("alarm/window", b"open", 1, false, false, 2));
    door.expect(&puback(2));
}

#[test]
fn drops_to_an_offline_persistent_session_say_why() {
    let (_dir, b) = broker(
        "[trace]\ntopics = [\"alarm/#\"]\n[limits]\nmax_queued_messages = 1\n",
        &[],
    );
    offline_siren(&b);
    let mut door = RawClient::connected(b.addr, "door");
    // QoS 0 to an offline session is not queued (queue_qos0_messages = false).
    door.send(&publish("alarm/door", b"open", 0, false, false, 0));
    // QoS 1: the first is stored and queued, the second finds the queue full.
    two_alarms(&mut door);

    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "reason=queue_full");
    let hops: Vec<&str> = lines.iter().map(|l| hop(l)).collect();
    let qos0 = msg_id(&lines, "qos=0 retain");
    assert!(
        hops.contains(
            &format!("{qos0} client=\"siren\" dropped reason=qos0_offline qos=0").as_str()
        ),
        "{hops:#?}"
    );
    let first = msg_id(&lines, "qos=1 retain");
    assert!(hops.contains(&format!("{first} client=\"siren\" stored qos=1").as_str()));
    assert!(hops.contains(&format!("{first} client=\"siren\" queued qos=1").as_str()));
    let second = msg_id(&lines, "topic=\"alarm/window\"");
    assert!(
        hops.contains(
            &format!("{second} client=\"siren\" dropped reason=queue_full qos=1").as_str()
        ),
        "{hops:#?}"
    );
}

#[test]
fn a_traced_clients_sys_denial_shows_with_a_message_id() {
    let (_dir, b) = broker("[trace]\nclients = [\"rogue\"]\n", &[]);
    let mut rogue = RawClient::connected(b.addr, "rogue");
    rogue.send(&publish("$SYS/broker/uptime", b"0", 1, false, false, 7));
    rogue.expect(&puback(7));
    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "dropped");
    let id = msg_id(&lines, "received");
    let hops: Vec<&str> = lines.iter().map(|l| hop(l)).collect();
    assert_eq!(
        hops,
        [
            format!("{id} received client=\"rogue\" topic=\"$SYS/broker/uptime\" qos=1 retain=false bytes=1 via=publish protocol=3.1.1"),
            format!("{id} dropped reason=sys_topic_denied"),
        ]
    );
}

#[test]
fn a_message_evicted_by_drop_oldest_says_by_which() {
    let (_dir, b) = broker(
        "[trace]\ntopics = [\"alarm/#\"]\n\
         [limits]\nmax_queued_messages = 1\nqueue_overflow = \"drop_oldest\"\n",
        &[],
    );
    offline_siren(&b);
    two_alarms(&mut RawClient::connected(b.addr, "door"));

    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "evicted=1");
    let hops: Vec<&str> = lines.iter().map(|l| hop(l)).collect();
    let (old, new) = (
        msg_id(&lines, "topic=\"alarm/door\""),
        msg_id(&lines, "topic=\"alarm/window\""),
    );
    let new_id = new.trim_start_matches("msg=");
    let evicted = format!("{old} client=\"siren\" dropped reason=queue_full evicted_by={new_id}");
    assert!(hops.contains(&evicted.as_str()), "{hops:#?}");
    let queued = format!("{new} client=\"siren\" queued qos=1 evicted=1");
    assert!(hops.contains(&queued.as_str()), "{hops:#?}");
}
