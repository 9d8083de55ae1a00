//! Turning the planned steps of a write (`refs.rs`) into a RocksDB write batch.

use super::*;

/// A `QueuedRef` encoded from borrowed parts (the same bytes: bincode writes fields in order
/// and `Option<&T>` as `Option<T>`), so an update does not clone the body it writes back.
#[derive(serde::Serialize)]
struct EntryView<'a> {
    qos: u8,
    state: DeliveryState,
    inline: Option<&'a MessageBody>,
}

impl RocksDb {
    /// Add one step to the batch of a write.
    pub(super) fn add_to_batch(&self, batch: &mut WriteBatch, step: Step<'_>) {
        let op = match step {
            Step::Apply(op) => op,
            Step::DeleteBody(id) => return batch.delete_cf(self.cf(CF_BODIES), body_key(id)),
            Step::HighWater(id) => {
                return batch.put_cf(self.cf(CF_META), HIGH_WATER_KEY, id.to_le_bytes())
            }
            Step::Update { op, inline } => {
                if let Op::UpdateMessage {
                    client_id,
                    seq,
                    entry,
                } = op
                {
                    // Rewritten whole, without reading it: with the op's body if the entry
                    // holds its body inline, without any if it references a shared one.
                    let value = EntryView {
                        qos: entry.qos,
                        state: entry.state,
                        inline: entry.inline.as_ref().filter(|_| inline),
                    };
                    batch.put_cf(
                        self.cf(CF_MESSAGES),
                        message_key(client_id, *seq),
                        encode(&value),
                    );
                }
                return;
            }
        };
        match op {
            Op::PutSession(meta) => batch.put_cf(
                self.cf(CF_SESSIONS),
                meta.client_id.as_bytes(),
                encode(meta),
            ),
            Op::DeleteSession(id) => {
                batch.delete_cf(self.cf(CF_SESSIONS), id.as_bytes());
                let (from, to) = client_range(id);
                batch.delete_range_cf(self.cf(CF_MESSAGES), &from, &to);
                batch.delete_range_cf(self.cf(CF_INBOUND), &from, &to);
            }
            Op::PutBody { id, body } => {
                batch.put_cf(self.cf(CF_BODIES), body_key(*id), encode(body))
            }
            Op::PutMessage {
                client_id,
                seq,
                entry,
            } => batch.put_cf(
                self.cf(CF_MESSAGES),
                message_key(client_id, *seq),
                encode(entry),
            ),
            // Only ever planned as `Step::Update`.
            Op::UpdateMessage { .. } => {}
            Op::DeleteMessage { client_id, seq } => {
                batch.delete_cf(self.cf(CF_MESSAGES), message_key(client_id, *seq))
            }
            Op::PutInbound { client_id, pkid } => {
                batch.put_cf(self.cf(CF_INBOUND), inbound_key(client_id, *pkid), [])
            }
            Op::DeleteInbound { client_id, pkid } => {
                batch.delete_cf(self.cf(CF_INBOUND), inbound_key(client_id, *pkid))
            }
            Op::PutRetained(r) => {
                batch.put_cf(self.cf(CF_RETAINED), r.message.topic.as_bytes(), encode(r))
            }
            Op::DeleteRetained(topic) => batch.delete_cf(self.cf(CF_RETAINED), topic.as_bytes()),
        }
    }
}
