//! RocksDB-specific behaviour: data survives reopening, and damaged stores are handled as the
//! durability contract says (moved aside or refused, never silently wiped, never a panic).

use crate::records::*;
use crate::rocks::{open_rocks, OnCorruption};
use crate::{Store, StoreError};
use std::path::Path;

/// Test hooks: write what a running broker never writes.
impl super::RocksDb {
    pub(crate) fn write_schema_for_test(&self, version: u16) {
        self.db
            .put_cf(
                self.cf(super::CF_META),
                super::SCHEMA_KEY,
                version.to_le_bytes(),
            )
            .unwrap();
    }

    /// Write a raw value (a record of an older layout, an orphan body) for tests.
    pub(crate) fn put_raw_for_test(&self, cf: &str, key: &[u8], value: &[u8]) {
        self.db.put_cf(self.cf(cf), key, value).unwrap();
    }

    pub(crate) fn schema_for_test(&self) -> u16 {
        let v = self
            .db
            .get_cf(self.cf(super::CF_META), super::SCHEMA_KEY)
            .unwrap()
            .unwrap();
        u16::from_le_bytes(v.as_slice().try_into().unwrap())
    }

    /// The sequence number of the last write: unchanged by an open that writes nothing.
    pub(crate) fn sequence_for_test(&self) -> u64 {
        self.db.latest_sequence_number()
    }

    /// Every raw (key, value) of a column family.
    pub(crate) fn raw_for_test(&self, cf: &str) -> Vec<super::KeyValue> {
        self.scan(cf).unwrap()
    }

    pub(crate) fn put_orphan_body_for_test(&self, id: u64, body: crate::MessageBody) {
        self.put_raw_for_test(
            super::CF_BODIES,
            &crate::encoding::body_key(id),
            &crate::encoding::encode(&body),
        );
    }
}

/// The same hooks on the store the tests hold.
impl crate::RocksStore {
    fn db_for_test<R>(&self, f: impl FnOnce(&super::RocksDb) -> R) -> R {
        self.with(|db| Ok(f(db))).unwrap()
    }

    pub(crate) fn write_schema_for_test(&self, version: u16) {
        self.db_for_test(|db| db.write_schema_for_test(version))
    }

    pub(crate) fn put_raw_for_test(&self, cf: &str, key: &[u8], value: &[u8]) {
        self.db_for_test(|db| db.put_raw_for_test(cf, key, value))
    }

    pub(crate) fn schema_for_test(&self) -> u16 {
        self.db_for_test(|db| db.schema_for_test())
    }

    pub(crate) fn sequence_for_test(&self) -> u64 {
        self.db_for_test(|db| db.sequence_for_test())
    }

    pub(crate) fn raw_for_test(&self, cf: &str) -> Vec<super::KeyValue> {
        self.db_for_test(|db| db.raw_for_test(cf))
    }

    pub(crate) fn put_orphan_body_for_test(&self, id: u64, body: crate::MessageBody) {
        self.db_for_test(|db| db.put_orphan_body_for_test(id, body))
    }
}

fn retained(topic: &str) -> Op {
    Op::PutRetained(RetainedRecord {
        message: StoredMessage {
            topic: topic.into(),
            payload: vec![7; 100],
            qos: 1,
            retain: true,
            properties: Vec::new(),
            expires_at_ms: None,
        },
    })
}

/// A store with `n` retained messages, flushed to SST files, then closed.
fn populated(path: &Path, n: usize) {
    let opened = open_rocks(path, OnCorruption::Fail).unwrap();
    let ops: Vec<Op> = (0..n).map(|i| retained(&format!("t/{i}"))).collect();
    opened.store.write(&ops, true).unwrap();
    opened.store.flush().unwrap();
}

fn files_with_ext(path: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect()
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    populated(&path, 100);
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    assert_eq!(opened.loaded.retained.len(), 100);
    assert!(opened.moved_aside.is_none());
}

#[test]
fn unflushed_writes_survive_reopen_through_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
        opened.store.write(&[retained("wal/only")], false).unwrap();
        // Dropped without flush: only the WAL has it.
    }
    let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
    assert_eq!(opened.loaded.retained.len(), 1);
}

