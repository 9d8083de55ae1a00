//! The hops of delivered messages: QoS 1 and QoS 2, and the protocol of each side.

use super::*;

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
