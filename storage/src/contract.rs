//! One contract, every backend: the same assertions run against `MemoryStore` and (with the
//! `rocksdb` feature) `RocksStore`.

use crate::records::*;
use crate::{MemoryStore, Store};

fn msg(topic: &str, payload: &[u8], qos: u8) -> StoredMessage {
    StoredMessage {
        topic: topic.into(),
        payload: payload.to_vec(),
        qos,
        retain: false,
        properties: Vec::new(),
        expires_at_ms: None,
    }
}

fn meta(id: &str) -> SessionMeta {
    SessionMeta {
        client_id: id.into(),
        protocol_level: 4,
        subscriptions: vec![SubscriptionRecord {
            filter: "a/#".into(),
            qos: 1,
            options: 0,
            subscription_id: None,
        }],
        last_seen_ms: 42,
        expiry_interval_secs: None,
    }
}

fn body(topic: &str) -> MessageBody {
    MessageBody {
        topic: topic.into(),
        payload: b"p".to_vec(),
        retain: false,
        properties: Vec::new(),
        expires_at_ms: None,
    }
}

/// An entry referencing a shared body.
fn entry(state: DeliveryState) -> QueuedRef {
    QueuedRef {
        qos: 1,
        state,
        inline: None,
    }
}

/// A message queued for one session only, as the router writes it: its body in the entry.
fn put(client: &str, seq: u64, topic: &str, state: DeliveryState) -> Vec<Op> {
    vec![Op::PutMessage {
        client_id: client.into(),
        seq,
        entry: QueuedRef {
            inline: Some(body(topic)),
            ..entry(state)
        },
    }]
}

/// An update as a session writes it: with the message's body.
fn update(client: &str, seq: u64, topic: &str, state: DeliveryState) -> Op {
    Op::UpdateMessage {
        client_id: client.into(),
        seq,
        entry: QueuedRef {
            inline: Some(body(topic)),
            ..entry(state)
        },
    }
}

fn put_ref(client: &str, seq: u64, state: DeliveryState) -> Op {
    Op::PutMessage {
        client_id: client.into(),
        seq,
        entry: entry(state),
    }
}

fn delete(client: &str, seq: u64) -> Op {
    Op::DeleteMessage {
        client_id: client.into(),
        seq,
    }
}

/// (topic, state) of a loaded session's messages, in order.
fn topics_and_states(rec: &SessionRecord) -> Vec<(u64, String, DeliveryState)> {
    rec.messages
        .iter()
        .map(|(seq, m)| (*seq, m.body.topic.clone(), m.state))
        .collect()
}

/// The loaded record of one session, if the store has it.
fn session(s: &dyn Store, client_id: &str) -> Option<SessionRecord> {
    s.load()
        .unwrap()
        .sessions
        .into_iter()
        .find(|x| x.meta.client_id == client_id)
}

/// Run every contract check against a fresh store.
pub fn check_all(store: &dyn Store) {
    sessions_keep_messages_in_sequence_order(store);
    deleting_a_session_removes_its_messages_and_inbound_ids(store);
    message_updates_and_deletes(store);
    retained_put_replace_delete(store);
    client_ids_that_prefix_each_other_stay_apart(store);
    mqtt5_fields_round_trip(store);
}

fn sessions_keep_messages_in_sequence_order(s: &dyn Store) {
    let mut ops = vec![Op::PutSession(meta("c1"))];
    ops.extend(put("c1", 300, "t/3", DeliveryState::Queued));
    ops.extend(put("c1", 2, "t/1", DeliveryState::Queued));
    ops.extend(put("c1", 256, "t/2", DeliveryState::Sent { pkid: 9 }));
    ops.push(Op::PutInbound {
        client_id: "c1".into(),
        pkid: 7,
    });
    s.write(&ops, false).unwrap();
    let c1 = session(s, "c1").expect("session c1");
    assert_eq!(c1.meta, meta("c1"));
    let seqs: Vec<u64> = c1.messages.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, vec![2, 256, 300]);
    assert_eq!(c1.messages[1].1.state, DeliveryState::Sent { pkid: 9 });
    assert_eq!(c1.messages[1].1.body.topic, "t/2");
    assert_eq!(c1.inbound_qos2, vec![7]);
}

