//! The version-2 fixture store (`tests/fixtures/store-v2`, written by the Courtier build of
//! schema 2; its README says how), opened by this build.

use super::*;
use std::path::PathBuf;

/// A copy of the fixture in a temporary directory (opening it migrates it in place).
fn fixture_copy(dir: &tempfile::TempDir) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v2");
    let to = dir.path().join("db");
    std::fs::create_dir(&to).unwrap();
    for file in std::fs::read_dir(&from).unwrap() {
        let file = file.unwrap();
        if file.file_name() != "README.md" {
            std::fs::copy(file.path(), to.join(file.file_name())).unwrap();
        }
    }
    to
}

/// What the generator wrote (see the fixture's README), as this build loads it.
fn expected_sessions() -> Vec<SessionRecord> {
    use DeliveryState::*;
    let m100 = body("home/kitchen/temp", b"21.5", false);
    let m101 = body("alerts/door", &[0xde, 0xad, 0xbe, 0xef, 0, 1, 2], false);
    let m102 = body("cmd/sensor-1", b"on", false);
    let m103 = body("home/hall/light", b"off", true);
    let m104 = body("cmd/sensor-1", b"{\"reboot\":true}", false);
    let m105 = body("misc/big", &[7; 600], false);
    vec![
        SessionRecord {
            meta: meta(
                "logger",
                4,
                vec![sub("#", 1), sub("alerts/+", 2)],
                1_700_000_200_000,
            ),
            messages: vec![
                (100, queued(&m100, 1, Queued)),
                (101, queued(&m101, 2, Queued)),
                (104, queued(&m104, 1, Queued)),
                (105, queued(&m105, 0, Queued)),
            ],
            inbound_qos2: vec![],
        },
        SessionRecord {
            meta: meta("panel", 3, vec![sub("home/#", 2)], 1_700_000_100_000),
            messages: vec![
                (100, queued(&m100, 1, Queued)),
                (101, queued(&m101, 2, Sent { pkid: 11 })),
                (103, queued(&m103, 2, Released { pkid: 13 })),
            ],
            inbound_qos2: vec![1],
        },
        SessionRecord {
            meta: meta(
                "sensor-1",
                4,
                vec![sub("cmd/sensor-1", 2), sub("home/+/temp", 1)],
                1_700_000_000_000,
            ),
            messages: vec![
                (102, queued(&m102, 2, Sent { pkid: 12 })),
                (104, queued(&m104, 2, Released { pkid: 14 })),
            ],
            inbound_qos2: vec![5, 6],
        },
    ]
}

fn expected_retained() -> Vec<RetainedRecord> {
    vec![
        retained("home/hall/light", b"off", 0),
        retained("home/kitchen/temp", b"21.5", 1),
        retained("status/broker", &[0, 255, 1, 254], 2),
    ]
}

#[test]
fn the_fixture_is_a_version_2_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(&dir);
    let opts = rocksdb::Options::default();
    let db = rocksdb::DB::open_cf_for_read_only(&opts, &path, CFS, false).unwrap();
    let meta = db.cf_handle(CF_META).unwrap();
    let schema = db.get_cf(meta, super::super::SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(schema, 2u16.to_le_bytes());
    let sessions = db.cf_handle("sessions").unwrap();
    for r in db.iterator_cf(sessions, rocksdb::IteratorMode::Start) {
        let (_, v) = r.unwrap();
        assert_eq!(u16::from_le_bytes([v[1], v[2]]), 2, "written by schema 2");
    }
}

#[test]
fn a_version_2_store_written_by_courtier_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(&dir);
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    assert!(opened.moved_aside.is_none());
    assert_eq!(opened.store.schema_for_test(), SCHEMA_VERSION);
    assert_all_records_current(&opened);
    let loaded = &opened.loaded;
    assert_eq!(loaded.sessions, expected_sessions());
    assert_eq!(loaded.retained, expected_retained());
    assert_eq!(opened.store.load_retained().unwrap(), expected_retained());
    // The ceiling the version-2 broker recorded (ids are reserved in steps of 2^20).
    assert_eq!(loaded.body_high_water, (1 << 20) - 1);
    // Shared bodies stay shared: one copy for every entry of message 100.
    let [logger, panel, _] = &loaded.sessions[..] else {
        unreachable!()
    };
    assert!(Arc::ptr_eq(
        &logger.messages[0].1.body,
        &panel.messages[0].1.body
    ));
    let stats = opened.store.stats().unwrap();
    assert_eq!(
        stats,
        StoreStats {
            sessions: 3,
            bodies: 3,
            references: 9,
            retained: 3
        }
    );
    reopen_without_migrating(&path, opened);
}

