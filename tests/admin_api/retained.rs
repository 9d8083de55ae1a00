//! Retained messages listed, read and deleted; the topic tree.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_messages_are_listed_read_and_deleted_and_the_topic_tree_shows_them() {
    let server = start(settings());
    let http = server.http_addr.unwrap();
    let (c, mut ev, _) = v4::connect(v4::options(&server, &unique("pub"), true)).await;
    let topics = [
        ("homeassistant/light/hall/state", "ON"),
        ("homeassistant/light/kitchen/state", "OFF"),
        ("garden/temp", "21.5"),
    ];
    for (t, v) in topics {
        c.publish(t, rumqttc::QoS::AtLeastOnce, true, v)
            .await
            .unwrap();
        v4::until(&mut ev, |p| {
            matches!(p, rumqttc::Packet::PubAck(_)).then_some(())
        })
        .await;
    }
    c.subscribe("homeassistant/+/+/set", rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    v4::until(&mut ev, |p| {
        matches!(p, rumqttc::Packet::SubAck(_)).then_some(())
    })
    .await;

    let (status, list) = api(
        http,
        "GET",
        "/api/v1/retained?filter=homeassistant/%23".into(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["topic"], "homeassistant/light/hall/state");
    assert_eq!(list["items"][0]["payload"], "ON");
    assert_eq!(list["items"][0]["qos"], 1);
    let (status, one) = api(http, "GET", "/api/v1/retained/garden/temp".into()).await;
    assert_eq!((status, one["payload"].as_str()), (200, Some("21.5")));
    let (status, _) = api(http, "GET", "/api/v1/retained/garden/%23".into()).await;
    assert_eq!(status, 400, "a filter is not a topic name");

    let (status, tree) = api(http, "GET", "/api/v1/topics".into()).await;
    assert_eq!(status, 200);
    let ha = tree["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "homeassistant")
        .expect("homeassistant in the tree")
        .clone();
    assert_eq!(ha["retained_messages"], 2);
    let names: Vec<&str> = ha["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["+", "light"]);
    let (_, shallow) = api(
        http,
        "GET",
        "/api/v1/topics?root=homeassistant&depth=1".into(),
    )
    .await;
    assert_eq!(shallow["children"][1]["topic"], "homeassistant/light");
    assert_eq!(shallow["children"][1]["truncated"], true);

    let (status, _) = api(http, "DELETE", "/api/v1/retained/garden/temp".into()).await;
    assert_eq!(status, 200);
    let (status, _) = api(http, "GET", "/api/v1/retained/garden/temp".into()).await;
    assert_eq!(status, 404);
    let (status, _) = api(http, "DELETE", "/api/v1/retained/garden/temp".into()).await;
    assert_eq!(status, 404);
    // A new subscriber gets nothing retained on it.
    let (s, mut sev, _) = v4::connect(v4::options(&server, &unique("sub"), true)).await;
    s.subscribe("garden/#", rumqttc::QoS::AtMostOnce)
        .await
        .unwrap();
    v4::until(&mut sev, |p| {
        matches!(p, rumqttc::Packet::SubAck(_)).then_some(())
    })
    .await;
    let got = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) = sev.poll().await {
                return p;
            }
        }
    })
    .await;
    assert!(got.is_err(), "deleted retained message delivered: {got:?}");
    server.stop();
}