fn deleting_a_session_removes_its_messages_and_inbound_ids(s: &dyn Store) {
    s.write(&[Op::DeleteSession("c1".into())], true).unwrap();
    assert!(session(s, "c1").is_none());
    assert_eq!(
        s.stats().unwrap().bodies,
        0,
        "the session's bodies go with it"
    );
    // Re-creating the session finds nothing left over.
    s.write(&[Op::PutSession(meta("c1"))], false).unwrap();
    let c1 = session(s, "c1").expect("session c1");
    assert!(c1.messages.is_empty() && c1.inbound_qos2.is_empty());
    s.write(&[Op::DeleteSession("c1".into())], false).unwrap();
}

fn message_updates_and_deletes(s: &dyn Store) {
    let mut ops = vec![Op::PutSession(meta("c2"))];
    ops.extend(put("c2", 1, "x", DeliveryState::Queued));
    ops.push(Op::PutBody {
        id: 2,
        body: body("y"),
    });
    ops.push(put_ref("c2", 2, DeliveryState::Queued));
    s.write(&ops, false).unwrap();
    assert_eq!(
        s.stats().unwrap().bodies,
        1,
        "only the shared one is a body"
    );
    s.write(
        &[
            update("c2", 1, "x", DeliveryState::Released { pkid: 3 }),
            update("c2", 2, "y", DeliveryState::Sent { pkid: 4 }),
            // Without its body an inline entry is not rewritten (nor lost).
            Op::UpdateMessage {
                client_id: "c2".into(),
                seq: 1,
                entry: entry(DeliveryState::Sent { pkid: 9 }),
            },
        ],
        false,
    )
    .unwrap();
    let c2 = session(s, "c2").expect("session c2");
    assert_eq!(
        topics_and_states(&c2),
        vec![
            (1, "x".into(), DeliveryState::Released { pkid: 3 }),
            (2, "y".into(), DeliveryState::Sent { pkid: 4 })
        ]
    );
    assert_eq!(
        s.stats().unwrap().bodies,
        1,
        "an update does not copy a shared body"
    );
    s.write(
        &[
            delete("c2", 2),
            // An update of an entry that is gone does not bring it back.
            update("c2", 2, "y", DeliveryState::Released { pkid: 4 }),
        ],
        false,
    )
    .unwrap();
    let c2 = session(s, "c2").expect("session c2");
    assert_eq!(
        topics_and_states(&c2),
        vec![(1, "x".into(), DeliveryState::Released { pkid: 3 })]
    );
    assert_eq!(s.stats().unwrap().bodies, 0);
    s.write(&[Op::DeleteSession("c2".into())], false).unwrap();
}

fn retained_put_replace_delete(s: &dyn Store) {
    let mut m = msg("home/a", b"1", 1);
    m.retain = true;
    s.write(
        &[Op::PutRetained(RetainedRecord { message: m.clone() })],
        false,
    )
    .unwrap();
    m.payload = b"2".to_vec();
    s.write(
        &[Op::PutRetained(RetainedRecord { message: m.clone() })],
        false,
    )
    .unwrap();
    assert_eq!(
        s.load_retained().unwrap(),
        vec![RetainedRecord { message: m }]
    );
    s.write(&[Op::DeleteRetained("home/a".into())], false)
        .unwrap();
    assert!(s.load_retained().unwrap().is_empty());
}

