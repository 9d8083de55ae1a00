//! Loading a `RocksStore`: every session with its queue (entries joined with their shared
//! bodies), the reference counts rebuilt on the way, and the repair of whatever nothing can
//! deliver any more (see `refs.rs`).

use super::*;

impl RocksDb {
    fn high_water(&self) -> StoreResult<u64> {
        match self
            .db
            .get_cf(self.cf(CF_META), HIGH_WATER_KEY)
            .map_err(backend)?
        {
            None => Ok(0),
            Some(v) => Ok(u64::from_le_bytes(v.as_slice().try_into().map_err(
                |_| StoreError::Corrupt("body high-water record is malformed".into()),
            )?)),
        }
    }

    /// Delete what a load found undeliverable (see `refs.rs`), in one batch.
    fn repair(&self, repairs: &Repairs) -> StoreResult<()> {
        if repairs.is_empty() {
            return Ok(());
        }
        if self.read_only {
            // The reopen for writing loads again and repairs then; what is undeliverable is
            // left out of what this load returns either way.
            log::info!(
                "store: {} unreferenced message bodies and {} dead queue entries are removed \
                 once the store can be written",
                repairs.orphan_bodies.len(),
                repairs.dead_entries.len()
            );
            return Ok(());
        }
        log::warn!(
            "store: removing {} message bodies that no session references and {} queue \
             entries whose session or body is missing",
            repairs.orphan_bodies.len(),
            repairs.dead_entries.len()
        );
        let mut batch = WriteBatch::default();
        for id in &repairs.orphan_bodies {
            batch.delete_cf(self.cf(CF_BODIES), body_key(*id));
        }
        for (client, seq) in &repairs.dead_entries {
            batch.delete_cf(self.cf(CF_MESSAGES), message_key(client, *seq));
        }
        self.db.write(batch).map_err(backend)
    }

    /// Recount after a write that failed or was refused (nothing of it was written).
    pub(super) fn recount(&self, refs: &mut BodyRefs) {
        if let Err(e) = self.load_locked(refs) {
            log::error!("store: recounting body references failed: {e}");
        }
    }

    /// `load` with the counts already locked.
    pub(super) fn load_locked(&self, refs: &mut BodyRefs) -> StoreResult<Loaded> {
        let mut sessions: Vec<SessionRecord> = Vec::new();
        let mut index = HashMap::new();
        for (_, v) in self.scan(CF_SESSIONS)? {
            let meta: SessionMeta = decode(&v, "session")?;
            index.insert(meta.client_id.clone(), sessions.len());
            sessions.push(SessionRecord {
                meta,
                messages: Vec::new(),
                inbound_qos2: Vec::new(),
            });
        }
        let mut bodies = HashMap::new();
        for (k, v) in self.scan(CF_BODIES)? {
            let body: MessageBody = decode(&v, "message body")?;
            bodies.insert(parse_body_key(&k)?, Arc::new(body));
        }
        let mut entries = Vec::new();
        for (k, v) in self.scan(CF_MESSAGES)? {
            let (client, seq) = parse_message_key(&k)?;
            let entry: QueuedRef = decode(&v, "queued message")?;
            entries.push((client, seq, entry));
        }
        let (counted, repairs) = BodyRefs::rebuild(
            bodies.keys().copied(),
            entries
                .iter()
                .map(|(c, seq, e): &(String, u64, QueuedRef)| {
                    (c.as_str(), *seq, index.contains_key(c), e.inline.is_some())
                }),
            self.high_water()?,
        );
        // The entries `rebuild` counted: those with both a session and a body.
        for (client, seq, entry) in entries {
            let Some(&i) = index.get(&client) else {
                continue;
            };
            let body = match entry.inline {
                Some(inline) => Arc::new(inline),
                None => match bodies.get(&seq) {
                    Some(body) => body.clone(),
                    None => continue,
                },
            };
            let (qos, state) = (entry.qos, entry.state);
            sessions[i]
                .messages
                .push((seq, QueuedMessage { body, qos, state }));
        }
        for (k, _) in self.scan(CF_INBOUND)? {
            let (client, pkid) = parse_inbound_key(&k)?;
            if let Some(&i) = index.get(&client) {
                sessions[i].inbound_qos2.push(pkid);
            }
        }
        self.repair(&repairs)?;
        *refs = counted;
        Ok(Loaded {
            sessions,
            retained: self.load_retained()?,
            body_high_water: refs.high_water(),
        })
    }
}