#[test]
fn a_migrated_version_2_store_takes_writes() {
    use DeliveryState::*;
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(&dir);
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    let high_water = opened.loaded.body_high_water;
    let mut v5 = meta("v5", 5, vec![sub("alerts/#", 1)], 1_800_000_000_000);
    v5.expiry_interval_secs = Some(300);
    v5.subscriptions[0].options = 0b0000_0100;
    v5.subscriptions[0].subscription_id = Some(9);
    let new_body = MessageBody {
        properties: vec![0x01, 0x01],
        expires_at_ms: Some(1_800_000_060_000),
        ..(*body("alerts/fire", b"!", false)).clone()
    };
    let mut new_retained = retained("status/broker", b"up", 1);
    new_retained.message.properties = vec![0x01, 0x01];
    opened
        .store
        .write(
            &[
                Op::PutSession(v5.clone()),
                Op::PutBody {
                    id: high_water + 1,
                    body: new_body.clone(),
                },
                put_ref("v5", high_water + 1, Queued),
                put_ref("logger", high_water + 1, Queued),
                // An old shared body gains a reference, another entry completes.
                put_ref("v5", 101, Queued),
                Op::DeleteMessage {
                    client_id: "panel".into(),
                    seq: 101,
                },
                Op::PutSession(SessionMeta {
                    last_seen_ms: 1_800_000_000_000,
                    ..expected_sessions()[2].meta.clone()
                }),
                Op::DeleteSession("panel".into()),
                Op::PutRetained(new_retained.clone()),
            ],
            true,
        )
        .unwrap();
    drop(opened);
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    let loaded = &opened.loaded;
    let ids = |r: &SessionRecord| r.messages.iter().map(|(seq, _)| *seq).collect::<Vec<_>>();
    let clients: Vec<&str> = loaded
        .sessions
        .iter()
        .map(|r| r.meta.client_id.as_str())
        .collect();
    assert_eq!(clients, ["logger", "sensor-1", "v5"]);
    let [logger, sensor, new] = &loaded.sessions[..] else {
        unreachable!()
    };
    assert_eq!(ids(logger), [100, 101, 104, 105, high_water + 1]);
    assert_eq!(sensor.meta.last_seen_ms, 1_800_000_000_000);
    assert_eq!(new.meta, v5);
    assert_eq!(ids(new), [101, high_water + 1]);
    assert_eq!(*new.messages[1].1.body, new_body);
    assert_eq!(new.messages[0].1.body.topic, "alerts/door");
    assert_eq!(
        loaded.retained,
        vec![
            retained("home/hall/light", b"off", 0),
            retained("home/kitchen/temp", b"21.5", 1),
            new_retained
        ]
    );
    // 100 lost panel's reference but keeps logger's; panel's inline 103 went with it.
    let stats = opened.store.stats().unwrap();
    assert_eq!((stats.sessions, stats.bodies, stats.references), (3, 4, 9));
}

fn put_ref(client: &str, seq: u64, state: DeliveryState) -> Op {
    Op::PutMessage {
        client_id: client.into(),
        seq,
        entry: QueuedRef {
            qos: 1,
            state,
            inline: None,
        },
    }
}

/// A version-2 broker read version-1 sessions and retained messages as they were (same
/// layout) and only rewrote them when they changed: such records are migrated too.
#[test]
fn records_a_version_2_store_kept_from_version_1_are_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(&dir);
    {
        let opts = rocksdb::Options::default();
        let db = rocksdb::DB::open_cf(&opts, &path, CFS).unwrap();
        let old = SessionMetaV2 {
            client_id: "old".into(),
            protocol_level: 4,
            subscriptions: vec![super::super::layouts::SubscriptionRecordV2 {
                filter: "o/#".into(),
                qos: 1,
            }],
            last_seen_ms: 5,
        };
        let cf = db.cf_handle("sessions").unwrap();
        db.put_cf(cf, b"old", as_version(encode(&old), 1)).unwrap();
        let old = RetainedRecordV2 {
            message: StoredMessageV2 {
                topic: "old/r".into(),
                payload: b"1".to_vec(),
                qos: 0,
                retain: true,
            },
        };
        let cf = db.cf_handle("retained").unwrap();
        db.put_cf(cf, b"old/r", as_version(encode(&old), 1))
            .unwrap();
    }
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    assert_all_records_current(&opened);
    let loaded = &opened.loaded;
    assert_eq!(
        loaded.sessions[1].meta,
        meta("old", 4, vec![sub("o/#", 1)], 5)
    );
    assert_eq!(loaded.sessions.len(), 4);
    assert_eq!(loaded.retained[2], retained("old/r", b"1", 0));
}

/// A start on a full disk opens the store read-only, where a migration cannot run: refused,
/// with nothing of it written, and the store migrates whole at the next open for writing.
#[test]
fn a_version_2_store_opened_read_only_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(&dir);
    match super::super::RocksDb::open_read_only(&path) {
        Err(crate::StoreError::Unavailable(why)) => {
            assert!(why.contains("schema version 2"), "{why}")
        }
        Err(e) => panic!("not refused as unavailable: {e}"),
        Ok(_) => panic!("a version-2 store served read-only"),
    }
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    assert_eq!(opened.store.schema_for_test(), SCHEMA_VERSION);
    assert_eq!(opened.loaded.sessions, expected_sessions());
    assert_eq!(opened.loaded.retained, expected_retained());
}

/// A current store opened read-only loads what an open for writing loads and writes nothing;
/// held stopped, its first write on a disk with room closes it and opens it for writing.
#[test]
fn a_store_opened_read_only_loads_everything_and_reopens_for_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = fixture_copy(&dir);
    let migrated = open_rocks(&path, OnCorruption::Fail).unwrap();
    let before = migrated.store.sequence_for_test();
    let contents = migrated.loaded.clone();
    drop(migrated);
    let (db, loaded) = super::super::RocksDb::open_read_only(&path).unwrap();
    assert_eq!(loaded, contents);
    assert_eq!(
        db.sequence_for_test(),
        before,
        "a read-only open writes nothing"
    );
    let gone = Op::DeleteRetained(contents.retained[0].message.topic.clone());
    assert!(db.write(std::slice::from_ref(&gone), true).is_err());
    let store = super::super::RocksStore::stopped(&path, Some(db));
    assert!(store.is_stopped());
    store.write(&[gone], true).unwrap();
    assert!(!store.is_stopped());
    assert_eq!(
        store.load().unwrap().retained.len(),
        contents.retained.len() - 1
    );
}
