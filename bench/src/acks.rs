//! A publisher's view of its acknowledgements: how many QoS 1/2 publishes are outstanding, how
//! many completed, and the first refusal of a 5.0 broker.

use crate::wire::{self, PUBACK, PUBCOMP, PUBREC, PUBREL};

#[derive(Default)]
pub struct Acks {
    pub inflight: usize,
    pub acked: u64,
    /// First failure reason code of a 5.0 PUBACK, PUBREC or PUBCOMP (0x80 and above).
    pub refused: Option<u8>,
}

impl Acks {
    /// `V5`: an acknowledgement may carry a reason code; a failure ends the message's flow
    /// unacknowledged (no PUBREL after a failed PUBREC) and fails the run.
    #[inline]
    pub fn on_frame<const V5: bool>(&mut self, f: &wire::Frame<'_>, out: &mut bytes::BytesMut) {
        match f.kind {
            PUBACK | PUBREC | PUBCOMP if V5 && f.ack_reason() >= 0x80 => {
                self.inflight = self.inflight.saturating_sub(1);
                self.refused.get_or_insert(f.ack_reason());
            }
            PUBACK | PUBCOMP => {
                self.inflight = self.inflight.saturating_sub(1);
                self.acked += 1;
            }
            PUBREC => wire::ack(out, PUBREL, f.pkid()),
            _ => {}
        }
    }
}
