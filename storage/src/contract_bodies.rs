//! The contract for shared message bodies, on every backend: a body is stored once for all the
//! entries that reference it, outlives none of them, survives none of them, and a restart
//! (a new load of the same data) counts the references again and removes what nothing
//! references.

use super::{meta, session};
use crate::records::*;
use crate::{MemoryStore, Store, StoreError};
use std::sync::Arc;

/// What the checks need from a backend beyond `Store`.
trait Backend {
    fn store(&self) -> &dyn Store;
    /// Open the same data again, as a broker restart does (and load it).
    fn restart(&mut self);
    /// Leave a body without references, as a crash of an older broker could.
    fn put_orphan_body(&self, id: u64, body: MessageBody);
}

/// With MQTT 5.0 properties and an expiry, so that restarts bring those back too.
fn body(n: u8) -> MessageBody {
    MessageBody {
        topic: format!("t/{n}"),
        payload: vec![n; 4096],
        retain: false,
        properties: vec![n; 3],
        expires_at_ms: Some(1_700_000_000_000 + u64::from(n)),
    }
}

/// A queue entry referencing the shared body `seq` (also used by refs.rs's tests).
pub(crate) fn put_ref(client: &str, seq: u64) -> Op {
    Op::PutMessage {
        client_id: client.into(),
        seq,
        entry: QueuedRef {
            qos: 1,
            state: DeliveryState::Queued,
            inline: None,
        },
    }
}

pub(crate) fn delete(client: &str, seq: u64) -> Op {
    Op::DeleteMessage {
        client_id: client.into(),
        seq,
    }
}

fn bodies(b: &dyn Backend) -> usize {
    b.store().stats().unwrap().bodies
}

fn check_bodies(b: &mut dyn Backend) {
    one_body_for_three_references(b);
    reference_counts_survive_a_restart(b);
    orphans_are_removed_at_load(b);
    an_inline_entry_is_one_record(b);
    an_entry_without_its_body_is_refused_and_nothing_is_written(b);
}

fn one_body_for_three_references(b: &mut dyn Backend) {
    let s = b.store();
    s.write(
        &[
            Op::PutSession(meta("s1")),
            Op::PutSession(meta("s2")),
            Op::PutSession(meta("s3")),
            Op::PutBody {
                id: 10,
                body: body(1),
            },
            put_ref("s1", 10),
            put_ref("s2", 10),
            put_ref("s3", 10),
        ],
        false,
    )
    .unwrap();
    let stats = s.stats().unwrap();
    assert_eq!((stats.bodies, stats.references), (1, 3));
    let loaded = s.load().unwrap();
    let shared: Vec<&Arc<MessageBody>> = loaded
        .sessions
        .iter()
        .map(|r| &r.messages[0].1.body)
        .collect();
    assert_eq!(shared.len(), 3);
    assert!(shared.iter().all(|b| Arc::ptr_eq(b, shared[0])), "one copy");
    assert_eq!(*shared[0].as_ref(), body(1));

    // Deleting one reference (twice: deletes are idempotent) keeps the body.
    s.write(&[delete("s1", 10)], false).unwrap();
    s.write(&[delete("s1", 10)], false).unwrap();
    assert_eq!(bodies(b), 1);
    assert_eq!(session(s, "s2").unwrap().messages.len(), 1);
    s.write(&[delete("s2", 10)], false).unwrap();
    assert_eq!(bodies(b), 1, "s3 still references it");
    s.write(&[Op::DeleteSession("s3".into())], false).unwrap();
    assert_eq!(bodies(b), 0, "the last reference took the body");
    s.write(
        &[
            Op::DeleteSession("s1".into()),
            Op::DeleteSession("s2".into()),
        ],
        false,
    )
    .unwrap();
}

fn reference_counts_survive_a_restart(b: &mut dyn Backend) {
    let mut ops = vec![
        Op::PutSession(meta("r1")),
        Op::PutSession(meta("r2")),
        Op::PutSession(meta("r3")),
        Op::PutBody {
            id: 20,
            body: body(2),
        },
        Op::PutBody {
            id: 21,
            body: body(3),
        },
    ];
    ops.extend(["r1", "r2", "r3"].map(|c| put_ref(c, 20)));
    ops.push(put_ref("r1", 21));
    b.store().write(&ops, true).unwrap();
    b.restart();
    assert_eq!(bodies(b), 2);
    b.store().write(&[delete("r1", 20)], true).unwrap();
    b.restart();
    b.store().write(&[delete("r2", 20)], true).unwrap();
    assert_eq!(bodies(b), 2, "r3 still references 20 after two restarts");
    b.restart();
    b.store().write(&[delete("r3", 20)], true).unwrap();
    assert_eq!(bodies(b), 1, "20 went with its last reference, 21 stays");
    b.store()
        .write(&[Op::DeleteSession("r1".into())], true)
        .unwrap();
    assert_eq!(bodies(b), 0);
    b.restart();
    assert_eq!(bodies(b), 0);
    // The ids of deleted bodies stay taken.
    assert!(b.store().load().unwrap().body_high_water >= 21);
    b.store()
        .write(
            &[
                Op::DeleteSession("r2".into()),
                Op::DeleteSession("r3".into()),
            ],
            true,
        )
        .unwrap();
}

