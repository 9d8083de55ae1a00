//! A message fanned out to several persistent sessions is stored once: one body per message,
//! one small entry per session, and the bodies go once every session has acknowledged them.
//! Small messages are copied into each session's entry instead (cheaper than a shared record).
//! End to end on the RocksDB store the broker opens from its data directory, counted by opening
//! that directory after the broker stopped.

use courtier::config::Settings;
use courtier::ServerThread;
use courtier_storage::{open_rocks, OnCorruption, Store, StoreStats};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use std::path::Path;
use std::time::Duration;

const SESSIONS: usize = 5;
const MESSAGES: usize = 200;
const PAYLOAD: usize = 4096;

fn settings(data_dir: &Path) -> Settings {
    let mut s = Settings::defaults();
    s.listener.port = 0;
    s.http.port = 0;
    s.broker.sys_interval_secs = 0;
    s.persistence.enabled = true;
    s.persistence.data_dir = data_dir.to_path_buf();
    s
}

fn client(server: &ServerThread, id: &str, clean: bool) -> (AsyncClient, EventLoop) {
    let mut o = MqttOptions::new(id, "127.0.0.1", server.mqtt_addr.port());
    o.set_clean_session(clean);
    o.set_max_packet_size(64 * 1024, 64 * 1024);
    AsyncClient::new(o, 300)
}

/// Poll until `f` says done, failing after 20 s.
async fn until<F: FnMut(&Packet) -> bool>(ev: &mut EventLoop, mut f: F) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Event::Incoming(p) = ev.poll().await.expect("connected") {
                if f(&p) {
                    return;
                }
            }
        }
    })
    .await
    .expect("expected packets within 20 s");
}

/// Disconnect and let the event loop send what it still has (acknowledgements included).
async fn disconnect(c: AsyncClient, mut ev: EventLoop) {
    c.disconnect().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while ev.poll().await.is_ok() {}
    })
    .await;
}

/// Stop the broker and count what its store holds, opening the directory as a restart would.
fn stop_and_count(server: ServerThread, data_dir: &Path) -> StoreStats {
    server.stop();
    let opened = open_rocks(&data_dir.join("store"), OnCorruption::Fail).expect("store opens");
    opened.store.stats().expect("stats")
}

fn payload(i: usize) -> Vec<u8> {
    let mut p = format!("{i:05}").into_bytes();
    p.resize(PAYLOAD, b'.');
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_for_five_offline_sessions_is_stored_once_and_goes_when_all_have_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerThread::spawn_configured(settings(dir.path())).unwrap();
    for n in 0..SESSIONS {
        let (c, mut ev) = client(&server, &format!("once-{n}"), false);
        c.subscribe("once/#", QoS::AtLeastOnce).await.unwrap();
        until(&mut ev, |p| matches!(p, Packet::SubAck(_))).await;
        disconnect(c, ev).await;
    }
    let (publisher, mut pev) = client(&server, "once-pub", true);
    let sender = tokio::spawn(async move {
        for i in 0..MESSAGES {
            publisher
                .publish(
                    format!("once/{}", i % 7),
                    QoS::AtLeastOnce,
                    false,
                    payload(i),
                )
                .await
                .unwrap();
        }
        publisher
    });
    let mut acks = 0;
    until(&mut pev, |p| {
        acks += matches!(p, Packet::PubAck(_)) as usize;
        acks == MESSAGES
    })
    .await;
    disconnect(sender.await.unwrap(), pev).await;

    let stats = stop_and_count(server, dir.path());
    assert_eq!(stats.sessions, SESSIONS);
    assert_eq!(
        (stats.bodies, stats.references),
        (MESSAGES, SESSIONS * MESSAGES),
        "one body per message, one reference per session and message"
    );

    let server = ServerThread::spawn_configured(settings(dir.path())).unwrap();
    let mut receivers = Vec::new();
    for n in 0..SESSIONS {
        let (c, mut ev) = client(&server, &format!("once-{n}"), false);
        receivers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            until(&mut ev, |p| {
                if let Packet::Publish(m) = p {
                    got.push(String::from_utf8_lossy(&m.payload[..5]).into_owned());
                    assert_eq!(m.payload.len(), PAYLOAD);
                }
                got.len() == MESSAGES
            })
            .await;
            disconnect(c, ev).await;
            got
        }));
    }
    let expected: Vec<String> = (0..MESSAGES).map(|i| format!("{i:05}")).collect();
    for r in receivers {
        assert_eq!(r.await.unwrap(), expected, "all 200, in order");
    }

    let stats = stop_and_count(server, dir.path());
    assert_eq!(stats.sessions, SESSIONS, "the sessions stay");
    assert_eq!(
        (stats.bodies, stats.references),
        (0, 0),
        "every body went with its last acknowledgement"
    );
}

/// Below the sharing threshold (topic + payload under 512 bytes) each session's entry holds its
/// own copy: no shared bodies, one entry per session and message, all delivered after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_messages_for_several_sessions_are_copied_into_each_entry() {
    const SMALL: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerThread::spawn_configured(settings(dir.path())).unwrap();
    for n in 0..SMALL {
        let (c, mut ev) = client(&server, &format!("small-{n}"), false);
        c.subscribe("small/#", QoS::AtLeastOnce).await.unwrap();
        until(&mut ev, |p| matches!(p, Packet::SubAck(_))).await;
        disconnect(c, ev).await;
    }
    let (publisher, mut pev) = client(&server, "small-pub", true);
    for i in 0..50 {
        let payload = format!("{i:05}").repeat(12); // 60 bytes
        publisher
            .publish("small/t", QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    let mut acks = 0;
    until(&mut pev, |p| {
        acks += matches!(p, Packet::PubAck(_)) as usize;
        acks == 50
    })
    .await;
    disconnect(publisher, pev).await;
    let stats = stop_and_count(server, dir.path());
    assert_eq!((stats.bodies, stats.references), (0, SMALL * 50));

    let server = ServerThread::spawn_configured(settings(dir.path())).unwrap();
    for n in 0..SMALL {
        let (c, mut ev) = client(&server, &format!("small-{n}"), false);
        let mut got = 0;
        until(&mut ev, |p| {
            if let Packet::Publish(m) = p {
                assert_eq!(&m.payload[..5], format!("{got:05}").as_bytes(), "in order");
                got += 1;
            }
            got == 50
        })
        .await;
        disconnect(c, ev).await;
    }
    let stats = stop_and_count(server, dir.path());
    assert_eq!((stats.bodies, stats.references), (0, 0));
}
