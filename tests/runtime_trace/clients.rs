//! Traces that select clients: by client id, username or address; their connection events.

use super::*;

#[test]
fn a_client_trace_shows_connect_subscriptions_deliveries_and_disconnect() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "lamp", "duration_secs": 60}));
    let sse = Sse::open(http, id);
    let mut lamp = RawClient::connected(b.addr, "lamp");
    // One granted, one refused (an invalid filter: 0x80 for a 3.1.1 client).
    lamp.send(&subscribe(1, &[("home/#", 1), ("a/#/b", 0)]));
    lamp.expect(&suback(1, &[1, 0x80]));
    let mut switch = RawClient::connected(b.addr, "switch");
    switch.send(&publish("home/hall/light", b"on", 1, false, false, 1));
    switch.expect(&puback(1));
    let p = lamp.recv_publish();
    lamp.send(&puback(p.packet_id.unwrap()));
    // A publish into $SYS is acknowledged and denied.
    lamp.send(&publish("$SYS/lamp", b"x", 1, false, false, 3));
    lamp.expect(&puback(3));
    lamp.send(&unsubscribe(2, &["home/#"]));
    lamp.expect(&packet(0xB0, &[0, 2]));
    lamp.send(&disconnect());
    let records = sse.records_until("disconnect");
    assert_eq!(
        hops(&records),
        [
            "connect lamp",
            "connack lamp",
            "subscribe lamp",
            "subscribe lamp",
            "queued lamp",
            "sent lamp",
            "acked lamp",
            "received lamp",
            "dropped lamp",
            "unsubscribe lamp",
            "disconnect lamp"
        ],
        "{records:#?}"
    );
    check_fields(&records);
    assert_eq!(records[1]["reason"], "0x00");
    assert!(records[0]["detail"]
        .as_str()
        .unwrap()
        .contains("protocol=3.1.1"));
    assert_eq!(
        (&records[2]["topic"], &records[2]["qos"]),
        (&json!("home/#"), &json!(1))
    );
    assert_eq!(records[3]["topic"], "a/#/b");
    assert!(records[3]["reason"].as_str().unwrap().starts_with("0x80"));
    assert_eq!(records[8]["reason"], "sys_topic_denied");
    assert_eq!(records[9]["topic"], "home/#");
    assert_eq!(records[10]["reason"], "client sent DISCONNECT");
    // Failures say so in `outcome`; a CONNACK 0x00 or a disconnect has a reason but no outcome.
    let outcomes: Vec<_> = records.iter().map(|r| &r["outcome"]).collect();
    let mut expected = vec![&Value::Null; records.len()];
    let denied = json!("denied");
    (expected[3], expected[8]) = (&denied, &denied);
    assert_eq!(outcomes, expected, "{records:#?}");
}

#[test]
fn take_over_and_keep_alive_timeout_are_events_of_a_traced_client() {
    let (_dir, b, http) = broker();
    let id = start_trace(http, json!({"client": "k"}));
    let sse = Sse::open(http, id);
    let first = Connect::v311("k");
    let (_old, _) = RawClient::handshake_with(b.addr, &first);
    let (_new, _) = RawClient::handshake_with(b.addr, &Connect::v311("k").keep_alive(1));
    let records = sse.records_until("keep_alive_timeout");
    let names = hops(&records);
    assert_eq!(names[..2], ["connect k", "connack k"], "{records:#?}");
    // The old connection's end and the new one's CONNACK race; the take-over comes first.
    let mut middle = names[2..names.len() - 1].to_vec();
    assert_eq!(middle[0], "take_over k", "{records:#?}");
    middle.sort();
    assert_eq!(
        middle,
        ["connack k", "connect k", "disconnect k", "take_over k"],
        "{records:#?}"
    );
    assert_eq!(names.last().unwrap(), "keep_alive_timeout k");
    let old_end = records.iter().find(|r| r["hop"] == "disconnect").unwrap();
    assert!(
        old_end["reason"].as_str().unwrap().contains("taken over"),
        "{old_end}"
    );
}

#[test]
fn username_and_address_traces_select_the_clients_that_connect() {
    let (_dir, b, http) = broker();
    let by_user = start_trace(http, json!({"username": "alice"}));
    let by_addr = start_trace(http, json!({"address": "127.0.0.1"}));
    let user = Sse::open(http, by_user);
    let addr = Sse::open(http, by_addr);
    let phone = Connect {
        username: Some("alice".into()),
        ..Connect::v311("phone")
    };
    let (mut c, _) = RawClient::handshake_with(b.addr, &phone);
    c.send(&publish("x/y", b"1", 0, false, false, 0));
    let expected = [
        "connect phone",
        "connack phone",
        "received phone",
        "matched phone",
    ];
    assert_eq!(hops(&user.records_until("matched")), expected);
    // Every test client comes from 127.0.0.1.
    assert_eq!(hops(&addr.records_until("matched")), expected);
    let _other = RawClient::connected(b.addr, "other");
    assert_eq!(
        hops(&addr.records_until("connack")),
        ["connect other", "connack other"]
    );
}

/// A username or address trace also selects the clients that are connected when it starts:
/// their next packets are traced (and a client with another username is not).
#[test]
fn username_and_address_traces_select_clients_connected_before_they_start() {
    let (_dir, b, http) = broker();
    let login = |id: &str, user: &str| {
        let c = Connect {
            username: Some(user.into()),
            ..Connect::v311(id)
        };
        RawClient::handshake_with(b.addr, &c).0
    };
    let mut phone = login("phone", "alice");
    let mut tv = login("tv", "bob");
    let by_user = Sse::open(http, start_trace(http, json!({"username": "alice"})));
    tv.send(&publish("x/tv", b"1", 1, false, false, 1));
    tv.expect(&puback(1));
    phone.send(&publish("x/phone", b"1", 1, false, false, 1));
    phone.expect(&puback(1));
    let records = by_user.records_until("matched");
    assert_eq!(
        hops(&records),
        ["received phone", "matched phone"],
        "{records:#?}"
    );
    assert_eq!(records[0]["topic"], "x/phone");

    // Every test client comes from 127.0.0.1: an address trace selects both.
    let by_addr = Sse::open(http, start_trace(http, json!({"address": "127.0.0.1"})));
    tv.send(&publish("x/tv", b"2", 1, false, false, 2));
    tv.expect(&puback(2));
    assert_eq!(
        hops(&by_addr.records_until("matched")),
        ["received tv", "matched tv"]
    );
    // Its disconnect is an event of the trace too.
    tv.send(&disconnect());
    assert_eq!(
        hops(&by_addr.records_until("disconnect")),
        ["disconnect tv"]
    );
    // Another address selects neither.
    let id = start_trace(http, json!({"address": "10.9.9.9"}));
    phone.send(&publish("x/phone", b"3", 1, false, false, 3));
    phone.expect(&puback(3));
    let other = traces(http).into_iter().find(|t| t["id"] == id).unwrap();
    assert_eq!(other["records"], 0, "{other}");
}
