//! The clients of a panicking Session or Connection, and the state the singletons keep.

use super::*;

/// The client whose Session (or Connection) panicked: disconnected, its Will published; its
/// persistent session stays, with what was queued for it meanwhile.
async fn victim_keeps_its_session(target: fn(String) -> PanicTarget, id: &str) {
    let server = start();
    let (watcher, mut wev) = client(&server, &format!("{id}-watcher"));
    watcher
        .subscribe("wills/#", QoS::AtLeastOnce)
        .await
        .unwrap();
    wait_subscribed(&mut wev).await;
    let (victim, mut vev) = persistent_with_will(&server, id);
    victim
        .subscribe(format!("queue/{id}"), QoS::AtLeastOnce)
        .await
        .unwrap();
    wait_subscribed(&mut vev).await;

    assert!(server.broker.inject_panic(target(id.into())).await);
    assert!(
        until_closed(&mut vev, Duration::from_secs(10)).await,
        "the victim is disconnected"
    );
    assert_eq!(
        receive(&mut wev, 1, Duration::from_secs(10)).await,
        vec![b"gone".to_vec()],
        "its Will is published"
    );
    drop((victim, vev));

    // Queued for the offline session.
    let (publisher, mut pev) = client(&server, &format!("{id}-publisher"));
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    for i in 0..10 {
        publisher
            .publish(
                format!("queue/{id}"),
                QoS::AtLeastOnce,
                false,
                i.to_string(),
            )
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (back, mut bev) = persistent_with_will(&server, id);
    back.subscribe(format!("queue/{id}"), QoS::AtLeastOnce)
        .await
        .unwrap();
    let (present, got) = rejoin(&mut bev, 10).await;
    assert_eq!(present, Some(true), "the persistent session is still there");
    let expected: Vec<Vec<u8>> = (0..10).map(|i| i.to_string().into_bytes()).collect();
    assert_eq!(got, expected, "what was queued while it was away");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_session_ends_its_client_alone_and_keeps_its_state() {
    victim_keeps_its_session(PanicTarget::Session, "victim-s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_connection_ends_its_client_alone_and_keeps_its_session() {
    victim_keeps_its_session(PanicTarget::Connection, "victim-c").await;
}

/// Retained messages survive RetainStore panics that lost its in-memory index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_survive_retain_store_panics() {
    let server = start();
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
    // More panics in a row than a Connection or Session is allowed: a singleton goes on.
    for _ in 0..5 {
        let target = PanicTarget::Supervised(FailureTarget::RetainStore);
        assert!(server.broker.inject_panic(target).await);
    }
    let (sub, mut sev) = client(&server, "retained-subscriber");
    sub.subscribe("home/+", QoS::AtLeastOnce).await.unwrap();
    let got = receive(&mut sev, 50, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 50, "all retained messages survive the panics");
    assert_eq!(panics_of(&server, "RetainStore"), 5);
}

/// Sessions stay registered through a SessionRegistry panic: an offline persistent session is
/// found again (session present) with what was queued for it, and an online client is still
/// taken over by a new connection with its client id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_stay_registered_through_a_registry_panic() {
    let server = start();
    let (away, mut aev) = persistent_with_will(&server, "registry-away");
    away.subscribe("queue/away", QoS::AtLeastOnce)
        .await
        .unwrap();
    wait_subscribed(&mut aev).await;
    away.disconnect().await.unwrap();
    let _ = until_closed(&mut aev, Duration::from_secs(5)).await;
    let (online, mut oev) = client(&server, "registry-online");
    online.subscribe("x", QoS::AtMostOnce).await.unwrap();
    wait_subscribed(&mut oev).await;

    let target = PanicTarget::Supervised(FailureTarget::SessionRegistry);
    assert!(server.broker.inject_panic(target).await);
    let (publisher, mut pev) = client(&server, "registry-publisher");
    tokio::spawn(async move { while pev.poll().await.is_ok() {} });
    publisher
        .publish("queue/away", QoS::AtLeastOnce, false, "queued")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (back, mut bev) = persistent_with_will(&server, "registry-away");
    back.subscribe("queue/away", QoS::AtLeastOnce)
        .await
        .unwrap();
    let (present, got) = rejoin(&mut bev, 1).await;
    assert_eq!(present, Some(true), "session present");
    assert_eq!(got, vec![b"queued".to_vec()]);
    let (_again, mut tev) = client(&server, "registry-online");
    tokio::spawn(async move { while tev.poll().await.is_ok() {} });
    assert!(
        until_closed(&mut oev, Duration::from_secs(5)).await,
        "the registry still knew the online client: taken over"
    );
    assert_eq!(panics_of(&server, "SessionRegistry"), 1);
}
