//! Migration of a store written by an older schema version to the current one (3), when it is
//! first opened:
//! - version 1 stored every session entry with the whole message (`QueuedRecordV1`);
//! - version 2 stored one `MessageBody` per message and a `QueuedRef` per entry, and had none
//!   of the MQTT 5.0 fields (session expiry interval, subscription options and identifier,
//!   message properties and expiry).
//!
//! Every record of a changed layout is rewritten in the current one (the old layouts are in
//! `migrate_layouts.rs`), with the new fields at their "absent" values: what they mean for
//! state an MQTT 3.1/3.1.1 broker wrote. Version 3 changed every record that has a value
//! (sessions, bodies, entries, retained messages; inbound ids are keys only), so all of them
//! are rewritten. Rewriting, rather than teaching the loader to decode old layouts, keeps
//! every read one layout and moves the cost to one start.
//!
//! Version 1 already keyed every entry by the message id (the router used it as the sequence
//! for every subscriber of one publish), so the entries of one message share their sequence:
//! the migration turns each sequence with several entries into one shared body with that id,
//! and keeps the body inline in an entry whose sequence no other entry has, rewriting the
//! entries in place.
//!
//! Everything (records, the high-water mark of a version-1 store and the new schema version)
//! is one atomic, synced batch: a crash during the migration leaves the old store, migrated
//! again at the next start. The batch holds the whole store in memory once, which is what a
//! broker restores at start-up anyway.

use super::layouts::{MessageBodyV2, QueuedRecordV1, QueuedRefV2, RetainedRecordV2, SessionMetaV2};
use super::*;
use crate::encoding::decode_version;
use serde::de::DeserializeOwned;
use serde::Serialize;

impl RocksDb {
    /// Rewrite a store of schema version `from` (1 or 2) in the current layouts.
    pub(super) fn migrate(&self, from: u16) -> StoreResult<()> {
        let started = std::time::Instant::now();
        let mut batch = WriteBatch::default();
        // Sessions and retained messages kept their layout from version 1 to 2: a version-2
        // store can hold either header.
        let sessions = self.rewrite::<SessionMetaV2, SessionMeta>(
            &mut batch,
            CF_SESSIONS,
            1..=from,
            "session",
        )?;
        let retained = self.rewrite::<RetainedRecordV2, RetainedRecord>(
            &mut batch,
            CF_RETAINED,
            1..=from,
            "retained message",
        )?;
        let (entries, bodies) = if from == 1 {
            self.messages_from_v1(&mut batch)?
        } else {
            let bodies = self.rewrite::<MessageBodyV2, MessageBody>(
                &mut batch,
                CF_BODIES,
                2..=2,
                "message body",
            )?;
            let entries = self.rewrite::<QueuedRefV2, QueuedRef>(
                &mut batch,
                CF_MESSAGES,
                2..=2,
                "queued message",
            )?;
            (entries, bodies)
        };
        batch.put_cf(self.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes());
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo).map_err(backend)?;
        // Every old value is now garbage (version-1 entries held a copy of the payload each):
        // compact it away now rather than whenever RocksDB gets to it (a one-off cost at the
        // first start of this version).
        for cf in [CF_SESSIONS, CF_BODIES, CF_MESSAGES, CF_RETAINED] {
            self.db
                .compact_range_cf(self.cf(cf), None::<&[u8]>, None::<&[u8]>);
        }
        log::info!(
            "store {} migrated from schema version {from} to {SCHEMA_VERSION} in {:?}: \
             {sessions} sessions, {entries} queued messages, {bodies} shared bodies, {retained} \
             retained messages",
            self.path.display(),
            started.elapsed(),
        );
        Ok(())
    }

    /// Add every record of `cf`, read as `Old` (header version in `accepted`), to the batch as
    /// the `New` record it becomes, under the same key. Returns how many there were.
    fn rewrite<Old, New>(
        &self,
        batch: &mut WriteBatch,
        cf: &str,
        accepted: std::ops::RangeInclusive<u16>,
        what: &str,
    ) -> StoreResult<usize>
    where
        Old: DeserializeOwned + Into<New>,
        New: Serialize,
    {
        let records = self.scan(cf)?;
        for (k, v) in &records {
            let old: Old = decode_version(v, accepted.clone(), what)?;
            batch.put_cf(self.cf(cf), k, encode(&old.into()));
        }
        Ok(records.len())
    }

    /// Turn version-1 entries (a whole message each) into shared bodies and entries; returns
    /// how many entries and shared bodies that made.
    fn messages_from_v1(&self, batch: &mut WriteBatch) -> StoreResult<(usize, usize)> {
        let records = self.scan(CF_MESSAGES)?;
        let mut per_seq: HashMap<u64, usize> = HashMap::new();
        for (k, _) in &records {
            *per_seq.entry(parse_message_key(k)?.1).or_default() += 1;
        }
        // The shared body of each sequence seen so far, to check the entries agree on it.
        let mut bodies: HashMap<u64, MessageBody> = HashMap::new();
        let mut high_water = 0;
        let mut entries = 0;
        for (k, v) in records {
            let (client, seq) = parse_message_key(&k)?;
            let old: QueuedRecordV1 = decode_version(&v, 1..=1, "queued message (version 1)")?;
            let (body, qos, state) = old.into_parts();
            let inline = if per_seq.get(&seq) == Some(&1) {
                Some(body)
            } else {
                match bodies.get(&seq) {
                    Some(known) if *known != body => {
                        // Version 1 never wrote this: one message id, two different messages.
                        return Err(StoreError::Corrupt(format!(
                            "version-1 entry {seq} of {client:?} differs from another entry \
                             with the same message id"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        batch.put_cf(self.cf(CF_BODIES), body_key(seq), encode(&body));
                        bodies.insert(seq, body);
                    }
                }
                None
            };
            let entry = QueuedRef { qos, state, inline };
            batch.put_cf(self.cf(CF_MESSAGES), &k, encode(&entry));
            high_water = seq.max(high_water);
            entries += 1;
        }
        batch.put_cf(self.cf(CF_META), HIGH_WATER_KEY, high_water.to_le_bytes());
        Ok((entries, bodies.len()))
    }
}
