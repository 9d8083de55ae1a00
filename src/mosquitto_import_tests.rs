//! What a mosquitto.db becomes in store ops (the black-box test with a real mosquitto.db
//! written by Debian's mosquitto is tests/mosquitto_conf_import.rs).

use super::*;
use crate::mosquitto_db::{Client, ClientMsg, StoredMsg, Sub};

const NOW_MS: u64 = 1_700_000_000_000;

fn msg(topic: &str, expiry_time: i64, properties: Vec<u8>) -> StoredMsg {
    StoredMsg {
        topic: topic.into(),
        payload: b"p".to_vec(),
        qos: 1,
        retain: true,
        expiry_time,
        properties,
    }
}

fn queued(client_id: &str, store_id: u64, qos: u8, state: u8, outgoing: bool) -> ClientMsg {
    ClientMsg {
        client_id: client_id.into(),
        store_id,
        mid: 7,
        qos,
        state,
        retain: false,
        outgoing,
    }
}

fn sample() -> MosquittoDb {
    let now = (NOW_MS / 1000) as i64;
    // Payload format indicator 1 (kept) and topic alias 3 (dropped).
    let props = vec![5, 0x01, 1, 0x23, 0, 3];
    MosquittoDb {
        version: 6,
        messages: HashMap::from([
            (1, msg("home/door", 0, props)),
            (2, msg("home/old", now - 10, vec![])),
            (3, msg("$SYS/broker/uptime", 0, vec![])),
            (4, msg("home/later", now + 60, vec![])),
        ]),
        retained: vec![1, 2, 3, 4, 99],
        clients: vec![
            Client {
                id: "v311".into(),
                session_expiry_time: 0,
                session_expiry_interval: u32::MAX,
                last_mid: 3,
            },
            Client {
                id: "v5".into(),
                session_expiry_time: now + 3600,
                session_expiry_interval: 7200,
                last_mid: 0,
            },
        ],
        client_msgs: vec![
            queued("v311", 1, 1, 11, true),
            queued("v311", 4, 2, 5, true),
            queued("v5", 1, 2, 9, true),
            queued("v5", 1, 0, 11, true),
            queued("v5", 1, 2, 7, false),
            queued("gone", 1, 1, 11, true),
            queued("v5", 2, 1, 11, true),
        ],
        subs: vec![
            Sub {
                client_id: "v311".into(),
                topic: "home/#".into(),
                qos: 1,
                options: 0,
                identifier: 0,
            },
            Sub {
                client_id: "v5".into(),
                topic: "a/+".into(),
                qos: 2,
                options: 0b0100,
                identifier: 9,
            },
            Sub {
                client_id: "v5".into(),
                topic: "bad/#/x".into(),
                qos: 0,
                options: 0,
                identifier: 0,
            },
        ],
        unknown_chunks: 0,
    }
}

#[test]
fn retained_messages_keep_their_topic_payload_qos_and_message_properties() {
    let p = plan(&sample(), NOW_MS);
    let retained: Vec<&StoredMessage> = p
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::PutRetained(r) => Some(&r.message),
            _ => None,
        })
        .collect();
    let topics: Vec<&str> = retained.iter().map(|m| m.topic.as_str()).collect();
    // home/old has expired, $SYS is the broker's own, 99 has no message.
    assert_eq!(topics, ["home/door", "home/later"]);
    assert_eq!((retained[0].qos, &retained[0].payload[..]), (1, &b"p"[..]));
    let props = PublishProperties::from_bytes(&retained[0].properties).unwrap();
    assert_eq!(props.payload_format_indicator, Some(true));
    assert_eq!(props.topic_alias, None);
    assert_eq!(retained[1].expires_at_ms, Some(NOW_MS + 60_000));
}

