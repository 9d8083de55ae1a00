//! The client list (filters, pages, 10,000 clients), details, subscriptions and kicks.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_clients_with_filters_pages_details_and_subscriptions() {
    use rumqttc::v5::mqttbytes::v5::{Filter, Packet as P5, RetainForwardRule};
    let server = start(settings());
    let http = server.http_addr.unwrap();
    let p = unique("adm");
    let mut o = v4::options(&server, &format!("{p}-a"), true);
    o.set_credentials("bob", "");
    let (c4, mut ev4, _) = v4::connect(o).await;
    c4.subscribe("home/+/light", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    v4::until(&mut ev4, |p| {
        matches!(p, rumqttc::Packet::SubAck(_)).then_some(())
    })
    .await;
    let (c5, mut ev5) = v5::connect(&server, &format!("{p}-b")).await;
    let mut f = Filter::new("alarm/#", rumqttc::v5::mqttbytes::QoS::ExactlyOnce);
    f.nolocal = true;
    f.retain_forward_rule = RetainForwardRule::Never;
    c5.subscribe_many([f]).await.unwrap();
    v5::until(&mut ev5, |p| matches!(p, P5::SubAck(_)).then_some(())).await;

    let (status, page) = api(http, "GET", format!("/api/v1/clients?prefix={p}")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 2, "{page}");
    let a = &page["items"][0];
    assert_eq!(a["id"], format!("{p}-a"));
    assert_eq!(a["username"], "bob");
    assert_eq!(a["protocol"], "3.1.1");
    assert_eq!(a["connected"], true);
    assert_eq!(a["subscriptions"], 1);
    assert_eq!(a["transport"], "tcp");
    assert!(a["address"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(a["connected_since"].as_u64().unwrap() > 1_700_000_000);
    for key in ["in_flight", "queued", "dropped"] {
        assert_eq!(a[key], 0, "{key}");
    }
    assert_eq!(page["items"][1]["protocol"], "5.0");

    // Filters and pages (limit + cursor).
    let (_, by_user) = api(
        http,
        "GET",
        format!("/api/v1/clients?prefix={p}&username=bob"),
    )
    .await;
    assert_eq!(by_user["total"], 1);
    let (_, first) = api(http, "GET", format!("/api/v1/clients?prefix={p}&limit=1")).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let cursor = first["next"].as_str().unwrap().to_owned();
    assert_eq!(cursor, format!("{p}-a"));
    let (_, second) = api(
        http,
        "GET",
        format!("/api/v1/clients?prefix={p}&limit=1&after={cursor}"),
    )
    .await;
    assert_eq!(second["items"][0]["id"], format!("{p}-b"));
    assert_eq!(second["next"], Value::Null);
    let (_, offline) = api(
        http,
        "GET",
        format!("/api/v1/clients?prefix={p}&connected=false"),
    )
    .await;
    assert_eq!(offline["total"], 0);

    let (status, b) = api(http, "GET", format!("/api/v1/clients/{p}-b")).await;
    assert_eq!(status, 200);
    let sub = &b["filters"][0];
    assert_eq!(sub["filter"], "alarm/#");
    assert_eq!(sub["qos"], 2);
    assert_eq!(sub["no_local"], true);
    assert_eq!(sub["retain_handling"], 2);
    let (status, _) = api(http, "GET", "/api/v1/clients/nobody-here".into()).await;
    assert_eq!(status, 404);

    let (_, subs) = api(http, "GET", format!("/api/v1/subscriptions?client={p}")).await;
    assert_eq!(subs["total"], 2, "{subs}");
    let (_, light) = api(
        http,
        "GET",
        format!("/api/v1/subscriptions?client={p}&filter=light"),
    )
    .await;
    assert_eq!(light["items"][0]["filter"], "home/+/light");
    assert_eq!(light["items"][0]["client_id"], format!("{p}-a"));
    drop((c4, c5));
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_sends_a_5_0_client_disconnect_0x98_and_a_3_1_1_client_is_closed() {
    use rumqttc::v5::mqttbytes::v5::{DisconnectReasonCode, Packet as P5};
    let server = start(settings());
    let http = server.http_addr.unwrap();
    let id5 = unique("kick5");
    let (_c5, mut ev5) = v5::connect(&server, &id5).await;
    let (status, body) = api(http, "DELETE", format!("/api/v1/clients/{id5}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["was_connected"], true);
    assert_eq!(body["session_deleted"], false);
    // rumqttc reports the server's DISCONNECT as the event loop's error.
    let reason = tokio::time::timeout(WAIT, async {
        loop {
            match ev5.poll().await {
                Ok(rumqttc::v5::Event::Incoming(P5::Disconnect(d))) => return d.reason_code,
                Err(rumqttc::v5::ConnectionError::MqttState(
                    rumqttc::v5::StateError::ServerDisconnect { reason_code, .. },
                )) => return reason_code,
                Err(e) => panic!("closed without DISCONNECT: {e:?}"),
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("DISCONNECT within 5 s");
    assert_eq!(reason, DisconnectReasonCode::AdministrativeAction);

    let id4 = unique("kick4");
    let (_c4, mut ev4, _) = v4::connect(v4::options(&server, &id4, true)).await;
    let (status, _) = api(http, "DELETE", format!("/api/v1/clients/{id4}")).await;
    assert_eq!(status, 200);
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            if ev4.poll().await.is_err() {
                return;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the 3.1.1 client was closed");
    let (status, _) = api(http, "DELETE", "/api/v1/clients/nobody-here".into()).await;
    assert_eq!(status, 404);
    server.stop();
}

fn persistent(data: &Path) -> Settings {
    let mut s = settings();
    s.persistence.enabled = true;
    s.persistence.data_dir = data.to_path_buf();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_with_session_true_deletes_the_persistent_session_and_its_stored_copy() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(persistent(dir.path()));
    let http = server.http_addr.unwrap();
    let (keep, gone) = (unique("keep"), unique("gone"));
    for id in [&keep, &gone] {
        let (c, mut ev, _) = v4::connect(v4::options(&server, id, false)).await;
        c.subscribe("t/#", rumqttc::QoS::AtLeastOnce).await.unwrap();
        v4::until(&mut ev, |p| {
            matches!(p, rumqttc::Packet::SubAck(_)).then_some(())
        })
        .await;
        // Kicked while connected: a plain kick keeps the session, ?session=true does not.
        let path = match id == &gone {
            true => format!("/api/v1/clients/{id}?session=true"),
            false => format!("/api/v1/clients/{id}"),
        };
        let (status, body) = api(http, "DELETE", path).await;
        assert_eq!(status, 200);
        assert_eq!(body["session_deleted"], id == &gone);
    }
    let (_, page) = api(http, "GET", "/api/v1/clients".into()).await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [keep.as_str()], "{page}");
    server.stop();

    // After a restart from the store: the kept session is restored, the deleted one is not.
    let server = start(persistent(dir.path()));
    let (_c, _ev, present) = v4::connect(v4::options(&server, &gone, false)).await;
    assert!(!present, "session present = 0 after ?session=true");
    let (_c, _ev, present) = v4::connect(v4::options(&server, &keep, false)).await;
    assert!(present, "a plain kick keeps the session");
    server.stop();
}

/// 10,000 clients: 8,000 persistent sessions restored from the store (offline) and 2,000
/// connected over real sockets. The whole list is one request, complete and correct. How long
/// it takes is a benchmark figure, not an assertion (a loaded CI machine is no stopwatch): the
/// test prints it, and docs/PERFORMANCE.md ("Admin API") records it from a release run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_10_000_clients_is_complete_in_one_request() {
    use courtier_storage::records::{SessionMeta, SubscriptionRecord};
    use courtier_storage::{MemoryStore, Op, Store};
    const OFFLINE: usize = 8_000;
    const ONLINE: usize = 2_000;
    let store = std::sync::Arc::new(MemoryStore::new());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let ops: Vec<Op> = (0..OFFLINE)
        .map(|i| {
            Op::PutSession(SessionMeta {
                client_id: format!("offline-{i:05}"),
                protocol_level: 4,
                subscriptions: vec![SubscriptionRecord {
                    filter: format!("sensors/{i}/#"),
                    qos: 1,
                    options: 0,
                    subscription_id: None,
                }],
                last_seen_ms: now,
                expiry_interval_secs: None,
            })
        })
        .collect();
    store.write(&ops, false).unwrap();
    let server = ServerThread::spawn(settings(), store).expect("broker starts");
    let mqtt = server.mqtt_addr;
    let sockets = tokio::task::spawn_blocking(move || {
        (0..ONLINE)
            .map(|i| {
                let mut s = TcpStream::connect(mqtt).unwrap();
                s.write_all(&connect(&format!("online-{i:05}"), true))
                    .unwrap();
                let mut ack = [0u8; 4];
                s.read_exact(&mut ack).unwrap();
                assert_eq!(ack, [0x20, 2, 0, 0]);
                s
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let http = server.http_addr.unwrap();
    let mut best = Duration::MAX;
    for _ in 0..3 {
        // Timed until the whole response is read; parsing it here is the test's own cost.
        let (took, status, body) = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let (status, body) = request_text(http, "GET", "/api/v1/clients?limit=10000", &[]);
            (started.elapsed(), status, body)
        })
        .await
        .unwrap();
        assert_eq!(status, 200);
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["total"], OFFLINE + ONLINE);
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), OFFLINE + ONLINE);
        let online = items.iter().filter(|c| c["connected"] == true).count();
        assert_eq!(online, ONLINE);
        assert!(items
            .iter()
            .all(|c| c["connected"] == true || c["subscriptions"] == 1));
        best = best.min(took);
    }
    eprintln!("GET /api/v1/clients?limit=10000 with 10,000 clients: best of 3 {best:?}");
    drop(sockets);
    server.stop();
}
