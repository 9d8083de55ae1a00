//! Migration of a store written by schema version 1, where every session entry held the whole
//! message (`QueuedRecordV1`), to version 2: one `MessageBody` per message and a `QueuedRef`
//! per entry.
//!
//! Version 1 already keyed every entry by the message id (the router used it as the sequence
//! for every subscriber of one publish), so the entries of one message share their sequence:
//! the migration turns each sequence with several entries into one shared body with that id,
//! and keeps the body inline in an entry whose sequence no other entry has, rewriting the
//! entries in place. Sessions, inbound ids and retained messages kept their layout and are
//! left as they are (`encoding::Versioned`). Everything (bodies, entries, the high-water mark
//! and the new schema version) is one atomic, synced batch: a crash during the migration leaves
//! a version-1 store, migrated again at the next start.

use super::*;
use crate::encoding::decode_version;
use serde::{Deserialize, Serialize};

/// A queued message as schema version 1 stored it, once per session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueuedRecordV1 {
    /// `qos` is the delivery QoS, `retain` the flag of the delivery.
    pub message: StoredMessage,
    pub state: DeliveryState,
}

impl RocksStore {
    pub(super) fn migrate_from_v1(&self) -> StoreResult<()> {
        let started = std::time::Instant::now();
        let mut batch = WriteBatch::default();
        let records = self.scan(CF_MESSAGES)?;
        let mut per_seq: HashMap<u64, usize> = HashMap::new();
        for (k, _) in &records {
            *per_seq.entry(parse_message_key(k)?.1).or_default() += 1;
        }
        // The shared body of each sequence seen so far, to check the entries agree on it.
        let mut bodies: HashMap<u64, MessageBody> = HashMap::new();
        let mut entries = 0usize;
        let mut high_water = 0;
        for (k, v) in records {
            let (client, seq) = parse_message_key(&k)?;
            let old: QueuedRecordV1 = decode_version(&v, 1..=1, "queued message (version 1)")?;
            let body = MessageBody {
                topic: old.message.topic,
                payload: old.message.payload,
                retain: old.message.retain,
            };
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
            let entry = QueuedRef {
                qos: old.message.qos,
                state: old.state,
                inline,
            };
            batch.put_cf(self.cf(CF_MESSAGES), &k, encode(&entry));
            high_water = seq.max(high_water);
            entries += 1;
        }
        batch.put_cf(self.cf(CF_META), HIGH_WATER_KEY, high_water.to_le_bytes());
        batch.put_cf(self.cf(CF_META), SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes());
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo).map_err(backend)?;
        // The old entries held a copy of the payload each: compact them away now rather than
        // whenever RocksDB gets to it (a one-off cost at the first start of this version).
        self.db
            .compact_range_cf(self.cf(CF_MESSAGES), None::<&[u8]>, None::<&[u8]>);
        log::info!(
            "store {} migrated from schema version 1 to {SCHEMA_VERSION} in {:?}: {entries} \
             queued messages, {} shared bodies",
            self.path.display(),
            started.elapsed(),
            bodies.len()
        );
        Ok(())
    }
}
