//! A panic on the store's writer thread (injected while it writes a batch): the publish whose
//! write it hit is not acknowledged, the writer goes on with the next batch, the panic is
//! logged at ERROR with a backtrace and counted as `StoreWriter`, and what is acknowledged
//! afterwards is in the store (RocksDB, across a restart). The same for a background task
//! that is not an actor (the keep-alive sweep), counted as `BackgroundTask`.

use super::{capture_errors, client, panics_of, rejoin, settings, ERRORS};
use courtier::ServerThread;
use courtier_actors::PanicTarget;
use rumqttc::{Event, Packet, QoS};
use std::time::Duration;

fn start(data: &std::path::Path) -> ServerThread {
    capture_errors();
    let mut s = settings();
    s.persistence.enabled = true;
    s.persistence.data_dir = data.to_path_buf();
    ServerThread::spawn_configured(s).unwrap()
}

/// A 3.1.1 QoS 1 publish from a new clean client: whether it was acknowledged (PUBACK) before
/// the broker closed the connection.
async fn publish_acked(server: &ServerThread, id: &str, payload: &str) -> bool {
    let (c, mut ev) = client(server, id);
    c.publish("sw/x", QoS::AtLeastOnce, false, payload)
        .await
        .unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ev.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    })
    .await;
    outcome.expect("an answer to the publish within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_store_writer_acknowledges_nothing_of_its_batch_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    {
        let mut o = super::options(&server, "sw-keeper");
        o.set_clean_session(false);
        let (keeper, mut kev) = rumqttc::AsyncClient::new(o, 10);
        keeper.subscribe("sw/#", QoS::AtLeastOnce).await.unwrap();
        super::wait_subscribed(&mut kev).await;
        keeper.disconnect().await.unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while kev.poll().await.is_ok() {}
        })
        .await;
    }
    assert!(publish_acked(&server, "sw-pub-0", "before").await);
    assert_eq!(panics_of(&server, "StoreWriter"), 0);

    assert!(server.broker.inject_panic(PanicTarget::StoreWriter).await);
    assert!(
        !publish_acked(&server, "sw-pub-1", "hit").await,
        "the publish whose write panicked is not acknowledged (3.1.1: closed)"
    );
    assert!(
        publish_acked(&server, "sw-pub-2", "after").await,
        "the writer goes on"
    );
    assert_eq!(panics_of(&server, "StoreWriter"), 1);
    let errors = ERRORS.lock().unwrap().clone();
    let logged = errors
        .iter()
        .find(|l| l.contains("store writer: injected panic"))
        .expect("the panic logged at ERROR");
    assert!(
        logged.starts_with("panic in thread courtier-store") && logged.contains("backtrace:"),
        "{logged}"
    );

    // What was acknowledged is stored: after a restart the persistent session gets it.
    server.stop();
    let server = start(dir.path());
    let mut o = super::options(&server, "sw-keeper");
    o.set_clean_session(false);
    let (_keeper, mut kev) = rumqttc::AsyncClient::new(o, 10);
    let (present, got) = rejoin(&mut kev, 2).await;
    assert_eq!(present, Some(true));
    assert_eq!(got, [b"before".to_vec(), b"after".to_vec()]);
}

/// A background task that is not an actor: a panic in the keep-alive sweep is counted as
/// `BackgroundTask` and the sweep starts again, so a silent client is still disconnected at
/// 1.5 x its keep-alive [MQTT-3.1.2-24].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_keep_alive_sweep_restarts_it_and_keep_alives_are_enforced() {
    let server = super::start();
    let addr = server.mqtt_addr;
    let before = panics_of(&server, "BackgroundTask");
    let silent = tokio::task::spawn_blocking(move || {
        let connect = crate::common::packets::Connect::v311("sweep-silent").keep_alive(1);
        let (c, _) = crate::common::RawClient::handshake_with(addr, &connect);
        c
    })
    .await
    .unwrap();
    assert!(
        server
            .broker
            .inject_panic(PanicTarget::KeepAliveSweep)
            .await
    );
    let closed = tokio::task::spawn_blocking(move || {
        let mut c = silent;
        c.expect_closed(Duration::from_secs(5));
    });
    closed.await.expect("closed within 5 s (keep-alive 1 s)");
    assert!(panics_of(&server, "BackgroundTask") > before);
    let errors = ERRORS.lock().unwrap().clone();
    assert!(
        errors
            .iter()
            .any(|l| l.contains("keep-alive sweep: panicked") && l.contains("started again")),
        "{errors:#?}"
    );
}
