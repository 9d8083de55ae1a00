//! Shared subscriptions, `$share/{group}/{filter}` (MQTT 5.0 §4.8.2), for 5.0 and 3.1.1
//! clients, as raw packets against the in-process broker.

mod common;

use common::v5::*;
use common::*;
use courtier::config::Settings;
use courtier_actors::config::SharedStrategy;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// A broker with the default settings changed by `change`, on ports the system chose.
fn broker_with(change: impl FnOnce(&mut Settings)) -> courtier::ServerThread {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 1;
    change(&mut s);
    let store = std::sync::Arc::new(courtier_storage::MemoryStore::new());
    courtier::ServerThread::spawn(s, store).expect("broker starts")
}

fn client5(addr: SocketAddr, id: &str) -> RawClient {
    client5_with(addr, Connect5::new(id)).0
}

fn client5_with(addr: SocketAddr, c: Connect5) -> (RawClient, ConnAck5) {
    let mut cl = RawClient::connect(addr);
    cl.send(&c.to_bytes());
    let (first, body) = cl.read_packet();
    let ack = ConnAck5::parse(first, &body);
    assert_eq!(ack.reason, 0);
    (cl, ack)
}

/// SUBSCRIBE 5.0 and its SUBACK's reason codes.
fn sub5(c: &mut RawClient, pkid: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    c.send(&subscribe5(pkid, filters, &[]));
    let (first, body) = c.read_packet();
    assert_eq!(first, 0x90);
    Ack5::parse(first, &body).reasons
}

/// Read PUBLISHes of 5.0 until `quiet` passes without one, acknowledging QoS 1.
fn drain5(c: &mut RawClient, quiet: Duration) -> Vec<Publish5> {
    let mut got = Vec::new();
    while let Ok((first, body)) = c.try_read_packet(quiet) {
        let p = Publish5::parse(first, &body);
        if let (1, Some(pkid)) = (p.qos, p.pkid) {
            c.send(&puback(pkid));
        }
        got.push(p);
    }
    got
}

fn payloads(ps: &[Publish5]) -> Vec<String> {
    ps.iter()
        .map(|p| String::from_utf8_lossy(&p.payload).into_owned())
        .collect()
}

fn publish_n(addr: SocketAddr, topic: &str, n: usize, qos: u8) {
    let mut p = client5(addr, &unique("pub"));
    for i in 0..n {
        let pkid = (i + 1) as u16;
        p.send(&publish5(
            topic,
            i.to_string().as_bytes(),
            qos,
            false,
            pkid,
            &[],
        ));
        if qos == 1 {
            let (first, _) = p.read_packet();
            assert_eq!(first, 0x40);
        }
    }
    if qos == 0 {
        // A round trip, so that every publish has been routed.
        p.send(&pingreq());
        assert_eq!(p.read_packet().0, 0xD0);
    }
}

#[test]
fn mqtt_4_8_2_a_3_1_1_client_s_shared_subscription_receives_messages() {
    let b = broker_with(|_| {});
    let topic = unique("s311");
    let mut member = RawClient::connected(b.mqtt_addr, &unique("m311"));
    let granted = member.subscribe(1, &[(&format!("$share/g/{topic}"), 1)]);
    assert_eq!(granted, vec![1]);
    let mut p = RawClient::connected(b.mqtt_addr, &unique("p311"));
    p.send(&publish(&topic, b"hello", 1, false, false, 1));
    p.expect(&puback(1));
    let got = member.recv_publish();
    assert_eq!(
        (got.topic.as_str(), &got.payload[..]),
        (&*topic, &b"hello"[..])
    );
    assert_eq!(got.qos, 1);
}

