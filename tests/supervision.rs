//! Supervision: a supervised singleton that fails is restarted, restores its state, and clients
//! keep working (issue #2 item 9). Failures are injected with the test-only `fault-injection`
//! feature, while a client publishes.

use courtier::config::Settings;
use courtier::ServerThread;
use courtier_actors::FailureTarget;
use courtier_storage::MemoryStore;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

fn settings() -> Settings {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 0;
    s
}

fn client(server: &ServerThread, id: &str) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", server.mqtt_addr.port());
    o.set_keep_alive(Duration::from_secs(30));
    AsyncClient::new(o, 100)
}

/// Drive an event loop until `n` publishes arrived (or time runs out); returns their payloads.
async fn receive(ev: &mut EventLoop, n: usize, within: Duration) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(within, async {
        while got.len() < n {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => got.push(p.payload.to_vec()),
                Ok(_) => {}
                Err(e) => panic!("subscriber connection failed: {e}"),
            }
        }
    })
    .await;
    got
}

async fn wait_subscribed(ev: &mut EventLoop) {
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = ev.poll().await.expect("connected") {
            return;
        }
    }
}

/// Publishes `count` QoS 1 messages, one failure injected after each quarter.
async fn publish_with_failures(server: &ServerThread, topic: &str, count: usize) {
    let (publisher, mut pev) = client(server, "supervision-publisher");
    let driver = tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    let targets = [
        FailureTarget::TopicSubtree("sensors".into()),
        FailureTarget::TopicSubtree("#".into()),
        FailureTarget::RetainStore,
        FailureTarget::TopicRouter,
        FailureTarget::SessionRegistry,
    ];
    for i in 0..count {
        if i % (count / targets.len()) == 0 {
            server
                .broker
                .inject_failure(targets[i * targets.len() / count].clone())
                .await;
        }
        publisher
            .publish(topic, QoS::AtLeastOnce, false, i.to_string())
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    driver.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_singletons_restart_and_clients_keep_working() {
    let server = ServerThread::spawn(settings(), Arc::new(MemoryStore::new())).unwrap();
    let (sub, mut sev) = client(&server, "supervision-subscriber");
    sub.subscribe("sensors/#", QoS::AtLeastOnce).await.unwrap();
    let (sub2, mut sev2) = client(&server, "supervision-wildcard");
    sub2.subscribe("+/temp", QoS::AtLeastOnce).await.unwrap();
    wait_subscribed(&mut sev).await;
    wait_subscribed(&mut sev2).await;

    let count = 400;
    let (got, got2, ()) = tokio::join!(
        receive(&mut sev, count, Duration::from_secs(20)),
        receive(&mut sev2, count, Duration::from_secs(20)),
        publish_with_failures(&server, "sensors/temp", count),
    );
    let expected: Vec<Vec<u8>> = (0..count).map(|i| i.to_string().into_bytes()).collect();
    assert_eq!(
        got, expected,
        "every message arrives once, in order, across restarts"
    );
    assert_eq!(got2, expected, "the wildcard subtree kept its subscription");
    assert!(
        server.broker.metrics().actor_restarts.load(Relaxed) >= 5,
        "each injected failure was a supervised restart"
    );

    // The registry still admits new clients after its restart.
    let (late, mut lev) = client(&server, "supervision-late");
    late.subscribe("sensors/#", QoS::AtMostOnce).await.unwrap();
    wait_subscribed(&mut lev).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_store_reloads_its_index_from_the_store_after_a_failure() {
    let server = ServerThread::spawn(settings(), Arc::new(MemoryStore::new())).unwrap();
    let (publisher, mut pev) = client(&server, "retained-publisher");
    for i in 0..50 {
        publisher
            .publish(format!("home/{i}"), QoS::AtLeastOnce, true, "on")
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < 50 {
        if let Ok(Event::Incoming(Packet::PubAck(_))) = pev.poll().await {
            acked += 1;
        }
    }
    // The injected failure clears the in-memory index before restarting.
    server
        .broker
        .inject_failure(FailureTarget::RetainStore)
        .await;

    let (sub, mut sev) = client(&server, "retained-subscriber");
    sub.subscribe("home/+", QoS::AtLeastOnce).await.unwrap();
    let got = receive(&mut sev, 50, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 50, "all retained messages survive the restart");
    assert_eq!(server.broker.metrics().actor_restarts.load(Relaxed), 1);
}
