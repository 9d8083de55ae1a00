//! Migration of older stores at open: a version-1 store built record by record in its old
//! layouts, and a version-2 store written by the Courtier build of that schema (the fixture
//! `tests/fixtures/store-v2`, see its README). Both must come back whole, with the MQTT 5.0
//! fields at their "absent" values, as a version-3 store that later opens need not migrate.

use super::layouts::{QueuedRecordV1, RetainedRecordV2, SessionMetaV2, StoredMessageV2};
use super::{CFS, CF_META};
use crate::encoding::{encode, message_key, SCHEMA_VERSION};
use crate::records::*;
use crate::rocks::{open_rocks, OnCorruption};
use crate::{Opened, Store};
use std::path::Path;
use std::sync::Arc;

/// `encode` with the header of an older schema version.
fn as_version(mut bytes: Vec<u8>, version: u16) -> Vec<u8> {
    bytes[1..3].copy_from_slice(&version.to_le_bytes());
    bytes
}

/// Every record of the store carries the current version in its header.
fn assert_all_records_current(opened: &Opened) {
    for cf in CFS.iter().filter(|cf| **cf != CF_META && **cf != "inbound") {
        for (k, v) in opened.store.raw_for_test(cf) {
            let version = u16::from_le_bytes([v[1], v[2]]);
            assert_eq!(version, SCHEMA_VERSION, "{cf} record {k:?}");
        }
    }
}

/// Close a migrated store and open it again: nothing to migrate, nothing written, the same
/// contents.
fn reopen_without_migrating(path: &Path, migrated: Opened) -> Opened {
    let before = migrated.store.sequence_for_test();
    let contents = migrated.loaded.clone();
    drop(migrated);
    let opened = open_rocks(path, OnCorruption::Fail).unwrap();
    assert_eq!(opened.store.schema_for_test(), SCHEMA_VERSION);
    assert_eq!(
        opened.store.sequence_for_test(),
        before,
        "the second open writes nothing"
    );
    assert_eq!(opened.loaded, contents);
    opened
}

fn sub(filter: &str, qos: u8) -> SubscriptionRecord {
    SubscriptionRecord {
        filter: filter.into(),
        qos,
        options: 0,
        subscription_id: None,
    }
}

fn meta(client_id: &str, level: u8, subs: Vec<SubscriptionRecord>, seen: u64) -> SessionMeta {
    SessionMeta {
        client_id: client_id.into(),
        protocol_level: level,
        subscriptions: subs,
        last_seen_ms: seen,
        expiry_interval_secs: None,
    }
}

fn body(topic: &str, payload: &[u8], retain: bool) -> Arc<MessageBody> {
    Arc::new(MessageBody {
        topic: topic.into(),
        payload: payload.to_vec(),
        retain,
        properties: Vec::new(),
        expires_at_ms: None,
    })
}

fn queued(body: &Arc<MessageBody>, qos: u8, state: DeliveryState) -> QueuedMessage {
    QueuedMessage {
        body: body.clone(),
        qos,
        state,
    }
}

fn retained(topic: &str, payload: &[u8], qos: u8) -> RetainedRecord {
    RetainedRecord {
        message: StoredMessage {
            topic: topic.into(),
            payload: payload.to_vec(),
            qos,
            retain: true,
            properties: Vec::new(),
            expires_at_ms: None,
        },
    }
}

#[test]
fn a_version_1_store_is_migrated_to_one_body_per_message() {
    use DeliveryState::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let v1_entry = |topic: &str, qos: u8, state| {
        as_version(
            encode(&QueuedRecordV1 {
                message: StoredMessageV2 {
                    topic: topic.into(),
                    payload: vec![9; 4096],
                    qos,
                    retain: false,
                },
                state,
            }),
            1,
        )
    };
    {
        let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
        let s = &opened.store;
        s.write_schema_for_test(1);
        for (i, client) in ["a", "b", "c"].iter().enumerate() {
            let meta = SessionMetaV2 {
                client_id: client.to_string(),
                protocol_level: 4,
                subscriptions: vec![super::layouts::SubscriptionRecordV2 {
                    filter: "m/#".into(),
                    qos: 2,
                }],
                last_seen_ms: 1,
            };
            s.put_raw_for_test("sessions", client.as_bytes(), &as_version(encode(&meta), 1));
            // Message 7 fanned out to all three (as version 1 wrote it: one copy each, same
            // sequence), message 8 to "a" only, in flight.
            let qos = 1 + (i as u8 % 2);
            s.put_raw_for_test(
                "messages",
                &message_key(client, 7),
                &v1_entry("m/7", qos, Queued),
            );
        }
        s.put_raw_for_test(
            "messages",
            &message_key("a", 8),
            &v1_entry("m/8", 2, Sent { pkid: 3 }),
        );
        let old = RetainedRecordV2 {
            message: StoredMessageV2 {
                topic: "keep/me".into(),
                payload: vec![7; 100],
                qos: 1,
                retain: true,
            },
        };
        s.put_raw_for_test("retained", b"keep/me", &as_version(encode(&old), 1));
    }
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    assert!(opened.moved_aside.is_none());
    assert_eq!(opened.store.schema_for_test(), SCHEMA_VERSION);
    assert_all_records_current(&opened);
    let loaded = &opened.loaded;
    assert_eq!(loaded.retained, vec![retained("keep/me", &[7; 100], 1)]);
    assert_eq!(loaded.body_high_water, 8);
    let m7 = body("m/7", &[9; 4096], false);
    let m8 = body("m/8", &[9; 4096], false);
    let expected = |client: &str, messages| SessionRecord {
        meta: meta(client, 4, vec![sub("m/#", 2)], 1),
        messages,
        inbound_qos2: Vec::new(),
    };
    assert_eq!(
        loaded.sessions,
        vec![
            expected(
                "a",
                vec![
                    (7, queued(&m7, 1, Queued)),
                    (8, queued(&m8, 2, Sent { pkid: 3 }))
                ]
            ),
            // b's own QoS kept.
            expected("b", vec![(7, queued(&m7, 2, Queued))]),
            expected("c", vec![(7, queued(&m7, 1, Queued))]),
        ]
    );
    let stats = opened.store.stats().unwrap();
    // 7 shared by three sessions, 8 inline in "a"'s entry.
    assert_eq!((stats.bodies, stats.references), (1, 4));
    reopen_without_migrating(&path, opened);
}

#[path = "migrate_tests_v2.rs"]
mod v2;