#[test]
fn mqtt_4_8_2_each_message_goes_to_one_member_in_turn_and_plain_subscribers_get_all() {
    let b = broker_with(|_| {});
    let topic = unique("rr");
    let filter = format!("$share/workers/{topic}");
    let mut members: Vec<RawClient> = (0..3)
        .map(|i| {
            let mut c = client5(b.mqtt_addr, &unique(&format!("w{i}")));
            assert_eq!(sub5(&mut c, 1, &[(&filter, 1)]), vec![1]);
            c
        })
        .collect();
    let mut plain = client5(b.mqtt_addr, &unique("plain"));
    assert_eq!(sub5(&mut plain, 1, &[(&topic, 0)]), vec![0]);
    // Another group on the same filter gets its own copy of each message.
    let mut other = client5(b.mqtt_addr, &unique("other"));
    assert_eq!(
        sub5(&mut other, 1, &[(&format!("$share/audit/{topic}"), 0)]),
        vec![0]
    );

    publish_n(b.mqtt_addr, &topic, 30, 1);
    let quiet = Duration::from_millis(400);
    let got: Vec<Vec<String>> = members
        .iter_mut()
        .map(|c| payloads(&drain5(c, quiet)))
        .collect();
    let mut all: Vec<usize> = got.iter().flatten().map(|p| p.parse().unwrap()).collect();
    all.sort();
    assert_eq!(
        all,
        (0..30).collect::<Vec<_>>(),
        "each message exactly once"
    );
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.len(), 10, "round robin: member {i} got {g:?}");
    }
    assert_eq!(drain5(&mut plain, quiet).len(), 30);
    assert_eq!(drain5(&mut other, quiet).len(), 30);
    let m = b.broker.metrics();
    assert_eq!(m.shared_subscriptions.load(Relaxed), 4);
    assert_eq!(m.shared_deliveries.load(Relaxed), 60);
}

#[test]
fn mqtt_4_8_2_a_message_goes_at_the_chosen_member_s_own_qos() {
    let b = broker_with(|_| {});
    let topic = unique("qos");
    let filter = format!("$share/g/{topic}");
    let mut q0 = client5(b.mqtt_addr, &unique("q0"));
    assert_eq!(sub5(&mut q0, 1, &[(&filter, 0)]), vec![0]);
    let mut q1 = client5(b.mqtt_addr, &unique("q1"));
    assert_eq!(sub5(&mut q1, 1, &[(&filter, 1)]), vec![1]);
    publish_n(b.mqtt_addr, &topic, 4, 1);
    let quiet = Duration::from_millis(300);
    let (a, c) = (drain5(&mut q0, quiet), drain5(&mut q1, quiet));
    assert_eq!((a.len(), c.len()), (2, 2));
    assert!(a.iter().all(|p| p.qos == 0) && c.iter().all(|p| p.qos == 1));
}

#[test]
fn mqtt_4_8_2_1_and_2_invalid_share_names_are_refused() {
    let b = broker_with(|_| {});
    let mut c = client5(b.mqtt_addr, &unique("bad5"));
    let bad = [
        ("$share/g", 0),
        ("$share/g/", 0),
        ("$share//t", 0),
        ("$share/+/t", 0),
        ("$share/#", 0),
        ("$share/g/a/#/b", 0),
    ];
    assert_eq!(sub5(&mut c, 1, &bad), vec![0x8F; bad.len()]);
    let mut old = RawClient::connected(b.mqtt_addr, &unique("bad311"));
    assert_eq!(old.subscribe(1, &bad), vec![0x80; bad.len()]);
    // The valid one beside them is granted.
    assert_eq!(sub5(&mut c, 2, &[("$share/g/+", 1)]), vec![1]);
}

#[test]
fn shared_subscriptions_available_false_refuses_them_and_connack_says_so() {
    let b = broker_with(|s| s.broker.shared_subscriptions_available = false);
    let (mut c, ack) = client5_with(b.mqtt_addr, Connect5::new(&unique("off5")));
    assert_eq!(
        find(&ack.props, prop::SHARED_SUBSCRIPTION_AVAILABLE),
        Some(&P::Byte(prop::SHARED_SUBSCRIPTION_AVAILABLE, 0))
    );
    assert_eq!(
        sub5(&mut c, 1, &[("$share/g/t", 1), ("t", 1)]),
        vec![0x9E, 1]
    );
    let mut old = RawClient::connected(b.mqtt_addr, &unique("off311"));
    assert_eq!(old.subscribe(1, &[("$share/g/t", 1)]), vec![0x80]);

    let on = broker_with(|_| {});
    let (_, ack) = client5_with(on.mqtt_addr, Connect5::new(&unique("on5")));
    assert_eq!(
        find(&ack.props, prop::SHARED_SUBSCRIPTION_AVAILABLE),
        Some(&P::Byte(prop::SHARED_SUBSCRIPTION_AVAILABLE, 1))
    );
}

