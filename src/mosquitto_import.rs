//! Bringing a Mosquitto data folder along: `persistence.import_mosquitto_db` names a
//! mosquitto.db whose retained messages, persistent sessions (with their subscriptions) and
//! queued QoS 1/2 messages are written into Courtier's store when that store is new or empty,
//! once: the import is recorded in the store ([`MARK`]), and the file is only ever read.
//!
//! [`plan`] is the pure part (what the file becomes in store `Op`s, with counts); [`on_open`]
//! runs it at start-up, [`preview`] says what it would do (`--check-config`).

use crate::config::Settings;
use crate::mosquitto_db::{self, MosquittoDb};
use courtier_actors::codec::PublishProperties;
use courtier_actors::topic;
use courtier_storage::{
    DeliveryState, Loaded, MessageBody, Op, QueuedRef, RetainedRecord, RocksStore, SessionMeta,
    Store, StoredMessage, SubscriptionRecord,
};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;

/// The store mark recording that a mosquitto.db was imported (or deliberately not).
pub const MARK: &str = "mosquitto_db_import";

/// A larger file is refused rather than read into memory (a home hub's is kilobytes).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// What an import writes and what it leaves out.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    pub retained: usize,
    pub sessions: usize,
    pub subscriptions: usize,
    /// QoS 1/2 messages queued or in flight to a persistent session.
    pub queued: usize,
    /// Retained or queued messages whose Message Expiry Interval has passed.
    pub expired: usize,
    /// Not carried over: QoS 0 messages queued for offline clients, incoming QoS 2 messages
    /// awaiting PUBREL, entries whose message or session is missing, invalid topics.
    pub skipped: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} retained messages, {} persistent sessions with {} subscriptions, {} queued \
             QoS 1/2 messages ({} expired and {} other entries not carried over)",
            self.retained,
            self.sessions,
            self.subscriptions,
            self.queued,
            self.expired,
            self.skipped
        )
    }
}

pub struct Plan {
    pub ops: Vec<Op>,
    pub counts: Counts,
}

