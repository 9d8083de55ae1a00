//! Reference counting of message bodies, shared by both backends so they agree on when a body
//! goes.
//!
//! The counts live in memory only: they are rebuilt at every load by counting the entries that
//! reference each body ([`BodyRefs::rebuild`]), and the load repairs what a crash or an older
//! broker could have left behind (a body nothing references, an entry whose body or session is
//! gone) in the same pass. While the broker runs, every write goes through [`BodyRefs::plan`]
//! on the single writer thread, which turns the batch's ops into the steps a backend applies
//! atomically, adding a body's delete to the batch that removes its last reference. A body is
//! therefore never deleted while an entry references it (both changes are in one atomic
//! batch), and never outlives its last entry by more than the time to the next load.
//!
//! Besides the counts, the set of body ids each client references is kept (8 bytes per entry):
//! it makes `DeleteMessage` idempotent (a second delete of the same entry, e.g. after its
//! session was deleted, must not release the body twice), lets `DeleteSession` release its
//! bodies without reading the store, and lets `UpdateMessage` skip an entry that is gone.

use crate::records::Op;
use crate::{StoreError, StoreResult};
use foldhash::HashMap;

/// What a backend writes for a batch, in order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// Apply the op as it is.
    Apply(&'a Op),
    /// Apply an `UpdateMessage` to an entry that exists; `inline`: the entry holds its body
    /// (write the op's body back with it), otherwise it references a shared one.
    Update { op: &'a Op, inline: bool },
    /// Delete a body no entry references any more.
    DeleteBody(u64),
    /// Record a new ceiling of the body ids stored (never lowered, so ids are not reused).
    HighWater(u64),
}

/// The recorded ceiling moves in steps of this many ids: a write that stores a body above it
/// records the end of the step holding that id, so the ceiling is written once per ~1M
/// messages rather than in every batch (a key rewritten in every batch slows RocksDB's
/// memtable inserts: each new version of one key lands before the previous one).
const HIGH_WATER_STEP: u64 = 1 << 20;

#[derive(Debug, Default)]
pub(crate) struct BodyRefs {
    /// Every stored body and how many entries reference it.
    counts: HashMap<u64, u32>,
    /// Each client's entries: sequence (= body id) -> whether the body is shared (in
    /// `counts`) rather than inline.
    by_client: HashMap<String, HashMap<u64, bool>>,
    /// No body id stored so far is above this (the recorded ceiling, or the highest id found).
    high_water: u64,
}

/// What a load found wrong, for the backend to delete.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Repairs {
    /// Bodies no entry references (left by a crash between batches of an older broker, or by
    /// the entries below).
    pub orphan_bodies: Vec<u64>,
    /// Entries that cannot be delivered: their session or their body is missing.
    pub dead_entries: Vec<(String, u64)>,
}

impl Repairs {
    pub fn is_empty(&self) -> bool {
        self.orphan_bodies.is_empty() && self.dead_entries.is_empty()
    }
}

impl BodyRefs {
    /// Count references from what a load read: the stored body ids, every entry as
    /// (client id, sequence, whether its session exists, whether its body is inline), and the
    /// recorded ceiling of body ids.
    pub fn rebuild<'a>(
        bodies: impl IntoIterator<Item = u64>,
        entries: impl IntoIterator<Item = (&'a str, u64, bool, bool)>,
        high_water: u64,
    ) -> (BodyRefs, Repairs) {
        let mut refs = BodyRefs {
            high_water,
            ..BodyRefs::default()
        };
        for id in bodies {
            refs.counts.insert(id, 0);
            refs.high_water = refs.high_water.max(id);
        }
        let mut repairs = Repairs::default();
        for (client, seq, session_exists, inline) in entries {
            refs.high_water = refs.high_water.max(seq);
            let shared = refs.counts.get_mut(&seq).filter(|_| !inline);
            if !session_exists || (!inline && shared.is_none()) {
                repairs.dead_entries.push((client.to_owned(), seq));
                continue;
            }
            if let Some(count) = shared {
                *count += 1;
            }
            refs.by_client
                .entry(client.to_owned())
                .or_default()
                .insert(seq, !inline);
        }
        refs.counts.retain(|id, count| {
            if *count == 0 {
                repairs.orphan_bodies.push(*id);
            }
            *count > 0
        });
        repairs.orphan_bodies.sort_unstable();
        (refs, repairs)
    }

    pub fn high_water(&self) -> u64 {
        self.high_water
    }

