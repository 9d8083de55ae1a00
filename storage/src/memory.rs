//! In-memory `Store`: a real backend (it is what a broker without persistence uses, and what
//! in-process restart tests share between two broker instances), not a mock.

use crate::{RetainedRecord, SessionRecord, Store, StoreResult};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    sessions: Mutex<BTreeMap<String, SessionRecord>>,
    retained: Mutex<BTreeMap<String, RetainedRecord>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }
}

impl Store for MemoryStore {
    fn load_sessions(&self) -> StoreResult<Vec<SessionRecord>> {
        Ok(self.sessions.lock().unwrap().values().cloned().collect())
    }
    fn save_session(&self, record: &SessionRecord) -> StoreResult<()> {
        self.sessions
            .lock()
            .unwrap()
            .insert(record.client_id.clone(), record.clone());
        Ok(())
    }
    fn delete_session(&self, client_id: &str) -> StoreResult<()> {
        self.sessions.lock().unwrap().remove(client_id);
        Ok(())
    }
    fn load_retained(&self) -> StoreResult<Vec<RetainedRecord>> {
        Ok(self.retained.lock().unwrap().values().cloned().collect())
    }
    fn put_retained(&self, record: &RetainedRecord) -> StoreResult<()> {
        self.retained
            .lock()
            .unwrap()
            .insert(record.message.topic.clone(), record.clone());
        Ok(())
    }
    fn delete_retained(&self, topic: &str) -> StoreResult<()> {
        self.retained.lock().unwrap().remove(topic);
        Ok(())
    }
    fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StoredMessage, SubscriptionRecord};

    fn msg(topic: &str) -> StoredMessage {
        StoredMessage {
            topic: topic.into(),
            payload: b"x".to_vec(),
            qos: 1,
            retain: true,
        }
    }

    #[test]
    fn retained_put_replace_delete() {
        let s = MemoryStore::new();
        s.put_retained(&RetainedRecord { message: msg("a") })
            .unwrap();
        let mut m = msg("a");
        m.payload = b"y".to_vec();
        s.put_retained(&RetainedRecord { message: m.clone() })
            .unwrap();
        assert_eq!(
            s.load_retained().unwrap(),
            vec![RetainedRecord { message: m }]
        );
        s.delete_retained("a").unwrap();
        assert!(s.load_retained().unwrap().is_empty());
    }

    #[test]
    fn session_save_replace_delete() {
        let s = MemoryStore::new();
        let mut r = SessionRecord {
            client_id: "c1".into(),
            protocol_level: 4,
            subscriptions: vec![SubscriptionRecord {
                filter: "a/#".into(),
                qos: 1,
            }],
            inflight: vec![],
            queued: vec![msg("a/b")],
            inbound_qos2: vec![7],
            last_seen_ms: 1,
        };
        s.save_session(&r).unwrap();
        r.queued.clear();
        s.save_session(&r).unwrap();
        assert_eq!(s.load_sessions().unwrap(), vec![r]);
        s.delete_session("c1").unwrap();
        assert!(s.load_sessions().unwrap().is_empty());
    }
}