/// The store ops that carry `db` over, at wall-clock time `now_ms`. Queued messages get the
/// sequences 1, 2, ... in Mosquitto's order (in flight first, then queued), for a store that
/// holds nothing yet.
pub fn plan(db: &MosquittoDb, now_ms: u64) -> Plan {
    let mut counts = Counts::default();
    let mut ops = Vec::new();
    let expires_at = |secs: i64| (secs > 0).then(|| (secs as u64).saturating_mul(1000));
    let mut retained: Vec<&u64> = db.retained.iter().collect();
    retained.dedup();
    for id in retained {
        let Some(m) = db.messages.get(id) else {
            counts.skipped += 1;
            continue;
        };
        if topic::validate_topic_name(&m.topic).is_err() || topic::is_sys_topic(&m.topic) {
            counts.skipped += 1;
            continue;
        }
        let expires_at_ms = expires_at(m.expiry_time);
        if expires_at_ms.is_some_and(|at| at <= now_ms) {
            counts.expired += 1;
            continue;
        }
        counts.retained += 1;
        ops.push(Op::PutRetained(RetainedRecord {
            message: StoredMessage {
                topic: m.topic.clone(),
                payload: m.payload.clone(),
                qos: m.qos,
                retain: true,
                properties: properties(&m.properties),
                expires_at_ms,
            },
        }));
    }
    let mut sessions: HashMap<&str, SessionMeta> = HashMap::new();
    let mut order = Vec::new();
    for c in &db.clients {
        if c.id.is_empty() || sessions.contains_key(c.id.as_str()) {
            continue;
        }
        // Mosquitto records u32::MAX for MQTT 3.1.1 sessions too: those expire after
        // persistence.session_expiry_secs (persistent_client_expiration), like Courtier's own.
        let (level, interval) = match c.session_expiry_interval {
            u32::MAX => (4, None),
            secs => (5, Some(secs)),
        };
        // The interval counts from when the client was last seen.
        let last_seen_ms = match (interval, c.session_expiry_time) {
            (Some(secs), at) if at > 0 => (at as u64)
                .saturating_sub(u64::from(secs))
                .saturating_mul(1000),
            _ => now_ms,
        };
        order.push(c.id.as_str());
        sessions.insert(
            &c.id,
            SessionMeta {
                client_id: c.id.clone(),
                protocol_level: level,
                subscriptions: Vec::new(),
                last_seen_ms,
                expiry_interval_secs: interval,
            },
        );
    }
    for s in &db.subs {
        let Some(meta) = sessions.get_mut(s.client_id.as_str()) else {
            counts.skipped += 1;
            continue;
        };
        let shared_ok = topic::parse_share(&s.topic).is_none_or(|r| r.is_ok());
        if topic::validate_topic_filter(&s.topic).is_err() || !shared_ok || s.qos > 2 {
            counts.skipped += 1;
            continue;
        }
        meta.subscriptions.retain(|x| x.filter != s.topic);
        meta.subscriptions.push(SubscriptionRecord {
            filter: s.topic.clone(),
            qos: s.qos,
            options: s.options,
            subscription_id: (s.identifier > 0).then_some(s.identifier),
        });
    }
    for id in &order {
        counts.sessions += 1;
        counts.subscriptions += sessions[id].subscriptions.len();
        ops.push(Op::PutSession(sessions[id].clone()));
    }
    let mut seq = 0;
    for cm in &db.client_msgs {
        let message = db.messages.get(&cm.store_id);
        let (Some(m), true, true) = (
            message,
            sessions.contains_key(cm.client_id.as_str()),
            cm.outgoing,
        ) else {
            counts.skipped += 1;
            continue;
        };
        if cm.qos == 0 || cm.qos > 2 || topic::validate_topic_name(&m.topic).is_err() {
            counts.skipped += 1;
            continue;
        }
        let expires_at_ms = expires_at(m.expiry_time);
        if expires_at_ms.is_some_and(|at| at <= now_ms) {
            counts.expired += 1;
            continue;
        }
        // Mosquitto's states: 5 = PUBLISH (QoS 2) sent, awaiting PUBREC; 6 and 9 = PUBREL
        // to send or sent, awaiting PUBCOMP. Everything else (queued, QoS 1 in flight) is
        // sent again from the start, as Courtier does after a restart.
        let state = match (cm.qos, cm.state) {
            (2, 5) => DeliveryState::Sent { pkid: cm.mid },
            (2, 6 | 9) => DeliveryState::Released { pkid: cm.mid },
            _ => DeliveryState::Queued,
        };
        seq += 1;
        counts.queued += 1;
        ops.push(Op::PutMessage {
            client_id: cm.client_id.clone(),
            seq,
            entry: QueuedRef {
                qos: cm.qos,
                state,
                inline: Some(MessageBody {
                    topic: m.topic.clone(),
                    payload: m.payload.clone(),
                    retain: cm.retain,
                    properties: properties(&m.properties),
                    expires_at_ms,
                }),
            },
        });
    }
    Plan { ops, counts }
}

/// Mosquitto's stored PUBLISH properties as Courtier stores them: the message's own (payload
/// format, content type, response topic, correlation data, user properties); what belongs to
/// one delivery (topic alias, subscription identifiers, the expiry, kept as a time) is
/// dropped, and so are unreadable ones.
fn properties(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return Vec::new();
    }
    match PublishProperties::from_bytes(bytes) {
        Ok(mut p) => {
            p.topic_alias = None;
            p.subscription_identifiers.clear();
            p.message_expiry_interval = None;
            if p == PublishProperties::default() {
                Vec::new()
            } else {
                p.to_bytes().to_vec()
            }
        }
        Err(e) => {
            log::warn!("mosquitto.db: message properties unreadable, dropped: {e}");
            Vec::new()
        }
    }
}

