//! Conversion between the live session and the store's `SessionRecord`.

use super::queue::Pending;
use super::state::OutState;
use super::{Session, SessionDeps};
use crate::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use crate::message::{ClientId, Message};
use courtier_storage::{SessionRecord, StoredMessage, StoredOutbound, SubscriptionRecord};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

fn stored(p: &Pending) -> StoredMessage {
    StoredMessage {
        topic: p.msg.topic.to_string(),
        payload: p.msg.payload.to_vec(),
        qos: p.qos as u8,
        retain: p.retain,
    }
}

fn pending(m: StoredMessage) -> Pending {
    let qos = QoS::from_u8(m.qos).unwrap_or_default();
    Pending {
        msg: Arc::new(Message::new(
            m.topic.into(),
            m.payload.into(),
            qos,
            m.retain,
        )),
        qos,
        retain: m.retain,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Session {
    pub(super) fn to_record(&self) -> SessionRecord {
        let snap = self.state.snapshot();
        SessionRecord {
            client_id: self.client_id.to_string(),
            protocol_level: self.protocol.level(),
            subscriptions: self
                .state
                .subscriptions
                .iter()
                .map(|(f, o)| SubscriptionRecord {
                    filter: f.to_string(),
                    qos: o.qos as u8,
                })
                .collect(),
            inflight: snap
                .inflight
                .iter()
                .map(|(pkid, i)| StoredOutbound {
                    pkid: *pkid,
                    qos: i.pending.qos as u8,
                    released: i.state == OutState::AwaitPubComp,
                    message: stored(&i.pending),
                })
                .collect(),
            queued: snap.queued.into_iter().map(stored).collect(),
            inbound_qos2: snap.inbound_qos2,
            last_seen_ms: now_ms(),
        }
    }

    /// Persist this (persistent) session's state.
    pub(super) fn save(&self) {
        if let Err(e) = self.deps.store.save_session(&self.to_record()) {
            log::error!("session {:?} not persisted: {e}", &*self.client_id);
        }
    }

    /// Rebuild an offline persistent session from the store.
    pub fn from_record(id: u64, rec: SessionRecord, deps: SessionDeps) -> Session {
        let mut s = Session::new(id, ClientId::from(rec.client_id), deps);
        s.persistent = true;
        s.known = true;
        s.protocol = match rec.protocol_level {
            3 => ProtocolVersion::V31,
            5 => ProtocolVersion::V5,
            _ => ProtocolVersion::V311,
        };
        for sub in rec.subscriptions {
            let opts = SubscriptionOptions {
                qos: QoS::from_u8(sub.qos).unwrap_or_default(),
                ..Default::default()
            };
            s.state.subscriptions.insert(sub.filter.into(), opts);
        }
        for o in rec.inflight {
            s.state
                .restore_inflight(o.pkid, pending(o.message), o.released);
        }
        for m in rec.queued {
            s.state.offer(pending(m), true);
        }
        for id in rec.inbound_qos2 {
            s.state.restore_inbound_qos2(id);
        }
        s
    }
}