#[test]
fn mqtt_3_3_1_3_a_shared_subscription_gets_no_retained_messages() {
    let b = broker_with(|_| {});
    let topic = unique("ret");
    let mut p = client5(b.mqtt_addr, &unique("ret-pub"));
    p.send(&publish5(&topic, b"kept", 1, true, 1, &[]));
    assert_eq!(p.read_packet().0, 0x40);
    let mut member = client5(b.mqtt_addr, &unique("ret-m"));
    assert_eq!(
        sub5(&mut member, 1, &[(&format!("$share/g/{topic}"), 1)]),
        vec![1]
    );
    member.expect_silence(Duration::from_millis(400));
    // A plain subscription of the same client still gets it.
    assert_eq!(sub5(&mut member, 2, &[(&topic, 1)]), vec![1]);
    let got = drain5(&mut member, Duration::from_millis(400));
    assert_eq!(payloads(&got), ["kept"]);
    assert!(got[0].retain);
}

#[test]
fn mqtt_3_10_4_unsubscribing_a_shared_subscription_leaves_the_group() {
    let b = broker_with(|_| {});
    let topic = unique("unsub");
    let filter = format!("$share/g/{topic}");
    let mut a = client5(b.mqtt_addr, &unique("ua"));
    let mut c = client5(b.mqtt_addr, &unique("uc"));
    for m in [&mut a, &mut c] {
        assert_eq!(sub5(m, 1, &[(&filter, 0)]), vec![0]);
    }
    a.send(&unsubscribe5(2, &[&filter]));
    let (first, body) = a.read_packet();
    assert_eq!(Ack5::parse(first, &body).reasons, vec![0x00]);
    a.send(&unsubscribe5(3, &[&filter]));
    let (first, body) = a.read_packet();
    assert_eq!(
        Ack5::parse(first, &body).reasons,
        vec![0x11],
        "no longer a member"
    );
    publish_n(b.mqtt_addr, &topic, 6, 0);
    let quiet = Duration::from_millis(300);
    assert_eq!(
        drain5(&mut c, quiet).len(),
        6,
        "the one member left gets all"
    );
    assert!(drain5(&mut a, quiet).is_empty());
    assert_eq!(b.broker.metrics().shared_subscriptions.load(Relaxed), 1);
}

#[test]
fn mqtt_3_8_3_4_no_local_on_a_shared_subscription_is_a_protocol_error() {
    let b = broker_with(|_| {});
    let mut c = client5(b.mqtt_addr, &unique("nl"));
    c.send(&subscribe5(1, &[("$share/g/t", 0b0100)], &[]));
    let (first, body) = c.read_packet();
    assert_eq!(parse_disconnect(first, &body).0, 0x82);
    c.expect_closed(Duration::from_secs(2));
}

#[test]
fn mqtt_4_8_2_offline_persistent_members_are_skipped_while_one_is_online() {
    let b = broker_with(|_| {});
    let topic = unique("off");
    let filter = format!("$share/g/{topic}");
    let away_id = unique("away");
    let mut away = client5_with(b.mqtt_addr, Connect5::new(&away_id).session_expiry(600)).0;
    assert_eq!(sub5(&mut away, 1, &[(&filter, 1)]), vec![1]);
    away.send(&disconnect5(0, &[]));
    away.expect_closed(Duration::from_secs(2));
    let mut here = client5(b.mqtt_addr, &unique("here"));
    assert_eq!(sub5(&mut here, 1, &[(&filter, 1)]), vec![1]);
    publish_n(b.mqtt_addr, &topic, 6, 1);
    assert_eq!(drain5(&mut here, Duration::from_millis(400)).len(), 6);
    // With no member online, the offline persistent one queues what comes.
    here.send(&disconnect5(0, &[]));
    here.expect_closed(Duration::from_secs(2));
    publish_n(b.mqtt_addr, &topic, 3, 1);
    let (mut back, ack) = client5_with(
        b.mqtt_addr,
        Connect5::new(&away_id).clean(false).session_expiry(600),
    );
    assert!(ack.session_present);
    assert_eq!(
        payloads(&drain5(&mut back, Duration::from_millis(400))),
        ["0", "1", "2"]
    );
}

