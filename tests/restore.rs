//! The `Store` trait is real and used: a second broker started on the same store restores the
//! persistent sessions (with their subscriptions and queued messages) and the retained messages
//! that the first one saved at shutdown. With the in-memory backend this is what an in-process
//! restart sees; the RocksDB backend plugs into the same path.

use courtier::config::Settings;
use courtier::ServerThread;
use courtier_storage::{MemoryStore, Store};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;

fn settings() -> Settings {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 0;
    s
}

fn client(server: &ServerThread, id: &str, clean: bool) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", server.mqtt_addr.port());
    o.set_clean_session(clean);
    AsyncClient::new(o, 100)
}

/// Poll until CONNACK; returns session-present.
async fn connack(ev: &mut EventLoop) -> bool {
    loop {
        if let Event::Incoming(Packet::ConnAck(c)) = ev.poll().await.expect("connect") {
            return c.session_present;
        }
    }
}

async fn until<F: FnMut(&Packet) -> bool>(ev: &mut EventLoop, mut f: F) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(p) = ev.poll().await.expect("connected") {
                if f(&p) {
                    return;
                }
            }
        }
    })
    .await
    .expect("expected packet within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_session_and_retained_messages_survive_a_restart_on_the_same_store() {
    let store = Arc::new(MemoryStore::new());

    let first = ServerThread::spawn(settings(), store.clone()).unwrap();
    let (sub, mut sev) = client(&first, "restore-sub", false);
    assert!(!connack(&mut sev).await);
    sub.subscribe("dev/+/state", QoS::AtLeastOnce)
        .await
        .unwrap();
    until(&mut sev, |p| matches!(p, Packet::SubAck(_))).await;
    sub.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while sev.poll().await.is_ok() {}
    })
    .await;

    let (publisher, mut pev) = client(&first, "restore-pub", true);
    publisher
        .publish("dev/lamp/state", QoS::AtLeastOnce, false, "queued")
        .await
        .unwrap();
    publisher
        .publish("dev/lamp/config", QoS::AtLeastOnce, true, "retained")
        .await
        .unwrap();
    let mut acks = 0;
    until(&mut pev, |p| {
        acks += matches!(p, Packet::PubAck(_)) as usize;
        acks == 2
    })
    .await;
    first.stop();
    assert_eq!(
        store.load().unwrap().sessions.len(),
        1,
        "only the persistent session is saved"
    );

    let second = ServerThread::spawn(settings(), store.clone()).unwrap();
    let (_sub, mut sev) = client(&second, "restore-sub", false);
    assert!(connack(&mut sev).await, "session present after the restart");
    until(
        &mut sev,
        |p| matches!(p, Packet::Publish(m) if m.payload == "queued"),
    )
    .await;

    let (late, mut lev) = client(&second, "restore-late", true);
    late.subscribe("dev/#", QoS::AtLeastOnce).await.unwrap();
    until(
        &mut lev,
        |p| matches!(p, Packet::Publish(m) if m.payload == "retained" && m.retain),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_session_of_a_client_that_stays_away_expires_with_its_data() {
    let store = Arc::new(MemoryStore::new());
    let mut s = settings();
    s.persistence.session_expiry_secs = 1;
    let server = ServerThread::spawn(s, store.clone()).unwrap();
    let (c, mut ev) = client(&server, "expiring", false);
    assert!(!connack(&mut ev).await);
    c.subscribe("exp/#", QoS::AtLeastOnce).await.unwrap();
    until(&mut ev, |p| matches!(p, Packet::SubAck(_))).await;
    c.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(300), async {
        while ev.poll().await.is_ok() {}
    })
    .await;
    assert_eq!(
        store.load().unwrap().sessions.len(),
        1,
        "saved while offline"
    );

    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(
        store.load().unwrap().sessions.is_empty(),
        "expired: deleted from the store"
    );
    let (_c, mut ev) = client(&server, "expiring", false);
    assert!(!connack(&mut ev).await, "no session present after expiry");
}

/// A restored persistent session with no subscriptions, and sessions set never to expire:
/// after the restart nothing sends to it until its client returns, so it must keep itself
/// running (the registry holds sessions weakly) [MQTT-3.1.2-4].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_session_without_subscriptions_waits_for_its_client() {
    let store = Arc::new(MemoryStore::new());
    let mut s = settings();
    s.persistence.session_expiry_secs = 0;
    let first = ServerThread::spawn(s.clone(), store.clone()).unwrap();
    let (c, mut ev) = client(&first, "restore-nosubs", false);
    assert!(!connack(&mut ev).await);
    c.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(300), async {
        while ev.poll().await.is_ok() {}
    })
    .await;
    first.stop();
    assert_eq!(store.load().unwrap().sessions.len(), 1);

    let second = ServerThread::spawn(s, store.clone()).unwrap();
    // Traffic of another client first, so the restored session has had its turn to run.
    let (other, mut oev) = client(&second, "restore-other", true);
    connack(&mut oev).await;
    other
        .publish("x/y", QoS::AtLeastOnce, false, "z")
        .await
        .unwrap();
    until(&mut oev, |p| matches!(p, Packet::PubAck(_))).await;
    let (_c, mut ev) = client(&second, "restore-nosubs", false);
    assert!(connack(&mut ev).await, "session present after the restart");
}
