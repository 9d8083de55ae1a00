//! In-memory `Store`: a real backend (it is what a broker without persistence uses, and what
//! in-process restart tests share between two broker instances), not a mock. It keeps the same
//! keys as the RocksDB backend and the same body reference counting (`refs.rs`), so both behave
//! alike under the contract tests.

use crate::encoding::{
    client_range, inbound_key, message_key, parse_inbound_key, parse_message_key,
};
use crate::records::*;
use crate::refs::{BodyRefs, Step};
use crate::{Store, StoreResult};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Maps {
    sessions: BTreeMap<String, SessionMeta>,
    bodies: BTreeMap<u64, Arc<MessageBody>>,
    messages: BTreeMap<Vec<u8>, QueuedRef>,
    inbound: BTreeMap<Vec<u8>, ()>,
    retained: BTreeMap<String, RetainedRecord>,
    refs: BodyRefs,
    /// What the RocksDB backend keeps in its `meta` column family.
    high_water: u64,
}

#[derive(Default)]
pub struct MemoryStore {
    maps: Mutex<Maps>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than the panic itself; keep serving.
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A body without references, as a crash of an older broker could leave (contract tests).
    #[cfg(test)]
    pub(crate) fn put_orphan_body_for_test(&self, id: u64, body: MessageBody) {
        self.maps().bodies.insert(id, Arc::new(body));
    }
}

fn remove_range<V>(map: &mut BTreeMap<Vec<u8>, V>, client_id: &str) {
    let (from, to) = client_range(client_id);
    let keys: Vec<Vec<u8>> = map.range(from..to).map(|(k, _)| k.clone()).collect();
    for k in keys {
        map.remove(&k);
    }
}

impl Maps {
    /// Recount references from the maps and drop what nothing can deliver (see `Store::load`).
    fn rebuild_refs(&mut self) -> StoreResult<()> {
        let entries = self
            .messages
            .iter()
            .map(|(k, e)| Ok((parse_message_key(k)?, e.inline.is_some())))
            .collect::<StoreResult<Vec<_>>>()?;
        let (refs, repairs) = BodyRefs::rebuild(
            self.bodies.keys().copied(),
            entries.iter().map(|((c, seq), inline)| {
                (c.as_str(), *seq, self.sessions.contains_key(c), *inline)
            }),
            self.high_water,
        );
        for id in repairs.orphan_bodies {
            self.bodies.remove(&id);
        }
        for (client, seq) in repairs.dead_entries {
            self.messages.remove(&message_key(&client, seq));
        }
        self.high_water = refs.high_water();
        self.refs = refs;
        Ok(())
    }

    fn apply(&mut self, step: Step<'_>) {
        let op = match step {
            Step::Apply(op) => op,
            Step::DeleteBody(id) => {
                self.bodies.remove(&id);
                return;
            }
            Step::HighWater(id) => {
                self.high_water = id;
                return;
            }
            Step::Update { op, .. } => {
                // In place: the entry keeps its inline body, if it has one.
                if let Op::UpdateMessage {
                    client_id,
                    seq,
                    entry,
                } = op
                {
                    if let Some(e) = self.messages.get_mut(&message_key(client_id, *seq)) {
                        e.qos = entry.qos;
                        e.state = entry.state;
                    }
                }
                return;
            }
        };
        match op {
            Op::PutSession(meta) => {
                self.sessions.insert(meta.client_id.clone(), meta.clone());
            }
            Op::DeleteSession(id) => {
                self.sessions.remove(id);
                remove_range(&mut self.messages, id);
                remove_range(&mut self.inbound, id);
            }
            Op::PutBody { id, body } => {
                self.bodies.insert(*id, Arc::new(body.clone()));
            }
            Op::PutMessage {
                client_id,
                seq,
                entry,
            } => {
                self.messages
                    .insert(message_key(client_id, *seq), entry.clone());
            }
            // Only ever planned as `Step::Update`.
            Op::UpdateMessage { .. } => {}
            Op::DeleteMessage { client_id, seq } => {
                self.messages.remove(&message_key(client_id, *seq));
            }
            Op::PutInbound { client_id, pkid } => {
                self.inbound.insert(inbound_key(client_id, *pkid), ());
            }
            Op::DeleteInbound { client_id, pkid } => {
                self.inbound.remove(&inbound_key(client_id, *pkid));
            }
            Op::PutRetained(r) => {
                self.retained.insert(r.message.topic.clone(), r.clone());
            }
            Op::DeleteRetained(topic) => {
                self.retained.remove(topic);
            }
        }
    }
}

impl Store for MemoryStore {
    fn load(&self) -> StoreResult<Loaded> {
        let mut m = self.maps();
        m.rebuild_refs()?;
        let mut sessions = Vec::new();
        for meta in m.sessions.values() {
            let (from, to) = client_range(&meta.client_id);
            let mut messages = Vec::new();
            for (k, r) in m.messages.range(from.clone()..to.clone()) {
                let (_, seq) = parse_message_key(k)?;
                // rebuild_refs removed every entry without a body.
                let body = match &r.inline {
                    Some(inline) => Some(Arc::new(inline.clone())),
                    None => m.bodies.get(&seq).cloned(),
                };
                if let Some(body) = body {
                    let (qos, state) = (r.qos, r.state);
                    messages.push((seq, QueuedMessage { body, qos, state }));
                }
            }
            let inbound_qos2 = m
                .inbound
                .range(from..to)
                .map(|(k, _)| Ok(parse_inbound_key(k)?.1))
                .collect::<StoreResult<Vec<_>>>()?;
            sessions.push(SessionRecord {
                meta: meta.clone(),
                messages,
                inbound_qos2,
            });
        }
        Ok(Loaded {
            sessions,
            retained: m.retained.values().cloned().collect(),
            body_high_water: m.high_water,
        })
    }

    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>> {
        Ok(self.maps().retained.values().cloned().collect())
    }

    fn write(&self, ops: &[Op], _sync: bool) -> StoreResult<()> {
        let mut m = self.maps();
        let steps = match m.refs.plan(ops) {
            Ok(steps) => steps,
            Err(e) => {
                // Nothing was applied; the counts were partly updated: recount.
                m.rebuild_refs()?;
                return Err(e);
            }
        };
        for step in steps {
            m.apply(step);
        }
        Ok(())
    }

    fn sync_wal(&self) -> StoreResult<()> {
        Ok(())
    }

    fn flush(&self) -> StoreResult<()> {
        Ok(())
    }

    fn stats(&self) -> StoreResult<StoreStats> {
        let m = self.maps();
        Ok(StoreStats {
            sessions: m.sessions.len(),
            bodies: m.bodies.len(),
            references: m.messages.len(),
            retained: m.retained.len(),
        })
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn after_panic(&self) {
        if let Err(e) = self.maps().rebuild_refs() {
            log::error!("store: recounting body references failed: {e}");
        }
    }
}