    /// The steps that apply `ops`, updating the counts as if they were applied. On an error
    /// nothing may be written and the counts are stale: the backend rebuilds them from what it
    /// holds (it does the same when its write fails).
    pub fn plan<'a>(&mut self, ops: &'a [Op]) -> StoreResult<Vec<Step<'a>>> {
        let mut steps = Vec::with_capacity(ops.len() + 1);
        let mut fresh = Vec::new();
        let mut high_water = self.high_water;
        for op in ops {
            match op {
                Op::PutBody { id, .. } => {
                    self.counts.entry(*id).or_insert(0);
                    fresh.push(*id);
                    high_water = high_water.max(*id);
                    steps.push(Step::Apply(op));
                }
                Op::PutMessage {
                    client_id,
                    seq,
                    entry,
                } => {
                    let shared = entry.inline.is_none();
                    if shared && !self.counts.contains_key(seq) {
                        return Err(StoreError::Invalid(format!(
                            "entry {seq} of {client_id:?} references a body that is not stored"
                        )));
                    }
                    // Looked up before inserting: the common case (a session with entries
                    // already) clones no client id.
                    if !self.by_client.contains_key(client_id) {
                        self.by_client.insert(client_id.clone(), HashMap::default());
                    }
                    let entries = self.by_client.get_mut(client_id);
                    let Some(entries) = entries.filter(|e| !e.contains_key(seq)) else {
                        continue; // exists: nothing changes
                    };
                    entries.insert(*seq, shared);
                    if let Some(count) = self.counts.get_mut(seq).filter(|_| shared) {
                        *count += 1;
                    }
                    high_water = high_water.max(*seq);
                    steps.push(Step::Apply(op));
                }
                Op::UpdateMessage {
                    client_id,
                    seq,
                    entry,
                } => match self.by_client.get(client_id).and_then(|e| e.get(seq)) {
                    // Without its body an inline entry cannot be rewritten (the store does not
                    // read it back); losing QoS 2 progress only costs a resend with DUP.
                    Some(false) if entry.inline.is_none() => {
                        log::warn!("store: update of entry {seq} of {client_id:?} without its body ignored");
                    }
                    Some(shared) => steps.push(Step::Update {
                        op,
                        inline: !*shared,
                    }),
                    None => {}
                },
                Op::DeleteMessage { client_id, seq } => {
                    steps.push(Step::Apply(op));
                    // An emptied map stays (an online persistent session empties and refills
                    // its queue all the time), but gives back the room of a drained backlog.
                    let removed = match self.by_client.get_mut(client_id) {
                        Some(entries) => {
                            let removed = entries.remove(seq);
                            if entries.is_empty() && entries.capacity() > 1024 {
                                *entries = HashMap::default();
                            }
                            removed
                        }
                        None => None,
                    };
                    if removed == Some(true) {
                        self.release(*seq, &mut steps);
                    }
                }
                Op::DeleteSession(client_id) => {
                    steps.push(Step::Apply(op));
                    if let Some(entries) = self.by_client.remove(client_id) {
                        let shared = entries.into_iter().filter(|(_, shared)| *shared);
                        let mut seqs: Vec<u64> = shared.map(|(seq, _)| seq).collect();
                        seqs.sort_unstable();
                        for seq in seqs {
                            self.release(seq, &mut steps);
                        }
                    }
                }
                _ => steps.push(Step::Apply(op)),
            }
        }
        // A body put in this batch that nothing references (any more) is not kept.
        for id in fresh {
            if self.counts.get(&id) == Some(&0) {
                self.counts.remove(&id);
                steps.push(Step::DeleteBody(id));
            }
        }
        if high_water > self.high_water {
            self.high_water = high_water | (HIGH_WATER_STEP - 1);
            steps.push(Step::HighWater(self.high_water));
        }
        Ok(steps)
    }

    fn release(&mut self, seq: u64, steps: &mut Vec<Step<'_>>) {
        if let Some(count) = self.counts.get_mut(&seq) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.counts.remove(&seq);
                steps.push(Step::DeleteBody(seq));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::bodies::{delete, put_ref as entry};
    use crate::records::{DeliveryState, MessageBody, QueuedRef};

    fn body(id: u64) -> Op {
        Op::PutBody {
            id,
            body: MessageBody {
                topic: "t".into(),
                payload: vec![1],
                retain: false,
                properties: Vec::new(),
                expires_at_ms: None,
            },
        }
    }

    fn deleted_bodies(steps: &[Step]) -> Vec<u64> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::DeleteBody(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_last_reference_takes_the_body_with_it_and_deletes_are_idempotent() {
        let mut r = BodyRefs::default();
        let ops = [body(5), entry("a", 5), entry("b", 5)];
        let steps = r.plan(&ops).unwrap();
        assert_eq!(steps.last(), Some(&Step::HighWater(HIGH_WATER_STEP - 1)));
        let more = [body(6), entry("a", 6)];
        let steps = r.plan(&more).unwrap();
        assert!(
            !steps.iter().any(|s| matches!(s, Step::HighWater(_))),
            "below the ceiling"
        );
        assert!(deleted_bodies(&r.plan(&[delete("a", 6)]).unwrap()) == vec![6]);
        let twice = [delete("a", 5), delete("a", 5)];
        assert!(deleted_bodies(&r.plan(&twice).unwrap()).is_empty());
        assert_eq!(
            deleted_bodies(&r.plan(&[Op::DeleteSession("b".into())]).unwrap()),
            vec![5]
        );
        // Gone: a late update does not revive the entry, a new one is refused.
        assert!(r
            .plan(&[Op::UpdateMessage {
                client_id: "a".into(),
                seq: 5,
                entry: QueuedRef {
                    qos: 1,
                    state: DeliveryState::Sent { pkid: 1 },
                    inline: None,
                },
            }])
            .unwrap()
            .is_empty());
        assert!(matches!(
            r.plan(&[entry("c", 5)]),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn a_body_without_references_at_the_end_of_its_batch_is_not_kept() {
        let mut r = BodyRefs::default();
        let ops = [body(1), entry("a", 1), delete("a", 1), body(2)];
        let mut deleted = deleted_bodies(&r.plan(&ops).unwrap());
        deleted.sort_unstable();
        assert_eq!(deleted, vec![1, 2]);
        assert_eq!(r.high_water(), HIGH_WATER_STEP - 1);
    }

    #[test]
    fn rebuild_counts_references_and_finds_what_to_repair() {
        let entries = [
            ("a", 1, true, false),
            ("b", 1, true, false),
            ("gone", 2, false, false),
            ("a", 9, true, false),
            ("b", 8, true, true),
        ];
        let (mut r, repairs) = BodyRefs::rebuild([1, 2, 3], entries, 7);
        assert_eq!(repairs.orphan_bodies, vec![2, 3]);
        assert_eq!(
            repairs.dead_entries,
            vec![("gone".to_string(), 2), ("a".to_string(), 9)]
        );
        assert_eq!(r.high_water(), 9, "entry ids count too");
        assert!(deleted_bodies(&r.plan(&[delete("a", 1)]).unwrap()).is_empty());
        assert_eq!(deleted_bodies(&r.plan(&[delete("b", 1)]).unwrap()), vec![1]);
        // b's inline entry 8 is known: updated in place, deleted without a body.
        let update = Op::UpdateMessage {
            client_id: "b".into(),
            seq: 8,
            entry: QueuedRef {
                qos: 2,
                state: DeliveryState::Sent { pkid: 1 },
                inline: Some(MessageBody {
                    topic: "t".into(),
                    payload: vec![],
                    retain: false,
                    properties: Vec::new(),
                    expires_at_ms: None,
                }),
            },
        };
        let steps = r.plan(std::slice::from_ref(&update)).unwrap();
        assert_eq!(
            steps,
            vec![Step::Update {
                op: &update,
                inline: true
            }]
        );
        assert!(deleted_bodies(&r.plan(&[delete("b", 8)]).unwrap()).is_empty());
    }

    #[test]
    fn an_inline_entry_needs_no_stored_body_and_releases_none() {
        let mut r = BodyRefs::default();
        let mut put = entry("a", 4);
        if let Op::PutMessage { entry, .. } = &mut put {
            entry.inline = Some(MessageBody {
                topic: "t".into(),
                payload: vec![],
                retain: false,
                properties: Vec::new(),
                expires_at_ms: None,
            });
        }
        let twice = [put.clone(), put];
        let steps = r.plan(&twice).unwrap();
        assert_eq!(
            steps.len(),
            2,
            "put once (the second is a no-op), then the ceiling"
        );
        assert!(deleted_bodies(&r.plan(&[delete("a", 4)]).unwrap()).is_empty());
    }
}