fn orphans_are_removed_at_load(b: &mut dyn Backend) {
    b.put_orphan_body(30, body(4));
    // An entry of a session that no longer exists (its session was deleted while the
    // message was being routed to it) cannot be delivered: it and its body go at load.
    b.store()
        .write(
            &[
                Op::PutBody {
                    id: 31,
                    body: body(5),
                },
                put_ref("ghost", 31),
            ],
            true,
        )
        .unwrap();
    assert_eq!(bodies(b), 2);
    b.restart();
    let stats = b.store().stats().unwrap();
    assert_eq!((stats.bodies, stats.references), (0, 0));
    assert!(b.store().load().unwrap().body_high_water >= 31);
}

fn an_inline_entry_is_one_record(b: &mut dyn Backend) {
    let inline = |state| Op::PutMessage {
        client_id: "i1".into(),
        seq: 50,
        entry: QueuedRef {
            qos: 2,
            state,
            inline: Some(body(7)),
        },
    };
    b.store()
        .write(
            &[Op::PutSession(meta("i1")), inline(DeliveryState::Queued)],
            true,
        )
        .unwrap();
    let stats = b.store().stats().unwrap();
    assert_eq!((stats.bodies, stats.references), (0, 1));
    let Op::PutMessage { entry, .. } = inline(DeliveryState::Released { pkid: 5 }) else {
        unreachable!()
    };
    let update = Op::UpdateMessage {
        client_id: "i1".into(),
        seq: 50,
        entry,
    };
    b.store().write(&[update], true).unwrap();
    b.restart();
    let i1 = session(b.store(), "i1").expect("session i1");
    assert_eq!(i1.messages.len(), 1);
    let (seq, m) = &i1.messages[0];
    assert_eq!(
        (*seq, m.qos, m.state),
        (50, 2, DeliveryState::Released { pkid: 5 })
    );
    assert_eq!(*m.body, body(7));
    b.store().write(&[delete("i1", 50)], true).unwrap();
    b.restart();
    let stats = b.store().stats().unwrap();
    assert_eq!((stats.bodies, stats.references), (0, 0));
    b.store()
        .write(&[Op::DeleteSession("i1".into())], true)
        .unwrap();
}

fn an_entry_without_its_body_is_refused_and_nothing_is_written(b: &mut dyn Backend) {
    let s = b.store();
    let refused = s.write(&[Op::PutSession(meta("n1")), put_ref("n1", 40)], false);
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert!(
        session(s, "n1").is_none(),
        "nothing of the batch is written"
    );
    // The store goes on working.
    s.write(
        &[
            Op::PutSession(meta("n1")),
            Op::PutBody {
                id: 41,
                body: body(6),
            },
            put_ref("n1", 41),
        ],
        false,
    )
    .unwrap();
    assert_eq!(bodies(b), 1);
    s.write(&[Op::DeleteSession("n1".into())], false).unwrap();
    assert_eq!(bodies(b), 0);
}

struct Memory(MemoryStore);

impl Backend for Memory {
    fn store(&self) -> &dyn Store {
        &self.0
    }
    fn restart(&mut self) {
        // An in-process restart shares the store; the new broker loads it.
        self.0.load().unwrap();
    }
    fn put_orphan_body(&self, id: u64, body: MessageBody) {
        self.0.put_orphan_body_for_test(id, body);
    }
}

#[test]
fn memory_store_stores_a_body_once() {
    check_bodies(&mut Memory(MemoryStore::new()));
}

#[cfg(feature = "rocksdb")]
struct Rocks {
    path: std::path::PathBuf,
    store: Option<Arc<crate::RocksStore>>,
}

#[cfg(feature = "rocksdb")]
impl Backend for Rocks {
    fn store(&self) -> &dyn Store {
        self.store.as_deref().expect("open")
    }
    fn restart(&mut self) {
        self.store = None;
        let opened = crate::open_rocks(&self.path, crate::OnCorruption::Fail).unwrap();
        self.store = Some(opened.store);
    }
    fn put_orphan_body(&self, id: u64, body: MessageBody) {
        self.store
            .as_ref()
            .expect("open")
            .put_orphan_body_for_test(id, body);
    }
}

#[cfg(feature = "rocksdb")]
#[test]
fn rocks_store_stores_a_body_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut rocks = Rocks {
        path: dir.path().join("db"),
        store: None,
    };
    rocks.restart();
    check_bodies(&mut rocks);
}
