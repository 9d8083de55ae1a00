//! The hops of traced messages, live and downloaded; two traces at once.

use super::*;

#[test]
fn a_topic_trace_shows_each_hop_live_and_keeps_them_as_json_lines() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"topic": "home/+/light"}));
    let sse = Sse::open(http, id);
    let mut lamp = RawClient::connected(b.addr, "lamp");
    lamp.subscribe(1, &[("home/#", 1)]);
    let mut switch = RawClient::connected(b.addr, "switch");
    // Untraced first: it must not show.
    switch.send(&publish("home/hall/heat", b"21", 1, false, false, 1));
    switch.expect(&puback(1));
    switch.send(&publish("home/hall/light", b"on", 1, false, false, 2));
    switch.expect(&puback(2));
    for _ in 0..2 {
        let p = lamp.recv_publish();
        lamp.send(&puback(p.packet_id.unwrap()));
    }
    let records = sse.records_until("acked");
    assert_eq!(
        hops(&records),
        [
            "received switch",
            "matched switch",
            "queued lamp",
            "sent lamp",
            "acked lamp"
        ],
        "{records:#?}"
    );
    check_fields(&records);
    let msg = &records[0]["msg"];
    assert!(records
        .iter()
        .all(|r| &r["msg"] == msg && r["topic"] == "home/hall/light"));
    assert_eq!(records[0]["qos"], 1);
    assert_eq!(
        records[0]["detail"],
        "retain=false bytes=2 via=publish protocol=3.1.1"
    );
    assert!(records[0]["time_us"].as_u64() <= records[1]["time_us"].as_u64());
    assert_eq!(records[0]["actor"], "session");
    assert_eq!(records[1]["actor"], "router");
    assert_eq!(records[3]["actor"], "connection");
    assert!(records[3]["detail"].as_str().unwrap().contains("pkid=2"));

    // The same records for download, one JSON object per line.
    let r = get(http, &format!("/api/v1/traces/{id}/records"));
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().contains("jsonl"));
    let kept: Vec<Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kept, records);
    let listed = traces(http);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["topic"], "home/+/light");
    assert_eq!(listed[0]["state"], "active");
    assert_eq!(listed[0]["records"], 5);
    assert_eq!(listed[0]["lost"], 0);
    let left = listed[0]["remaining_secs"].as_u64().unwrap();
    assert!((590..=600).contains(&left), "default 10 minutes: {left}");
    // And in the log, as `[trace]` lines are.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut log = Vec::new();
    while !log
        .iter()
        .any(|l: &String| l.contains(&format!("trace={id} msg={msg} acked")))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        log.push(b.log.recv_timeout(left).expect("the acked hop logged"));
    }
}

#[test]
fn two_traces_at_once_each_get_only_their_records() {
    let (_dir, b, http) = broker();
    let a = start_trace(http, json!({"client": "a-pub"}));
    let t = start_trace(http, json!({"topic": "b/#"}));
    let (sa, st) = (Sse::open(http, a), Sse::open(http, t));
    let mut pa = RawClient::connected(b.addr, "a-pub");
    let mut other = RawClient::connected(b.addr, "other");
    other.send(&publish("b/1", b"x", 0, false, false, 0));
    pa.send(&publish("x", b"x", 0, false, false, 0));
    let seen_t = st.records_until("matched");
    assert_eq!(hops(&seen_t), ["received other", "matched other"]);
    assert_eq!(seen_t[0]["topic"], "b/1");
    let seen_a = sa.records_until("matched");
    assert_eq!(
        hops(&seen_a),
        [
            "connect a-pub",
            "connack a-pub",
            "received a-pub",
            "matched a-pub"
        ]
    );
    assert_eq!(seen_a[2]["topic"], "x");
    // A message both select goes to both.
    pa.send(&publish("b/2", b"x", 0, false, false, 0));
    assert_eq!(sa.records_until("matched")[0]["topic"], "b/2");
    assert_eq!(st.records_until("matched")[0]["topic"], "b/2");
    assert_eq!(traces(http).len(), 2);
}

#[test]
fn a_traced_clients_will_is_received_via_will_and_matched() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "dying"}));
    let sse = Sse::open(http, id);
    let mut heir = RawClient::connected(b.addr, "heir");
    heir.subscribe(1, &[("wills/#", 1)]);
    let c = Connect::v31("dying").will("wills/dying", b"gone", 1, false);
    let (dying, _) = RawClient::handshake_with(b.addr, &c);
    // Closed without DISCONNECT: the Will is published [MQTT-3.1.2-8].
    drop(dying);
    let p = heir.recv_publish();
    assert_eq!(p.topic, "wills/dying");
    let records = sse.records_until("matched");
    let will: Vec<&Value> = records
        .iter()
        .filter(|r| r["topic"] == "wills/dying")
        .collect();
    assert_eq!(
        hops(&records).last().unwrap(),
        "matched dying",
        "{records:#?}"
    );
    assert_eq!(will.len(), 2, "{records:#?}");
    assert_eq!(will[0]["hop"], "received");
    assert_eq!(
        will[0]["detail"],
        "retain=false bytes=4 via=will protocol=3.1"
    );
    assert_eq!(will[1]["hop"], "matched");
    assert_eq!(will[1]["msg"], will[0]["msg"]);
    assert_eq!(will[1]["detail"], r#"subscribers=1 clients=["heir"]"#);
}
