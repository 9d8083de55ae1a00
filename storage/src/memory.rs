//! In-memory `Store`: a real backend (it is what a broker without persistence uses, and what
//! in-process restart tests share between two broker instances), not a mock. It keeps the same
//! keys as the RocksDB backend so both behave alike under the contract tests.

use crate::encoding::{client_range, inbound_key, message_key, split_key};
use crate::records::*;
use crate::{Store, StoreResult};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
struct Maps {
    sessions: BTreeMap<String, SessionMeta>,
    messages: BTreeMap<Vec<u8>, QueuedRecord>,
    inbound: BTreeMap<Vec<u8>, ()>,
    retained: BTreeMap<String, RetainedRecord>,
}

#[derive(Default)]
pub struct MemoryStore {
    maps: Mutex<Maps>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

fn remove_range<V>(map: &mut BTreeMap<Vec<u8>, V>, client_id: &str) {
    let (from, to) = client_range(client_id);
    let keys: Vec<Vec<u8>> = map.range(from..to).map(|(k, _)| k.clone()).collect();
    for k in keys {
        map.remove(&k);
    }
}

impl Store for MemoryStore {
    fn load(&self) -> StoreResult<Loaded> {
        let m = self.maps.lock().unwrap();
        let mut sessions = Vec::new();
        for meta in m.sessions.values() {
            let (from, to) = client_range(&meta.client_id);
            let messages = m
                .messages
                .range(from.clone()..to.clone())
                .map(|(k, v)| {
                    let (_, suffix) = split_key(k)?;
                    Ok((u64::from_be_bytes(suffix.try_into().unwrap()), v.clone()))
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let inbound_qos2 = m
                .inbound
                .range(from..to)
                .map(|(k, _)| {
                    let (_, suffix) = split_key(k)?;
                    Ok(u16::from_be_bytes(suffix.try_into().unwrap()))
                })
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
        })
    }

    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>> {
        Ok(self
            .maps
            .lock()
            .unwrap()
            .retained
            .values()
            .cloned()
            .collect())
    }

    fn write(&self, ops: &[Op], _sync: bool) -> StoreResult<()> {
        let mut m = self.maps.lock().unwrap();
        for op in ops {
            match op {
                Op::PutSession(meta) => {
                    m.sessions.insert(meta.client_id.clone(), meta.clone());
                }
                Op::DeleteSession(id) => {
                    m.sessions.remove(id);
                    remove_range(&mut m.messages, id);
                    remove_range(&mut m.inbound, id);
                }
                Op::PutMessage {
                    client_id,
                    seq,
                    record,
                } => {
                    m.messages
                        .insert(message_key(client_id, *seq), record.clone());
                }
                Op::DeleteMessage { client_id, seq } => {
                    m.messages.remove(&message_key(client_id, *seq));
                }
                Op::PutInbound { client_id, pkid } => {
                    m.inbound.insert(inbound_key(client_id, *pkid), ());
                }
                Op::DeleteInbound { client_id, pkid } => {
                    m.inbound.remove(&inbound_key(client_id, *pkid));
                }
                Op::PutRetained(r) => {
                    m.retained.insert(r.message.topic.clone(), r.clone());
                }
                Op::DeleteRetained(topic) => {
                    m.retained.remove(topic);
                }
            }
        }
        Ok(())
    }

    fn sync_wal(&self) -> StoreResult<()> {
        Ok(())
    }

    fn flush(&self) -> StoreResult<()> {
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}
