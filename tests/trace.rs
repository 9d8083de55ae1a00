//! Message-path traces (`[trace]`), end to end: the real binary with a trace config, real MQTT
//! clients over TCP, and the trace lines it logs on stderr.

mod common;

use common::process::BrokerProcess;
use common::*;
use std::time::{Duration, Instant};

/// Log lines of the trace target, collected until one contains `until` (or 10 s pass).
fn trace_lines_until(b: &BrokerProcess, seen: &mut Vec<String>, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.iter().any(|l| l.contains(until)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match b.log.recv_timeout(left) {
            Ok(line) if line.contains("courtier::trace]") => seen.push(line),
            Ok(_) => {}
            Err(_) => panic!("no trace line with {until:?}; trace lines: {seen:#?}"),
        }
    }
    seen.clone()
}

/// The text after the log prefix: `msg=<id> <hop> ...`.
fn hop(line: &str) -> &str {
    line.split("courtier::trace] ").nth(1).unwrap_or(line)
}

/// `msg=<id>` of the first line with `needle`.
fn msg_id(lines: &[String], needle: &str) -> String {
    let line = lines.iter().find(|l| l.contains(needle)).unwrap();
    hop(line).split_whitespace().next().unwrap().to_owned()
}

/// A broker started with `trace` as a config file (plus `env`).
fn broker(trace: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, BrokerProcess) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conf.d");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("10-trace.toml"), trace).unwrap();
    let data = dir.path().join("data");
    let args = ["-c", conf.to_str().unwrap()];
    let b = BrokerProcess::start(&data, &args, env);
    (dir, b)
}