fn client_ids_that_prefix_each_other_stay_apart(s: &dyn Store) {
    s.write(
        &[
            Op::PutSession(meta("ab")),
            Op::PutSession(meta("a")),
            Op::PutBody {
                id: 1,
                body: body("ab"),
            },
            put_ref("ab", 1, DeliveryState::Queued),
            put_ref("a", 1, DeliveryState::Queued),
        ],
        false,
    )
    .unwrap();
    s.write(&[Op::DeleteSession("a".into())], false).unwrap();
    let ab = session(s, "ab").expect("session ab");
    assert_eq!(ab.messages.len(), 1, "deleting \"a\" must not touch \"ab\"");
    assert_eq!(s.stats().unwrap().bodies, 1, "\"ab\" still references it");
    s.write(&[Op::DeleteSession("ab".into())], false).unwrap();
}

/// The MQTT 5.0 state of sessions, subscriptions, bodies (shared and inline, also through a
/// QoS 2 update) and retained messages comes back as written.
fn mqtt5_fields_round_trip(s: &dyn Store) {
    let mut m = meta("v5");
    m.protocol_level = 5;
    m.expiry_interval_secs = Some(u32::MAX);
    m.subscriptions = vec![
        SubscriptionRecord {
            filter: "a/#".into(),
            qos: 2,
            // No-local, retain-as-published, retain handling 2.
            options: 0b0010_1100,
            subscription_id: Some(268_435_455),
        },
        SubscriptionRecord {
            filter: "b".into(),
            qos: 0,
            options: 0b0001_0000,
            subscription_id: Some(1),
        },
    ];
    let with_props = |topic: &str, expires| MessageBody {
        // Content type "a/b" and a user property, as the codec would encode them.
        properties: vec![0x03, 0, 3, b'a', b'/', b'b', 0x26, 0, 1, b'k', 0, 1, b'v'],
        expires_at_ms: expires,
        ..body(topic)
    };
    let shared = with_props("shared", Some(u64::MAX));
    let inline = with_props("inline", Some(1_700_000_000_123));
    let mut ops = vec![
        Op::PutSession(m.clone()),
        Op::PutBody {
            id: 60,
            body: shared.clone(),
        },
        put_ref("v5", 60, DeliveryState::Queued),
    ];
    ops.push(Op::PutMessage {
        client_id: "v5".into(),
        seq: 61,
        entry: QueuedRef {
            inline: Some(inline.clone()),
            ..entry(DeliveryState::Queued)
        },
    });
    let mut retained = msg("r/5", b"r", 1);
    retained.retain = true;
    retained.properties = vec![0x01, 0x01];
    retained.expires_at_ms = Some(1_700_000_000_456);
    ops.push(Op::PutRetained(RetainedRecord {
        message: retained.clone(),
    }));
    s.write(&ops, false).unwrap();
    s.write(
        &[Op::UpdateMessage {
            client_id: "v5".into(),
            seq: 61,
            entry: QueuedRef {
                inline: Some(inline.clone()),
                ..entry(DeliveryState::Sent { pkid: 1 })
            },
        }],
        false,
    )
    .unwrap();
    let v5 = session(s, "v5").expect("session v5");
    assert_eq!(v5.meta, m);
    let bodies: Vec<(u64, &MessageBody)> = v5
        .messages
        .iter()
        .map(|(seq, q)| (*seq, &*q.body))
        .collect();
    assert_eq!(bodies, vec![(60, &shared), (61, &inline)]);
    assert_eq!(v5.messages[1].1.state, DeliveryState::Sent { pkid: 1 });
    assert_eq!(
        s.load_retained().unwrap(),
        vec![RetainedRecord { message: retained }]
    );
    s.write(
        &[
            Op::DeleteSession("v5".into()),
            Op::DeleteRetained("r/5".into()),
        ],
        false,
    )
    .unwrap();
}

#[test]
fn memory_store_meets_the_contract() {
    check_all(&MemoryStore::new());
}

#[cfg(feature = "rocksdb")]
#[test]
fn rocks_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let opened = crate::open_rocks(&dir.path().join("db"), crate::OnCorruption::Fail).unwrap();
    check_all(&*opened.store);
}

#[path = "contract_bodies.rs"]
pub(crate) mod bodies;