#[test]
fn shared_subscription_count_is_in_sys_and_metrics() {
    let b = broker_with(|_| {});
    let topic = unique("sys");
    let mut m = client5(b.mqtt_addr, &unique("sys-m"));
    assert_eq!(
        sub5(&mut m, 1, &[(&format!("$share/g/{topic}"), 0)]),
        vec![0]
    );
    publish_n(b.mqtt_addr, &topic, 2, 0);
    assert_eq!(drain5(&mut m, Duration::from_millis(300)).len(), 2);
    let mut watcher = client5(b.mqtt_addr, &unique("sys-w"));
    let mut want: HashMap<&str, &str> = [
        ("$SYS/broker/shared_subscriptions/count", "1"),
        ("$SYS/broker/shared_subscriptions/deliveries", "2"),
    ]
    .into();
    assert_eq!(
        sub5(
            &mut watcher,
            1,
            &[("$SYS/broker/shared_subscriptions/+", 0)]
        ),
        vec![0]
    );
    while !want.is_empty() {
        let (first, body) = watcher.read_packet();
        let p = Publish5::parse(first, &body);
        if want.get(p.topic.as_str()) == Some(&&*String::from_utf8_lossy(&p.payload)) {
            want.remove(p.topic.as_str());
        }
    }
    let http = b.http_addr.expect("http listener");
    let page = common::http::get(http, "/metrics").body;
    assert!(page.contains("courtier_shared_subscriptions 1"), "{page}");
    assert!(
        page.contains("courtier_shared_deliveries_total 2"),
        "{page}"
    );
}

#[test]
fn shortest_queue_sends_less_to_a_member_that_does_not_keep_up() {
    let b = broker_with(|s| {
        s.broker.shared_subscription_strategy = SharedStrategy::ShortestQueue;
        s.limits.max_inflight_messages = 5;
    });
    let topic = unique("sq");
    let filter = format!("$share/g/{topic}");
    // The slow member never acknowledges: after 5 in flight, what it gets waits in its queue.
    let mut slow = client5(b.mqtt_addr, &unique("slow"));
    assert_eq!(sub5(&mut slow, 1, &[(&filter, 1)]), vec![1]);
    let mut fast = client5(b.mqtt_addr, &unique("fast"));
    assert_eq!(sub5(&mut fast, 1, &[(&filter, 1)]), vec![1]);
    let mut p = client5(b.mqtt_addr, &unique("sq-pub"));
    let mut fast_got = 0;
    for i in 0..60u16 {
        p.send(&publish5(&topic, b"x", 1, false, i + 1, &[]));
        assert_eq!(p.read_packet().0, 0x40);
        fast_got += drain5(&mut fast, Duration::from_millis(5)).len();
    }
    fast_got += drain5(&mut fast, Duration::from_millis(300)).len();
    let mut slow_got = 0;
    while slow.try_read_packet(Duration::from_millis(300)).is_ok() {
        slow_got += 1;
    }
    assert_eq!(
        fast_got + b.broker.metrics().queued_messages.load(Relaxed) as usize + slow_got,
        60
    );
    assert!(
        fast_got >= 45,
        "the fast member got {fast_got} of 60, the slow one {slow_got} in flight"
    );
}

#[test]
fn a_shared_subscription_is_authorized_as_its_topic_filter() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic read jobs/#\n").unwrap();
    let b = broker_with(|s| s.security.acl_file = acl.clone());
    let mut c = client5(b.mqtt_addr, &unique("acl"));
    let filters = [("$share/g/jobs/#", 1), ("$share/g/other/#", 1)];
    assert_eq!(sub5(&mut c, 1, &filters), vec![1, 0x87]);
}