#[test]
fn sessions_keep_their_subscriptions_and_queued_qos_1_and_2_messages() {
    let p = plan(&sample(), NOW_MS);
    let sessions: Vec<&SessionMeta> = p
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::PutSession(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(sessions[0].client_id, "v311");
    assert_eq!(
        (sessions[0].protocol_level, sessions[0].expiry_interval_secs),
        (4, None)
    );
    assert_eq!(sessions[0].subscriptions[0].filter, "home/#");
    let v5 = sessions[1];
    assert_eq!(
        (v5.protocol_level, v5.expiry_interval_secs),
        (5, Some(7200))
    );
    // Expires at now + 3600 with an interval of 7200: last seen an hour ago.
    assert_eq!(v5.last_seen_ms, NOW_MS - 3_600_000);
    assert_eq!(v5.subscriptions.len(), 1, "the invalid filter is left out");
    assert_eq!(v5.subscriptions[0].options, 0b0100);
    assert_eq!(v5.subscriptions[0].subscription_id, Some(9));
    let queued: Vec<(&str, u64, DeliveryState)> = p
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::PutMessage {
                client_id,
                seq,
                entry,
            } => Some((client_id.as_str(), *seq, entry.state)),
            _ => None,
        })
        .collect();
    assert_eq!(
        queued,
        [
            ("v311", 1, DeliveryState::Queued),
            ("v311", 2, DeliveryState::Sent { pkid: 7 }),
            ("v5", 3, DeliveryState::Released { pkid: 7 }),
        ]
    );
    let c = p.counts;
    assert_eq!(
        (c.retained, c.sessions, c.subscriptions, c.queued),
        (2, 2, 2, 3)
    );
    // Retained: expired 1; skipped $SYS, 99, the bad filter, QoS 0, incoming, "gone";
    // queued: expired 1.
    assert_eq!((c.expired, c.skipped), (2, 6));
}

#[test]
fn mosquitto_s_own_files_import() {
    let read = |name: &str| {
        let bytes = std::fs::read(format!("tests/fixtures/mosquitto/db/{name}.test-db")).unwrap();
        crate::mosquitto_db::parse(&bytes).unwrap()
    };
    let p = plan(&read("v6-client-message-props"), NOW_MS);
    assert_eq!((p.counts.sessions, p.counts.queued), (1, 1));
    let p = plan(&read("v6-sub"), NOW_MS);
    assert_eq!(p.counts.subscriptions, 1);
    assert_eq!(plan(&read("v6-retain"), NOW_MS).counts.retained, 1);
}

/// tests/fixtures/mosquitto/db/debian-2.0.11.db: written by Debian's mosquitto 2.0.11 at
/// SIGTERM after `mosquitto_pub -r` (3.1.1, and 5.0 with content type, user property and
/// expiry), two persistent subscribers (`mosquitto_sub -c`, 3.1.1, and 5.0 with session
/// expiry 86400) and a QoS 1 and a QoS 2 message queued for them.
#[test]
fn a_file_debian_s_mosquitto_wrote() {
    let bytes = std::fs::read("tests/fixtures/mosquitto/db/debian-2.0.11.db").unwrap();
    let db = crate::mosquitto_db::parse(&bytes).unwrap();
    let p = plan(&db, NOW_MS);
    let c = &p.counts;
    assert_eq!(
        (c.retained, c.sessions, c.subscriptions, c.queued),
        (2, 2, 3, 2),
        "{c}"
    );
    let hall = p.ops.iter().find_map(|op| match op {
        Op::PutRetained(r) if r.message.topic == "home/hall" => Some(&r.message),
        _ => None,
    });
    let hall = hall.expect("home/hall");
    let props = PublishProperties::from_bytes(&hall.properties).unwrap();
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    assert!(hall.expires_at_ms.is_some());
    let v5 = p.ops.iter().find_map(|op| match op {
        Op::PutSession(m) if m.client_id == "logger5" => Some(m),
        _ => None,
    });
    assert_eq!(v5.expect("logger5").expiry_interval_secs, Some(86400));
}