fn corrupt_sst(path: &Path) {
    let sst = files_with_ext(path, "sst");
    assert!(!sst.is_empty(), "the test store has SST files");
    for f in sst {
        let mut bytes = std::fs::read(&f).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid.saturating_sub(64)..mid + 64] {
            *b ^= 0x5a;
        }
        std::fs::write(&f, bytes).unwrap();
    }
}

#[test]
fn garbage_in_sst_files_is_moved_aside_and_the_store_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    populated(&path, 2000);
    corrupt_sst(&path);
    let opened = open_rocks(&path, OnCorruption::MoveAside).unwrap();
    let aside = opened.moved_aside.expect("moved aside");
    assert!(aside.to_string_lossy().contains("db.corrupt-"), "{aside:?}");
    assert!(
        aside.join("CURRENT").exists(),
        "the old data is kept, not wiped"
    );
    assert!(opened.loaded.retained.is_empty());
}

#[test]
fn garbage_in_sst_files_with_fail_policy_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    populated(&path, 2000);
    corrupt_sst(&path);
    match open_rocks(&path, OnCorruption::Fail) {
        Err(StoreError::Corrupt(_)) => {}
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("expected an error"),
    }
    assert!(
        path.join("CURRENT").exists(),
        "fail policy leaves the store alone"
    );
}

#[test]
fn missing_sst_file_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    populated(&path, 500);
    for f in files_with_ext(&path, "sst") {
        std::fs::remove_file(f).unwrap();
    }
    let opened = open_rocks(&path, OnCorruption::MoveAside).unwrap();
    assert!(opened.moved_aside.is_some());
}

#[test]
fn missing_current_file_is_corruption_not_a_fresh_start_over_the_remains() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    populated(&path, 10);
    std::fs::remove_file(path.join("CURRENT")).unwrap();
    assert!(matches!(
        open_rocks(&path, OnCorruption::Fail),
        Err(StoreError::Corrupt(_))
    ));
    let opened = open_rocks(&path, OnCorruption::MoveAside).unwrap();
    assert!(opened.moved_aside.is_some());
}

#[test]
fn truncated_wal_tail_loses_only_the_torn_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
        for i in 0..50 {
            opened
                .store
                .write(&[retained(&format!("w/{i}"))], false)
                .unwrap();
        }
    }
    for wal in files_with_ext(&path, "log") {
        let len = std::fs::metadata(&wal).unwrap().len();
        if len > 200 {
            let f = std::fs::OpenOptions::new().write(true).open(&wal).unwrap();
            f.set_len(len - 37).unwrap();
        }
    }
    // With "fail", nothing is recovered or touched: the open is an error.
    let wal = files_with_ext(&path, "log");
    let before: Vec<Vec<u8>> = wal.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(matches!(
        open_rocks(&path, OnCorruption::Fail),
        Err(StoreError::Corrupt(_))
    ));
    let after: Vec<Vec<u8>> = wal.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(before, after, "left as it was");

    let opened =
        open_rocks(&path, OnCorruption::MoveAside).expect("a torn WAL tail is recoverable");
    let n = opened.loaded.retained.len();
    assert!((45..=50).contains(&n), "recovered {n} of 50");
    let damage = opened.wal_damage.expect("the torn tail is reported");
    assert!(opened.moved_aside.is_none(), "the store itself is kept");
    assert_eq!(
        files_with_ext(&damage.copy, "log")
            .iter()
            .map(|f| std::fs::read(f).unwrap())
            .collect::<Vec<_>>(),
        before,
        "a copy of the damaged log beside the store"
    );
    let name = damage.copy.file_name().unwrap().to_string_lossy();
    assert!(name.starts_with("db.wal-corrupt-"), "{name}");
    // Reported once: the next open finds nothing wrong.
    drop(opened.store);
    assert!(open_rocks(&path, OnCorruption::Fail)
        .unwrap()
        .wal_damage
        .is_none());
}

#[test]
fn newer_schema_is_refused_and_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
        // Rewrite the schema record as a future version.
        opened
            .store
            .write_schema_for_test(crate::encoding::SCHEMA_VERSION + 1);
    }
    for policy in [OnCorruption::MoveAside, OnCorruption::Fail] {
        match open_rocks(&path, policy) {
            Err(StoreError::NewerSchema { .. }) => {}
            Err(e) => panic!("expected NewerSchema, got {e}"),
            Ok(_) => panic!("a newer store must not be opened"),
        }
    }
    let siblings = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(siblings, 1, "nothing moved aside");
}