/// Reads and parses the file: `Ok(None)` when it does not exist.
pub fn read(path: &Path) -> io::Result<Option<MosquittoDb>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(error(path, &e.to_string())),
    };
    if meta.len() > MAX_FILE_BYTES {
        let size = format!("{} bytes, more than an import reads", meta.len());
        return Err(error(path, &size));
    }
    let bytes = std::fs::read(path).map_err(|e| error(path, &e.to_string()))?;
    mosquitto_db::parse(&bytes)
        .map(Some)
        .map_err(|e| error(path, &e.to_string()))
}

fn error(path: &Path, what: &str) -> io::Error {
    io::Error::other(format!(
        "cannot import Mosquitto's {}: {what}; move the file elsewhere to start without it, \
         or set persistence.import_mosquitto_db = \"\"",
        path.display()
    ))
}

/// What `--check-config` says about the import: `Ok(None)` when none is configured, an error
/// when the file would stop start-up.
pub fn preview(settings: &Settings) -> io::Result<Option<String>> {
    let path = &settings.persistence.import_mosquitto_db;
    if path.as_os_str().is_empty() || !settings.persistence.enabled {
        return Ok(None);
    }
    Ok(Some(match read(path)? {
        None => format!("{}: not found, nothing to import", path.display()),
        Some(db) => format!(
            "{}: would import {} into {}, if that store is new or empty and has not imported \
             it before",
            path.display(),
            plan(&db, courtier_actors::message::unix_ms()).counts,
            settings.persistence.data_dir.join("store").display()
        ),
    }))
}

/// At start-up, with the store just opened: imports the configured mosquitto.db if the store
/// is empty and has not done so, and returns what the store now holds.
pub fn on_open(settings: &Settings, store: &RocksStore, loaded: Loaded) -> io::Result<Loaded> {
    let path = &settings.persistence.import_mosquitto_db;
    if path.as_os_str().is_empty() {
        return Ok(loaded);
    }
    let store_error = |e: courtier_storage::StoreError| io::Error::other(format!("store: {e}"));
    let marked = match store.mark(MARK) {
        Ok(mark) => mark.is_some(),
        // Started on a full disk without a store: none to read a mark from.
        Err(_) if store.is_stopped() => false,
        Err(e) => return Err(store_error(e)),
    };
    if marked {
        return Ok(loaded);
    }
    let Some(db) = read(path)? else {
        return Ok(loaded);
    };
    let empty = loaded.sessions.is_empty() && loaded.retained.is_empty();
    if store.is_stopped() {
        // Started on a full disk: the store is read-only. A store holding state is marked at a
        // later start; an import into a running broker would miss its sessions.
        if !empty || loaded.body_high_water > 0 {
            return Ok(loaded);
        }
        return Err(io::Error::other(format!(
            "cannot import {} now: the store {} cannot be written (the disk is full) and the \
             import writes to it; free some space on that disk, then start again",
            path.display(),
            store.path().display()
        )));
    }
    if !empty || loaded.body_high_water > 0 {
        log::info!(
            "not importing {}: the store {} already holds state (it is never merged)",
            path.display(),
            store.path().display()
        );
        let note = format!("not imported from {}: the store held state", path.display());
        store.set_mark(MARK, note.as_bytes()).map_err(store_error)?;
        return Ok(loaded);
    }
    let plan = plan(&db, courtier_actors::message::unix_ms());
    store.write(&plan.ops, true).map_err(store_error)?;
    let note = format!("imported from {}: {}", path.display(), plan.counts);
    store.set_mark(MARK, note.as_bytes()).map_err(store_error)?;
    log::info!(
        "imported Mosquitto's {} (left as it was): {}",
        path.display(),
        plan.counts
    );
    store.load().map_err(store_error)
}

#[cfg(test)]
#[path = "mosquitto_import_tests.rs"]
mod tests;
