//! Shared subscriptions with a real client: rumqttc's `v5` client (its own codec) as members
//! of one group, and its 3.1.1 client in the same group.

mod common;

use common::*;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(5);

/// A 5.0 member of `filter`, connected and subscribed at QoS 1.
async fn member5(b: &TestBroker, filter: &str) -> (AsyncClient, EventLoop) {
    let o = MqttOptions::new(unique("rc5"), "127.0.0.1", b.port());
    let (c, mut ev) = AsyncClient::new(o, 100);
    c.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            match ev.poll().await.expect("connected") {
                Event::Incoming(Packet::ConnAck(a)) => {
                    assert_eq!(a.code, ConnectReturnCode::Success);
                }
                Event::Incoming(Packet::SubAck(s)) => return s,
                _ => {}
            }
        }
    })
    .await
    .expect("SUBACK");
    (c, ev)
}

/// A 3.1.1 member of `filter`, subscribed at QoS 1.
async fn member311(b: &TestBroker, filter: &str) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let o = rumqttc::MqttOptions::new(unique("rc4"), "127.0.0.1", b.port());
    let (c, mut ev) = rumqttc::AsyncClient::new(o, 100);
    c.subscribe(filter, rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(WAIT, async {
        loop {
            if let rumqttc::Event::Incoming(rumqttc::Packet::SubAck(s)) =
                ev.poll().await.expect("connected")
            {
                return s;
            }
        }
    })
    .await
    .expect("SUBACK");
    (c, ev)
}

/// Payloads received until nothing comes for 500 ms.
async fn drain5(ev: &mut EventLoop) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(500), ev.poll()).await {
        if let Event::Incoming(Packet::Publish(p)) = e {
            got.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
    }
    got
}

async fn drain311(ev: &mut rumqttc::EventLoop) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(500), ev.poll()).await {
        if let rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) = e {
            got.push(String::from_utf8_lossy(&p.payload).into_owned());
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rumqttc_v5_and_v311_members_share_a_group() {
    let b = start_broker();
    let topic = unique("rc/jobs");
    let filter = format!("$share/rc/{topic}");
    let (_a, mut a) = member5(&b, &filter).await;
    let (_c, mut c) = member5(&b, &filter).await;
    let (_d, mut d) = member311(&b, &filter).await;
    let (p, mut pev) = rumqttc::AsyncClient::new(
        rumqttc::MqttOptions::new(unique("rc-pub"), "127.0.0.1", b.port()),
        100,
    );
    for i in 0..9 {
        p.publish(&topic, rumqttc::QoS::AtLeastOnce, false, i.to_string())
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < 9 {
        let e = tokio::time::timeout(WAIT, pev.poll())
            .await
            .expect("PUBACKs");
        if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = e.expect("connected") {
            acked += 1;
        }
    }
    let (ga, gc, gd) = tokio::join!(drain5(&mut a), drain5(&mut c), drain311(&mut d));
    assert_eq!(
        (ga.len(), gc.len(), gd.len()),
        (3, 3, 3),
        "{ga:?} {gc:?} {gd:?}"
    );
    let mut all: Vec<u32> = [ga, gc, gd]
        .concat()
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (0..9).collect::<Vec<_>>(), "each message once");
}
