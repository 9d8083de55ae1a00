//! Named marks in the `meta` column family: one-time events the store must remember with its
//! contents, such as "a mosquitto.db was imported" (so a restart does not import it again,
//! and a store moved aside as corrupt forgets it with everything else).

use super::{backend, RocksDb, RocksStore, CF_META};
use crate::StoreResult;

/// Keys of marks start with this, apart from the store's own meta keys.
const PREFIX: &str = "mark/";

impl RocksStore {
    /// The value of mark `name`, if it was set.
    pub fn mark(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.with(|db| db.mark(name))
    }

    /// Sets mark `name` durably (fsynced before returning).
    pub fn set_mark(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        self.with(|db| db.set_mark(name, value))
    }
}

impl RocksDb {
    fn mark(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let key = format!("{PREFIX}{name}");
        self.db.get_cf(self.cf(CF_META), key).map_err(backend)
    }

    fn set_mark(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        let key = format!("{PREFIX}{name}");
        self.db
            .put_cf_opt(self.cf(CF_META), key, value, &opts)
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use crate::rocks::{open_rocks, OnCorruption};

    #[test]
    fn a_mark_survives_reopening_and_is_not_store_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
        assert_eq!(opened.store.mark("imported").unwrap(), None);
        opened.store.set_mark("imported", b"3 sessions").unwrap();
        drop(opened);
        let opened = open_rocks(&path, OnCorruption::Fail).unwrap();
        assert_eq!(
            opened.store.mark("imported").unwrap().as_deref(),
            Some(&b"3 sessions"[..])
        );
        assert_eq!(opened.loaded, crate::Loaded::default());
    }
}