#[test]
fn a_qos1_message_to_an_online_subscriber_is_traced_hop_by_hop() {
    let (_dir, b) = broker("[trace]\ntopics = [\"home/+/light\"]\n", &[]);
    let mut lamp = RawClient::connected(b.addr, "lamp");
    lamp.subscribe(1, &[("home/#", 1)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    // Untraced first: it must leave no trace line, even though it reaches the same subscriber.
    switch.send(&publish("home/hall/heat", b"21", 1, false, false, 1));
    switch.expect(&puback(1));
    switch.send(&publish("home/hall/light", b"on", 1, false, false, 2));
    switch.expect(&puback(2));
    for expected in ["home/hall/heat", "home/hall/light"] {
        let p = lamp.recv_publish();
        assert_eq!(p.topic, expected);
        lamp.send(&puback(p.packet_id.unwrap()));
    }

    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "acked");
    let id = msg_id(&lines, "received");
    let path: Vec<&str> = lines.iter().map(|l| hop(l)).collect();
    assert_eq!(
        path,
        [
            format!("{id} received client=\"switch\" topic=\"home/hall/light\" qos=1 retain=false bytes=2 via=publish protocol=3.1.1"),
            format!("{id} matched subscribers=1 clients=[\"lamp\"]"),
            format!("{id} client=\"lamp\" queued qos=1"),
            format!("{id} client=\"lamp\" sent pkid=2 qos=1 dup=false protocol=3.1.1"),
            format!("{id} client=\"lamp\" acked pkid=2 by=PUBACK"),
        ],
        "{lines:#?}"
    );
    assert!(lines.iter().all(|l| !l.contains("heat")), "{lines:#?}");
}

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
fn without_a_trace_config_nothing_is_traced() {
    let (_dir, b) = broker("", &[]);
    let mut c = RawClient::connected(b.addr, "loop");
    c.subscribe(1, &[("a/#", 1)]);
    c.send(&publish("a/b", b"x", 1, false, false, 1));
    // The own delivery and the PUBACK, in either order.
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(c.read_packet().0 >> 4);
    }
    got.sort();
    assert_eq!(got, [3, 4]);
    std::thread::sleep(Duration::from_millis(200));
    let lines = b.drain_log();
    assert!(
        lines.iter().all(|l| !l.contains("courtier::trace")),
        "{lines:#?}"
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

#[test]
fn sys_publications_are_traced_only_when_a_filter_names_them() {
    let sys = ("COURTIER__BROKER__SYS_INTERVAL_SECS", "1");
    let (_dir, b) = broker("[trace]\ntopics = [\"$SYS/broker/uptime\"]\n", &[sys]);
    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "via=sys");
    let line = lines.iter().find(|l| l.contains("via=sys")).unwrap();
    assert!(
        hop(line).contains(" received client=\"\" topic=\"$SYS/broker/uptime\" qos=0 retain=true")
    );
    // Only the named topic: the other $SYS topics, of this period and the next, are not.
    std::thread::sleep(Duration::from_millis(1200));
    let more: Vec<String> = b
        .log
        .try_iter()
        .filter(|l| l.contains("received"))
        .collect();
    let all: Vec<&String> = lines.iter().chain(&more).collect();
    assert!(all
        .iter()
        .all(|l| !l.contains("received") || l.contains("$SYS/broker/uptime")));
}

/// "lamp" as a persistent session subscribed to `home/#` at `qos`, and "switch" publishing
/// `home/hall/light` "on" at `qos` (its own flow completed); returns lamp and the delivery.
fn light_to_persistent_lamp(b: &BrokerProcess, qos: u8) -> (RawClient, Publish) {
    let (mut lamp, _) = RawClient::handshake(b.addr, "lamp", false);
    lamp.subscribe(1, &[("home/#", qos)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/hall/light", b"on", qos, false, false, 1));
    if qos == 2 {
        switch.expect(&pubrec(1));
        switch.send(&pubrel(1));
        switch.expect(&pubcomp(1));
    } else {
        switch.expect(&puback(1));
    }
    let p = lamp.recv_publish();
    assert!(!p.dup, "a first delivery has no DUP");
    (lamp, p)
}

/// Disconnect "lamp" cleanly and connect it again to its persistent session.
fn reconnect_lamp(b: &BrokerProcess, mut lamp: RawClient) -> RawClient {
    lamp.send(&disconnect());
    lamp.expect_closed(Duration::from_secs(5));
    let (lamp, present) = RawClient::handshake(b.addr, "lamp", false);
    assert!(present, "the persistent session is still there");
    lamp
}

/// The hops of one traced `home/hall/light` message from "switch", collected until `until`.
fn light_path(b: &BrokerProcess, until: &str) -> (String, Vec<String>) {
    let mut seen = Vec::new();
    let lines = trace_lines_until(b, &mut seen, until);
    let id = msg_id(&lines, "received");
    let hops = lines.iter().map(|l| hop(l).to_owned()).collect();
    (id, hops)
}

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
fn a_qos2_delivery_traces_pubrec_and_release_before_pubcomp() {
    let (_dir, b) = broker("[trace]\ntopics = [\"home/+/light\"]\n", &[]);
    let mut lamp = RawClient::connected(b.addr, "lamp");
    lamp.subscribe(1, &[("home/#", 2)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/hall/light", b"on", 2, false, false, 1));
    switch.expect(&pubrec(1));
    let p = lamp.recv_publish();
    let pkid = p.packet_id.unwrap();
    lamp.send(&pubrec(pkid));
    lamp.expect(&pubrel(pkid));
    lamp.send(&pubcomp(pkid));

    let (id, hops) = light_path(&b, "acked");
    let lamp_hops: Vec<&String> = hops
        .iter()
        .filter(|h| h.contains("client=\"lamp\""))
        .collect();
    assert_eq!(
        lamp_hops,
        [
            &format!("{id} client=\"lamp\" queued qos=2"),
            &format!("{id} client=\"lamp\" sent pkid={pkid} qos=2 dup=false protocol=3.1.1"),
            &format!("{id} client=\"lamp\" received PUBREC pkid={pkid}"),
            &format!("{id} client=\"lamp\" released pkid={pkid}"),
            &format!("{id} client=\"lamp\" acked pkid={pkid} by=PUBCOMP"),
        ],
        "{hops:#?}"
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

/// Traces say which protocol version the publisher and each subscriber speak: a 3.1.1
/// subscriber gets a 5.0 message without its properties.
#[test]
fn the_trace_shows_the_protocol_version_of_publisher_and_subscriber() {
    let (_dir, b) = broker("[trace]\ntopics = [\"v5/#\"]\n", &[]);
    let mut old = RawClient::connected(b.addr, "old-sub");
    old.subscribe(1, &[("v5/#", 0)]);
    let mut five = RawClient::connect(b.addr);
    five.send(&common::v5::Connect5::new("new-pub").to_bytes());
    five.read_packet();
    five.send(&common::v5::publish5("v5/t", b"x", 0, false, 0, &[]));
    assert_eq!(old.recv_publish().payload, b"x");
    let mut seen = Vec::new();
    let lines = trace_lines_until(&b, &mut seen, "sent qos=0");
    let id = msg_id(&lines, "received");
    let path: Vec<&str> = lines.iter().map(|l| hop(l)).collect();
    assert_eq!(
        path.first().copied(),
        Some(&*format!("{id} received client=\"new-pub\" topic=\"v5/t\" qos=0 retain=false bytes=1 via=publish protocol=5.0")),
        "{lines:#?}"
    );
    assert_eq!(
        path.last().copied(),
        Some(&*format!(
            "{id} client=\"old-sub\" sent qos=0 protocol=3.1.1"
        )),
        "{lines:#?}"
    );
}
