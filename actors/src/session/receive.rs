//! The broker's Receive Maximum, inbound (MQTT 5.0 §4.9): how many QoS 1/2 PUBLISHes a 5.0
//! client has sent on this connection that the broker has not acknowledged yet. A client may
//! have at most the Receive Maximum announced in CONNACK [MQTT-3.3.4-7]; one more closes the
//! connection with DISCONNECT 0x93. Pure; the session keeps one per connection.
//!
//! A flow ends when its PUBACK, its PUBCOMP, or a PUBREC with a reason code of 0x80 or more is
//! released to the connection. The count is taken when the session handles a PUBLISH and
//! lowered when the reply is released, both in order of receipt; as the client can only have
//! seen acknowledgements the broker released, the broker's count is never above the client's,
//! so a client that keeps to the limit is never disconnected.

use crate::close::CloseReason;
use crate::codec::Packet;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiveQuota {
    unacked: u16,
}

impl ReceiveQuota {
    /// A QoS 1/2 PUBLISH arrived; `max` is the announced Receive Maximum.
    pub fn on_publish(&mut self, max: u16) -> Result<(), CloseReason> {
        if self.unacked >= max {
            return Err(CloseReason::ReceiveMaximumExceeded(max));
        }
        self.unacked += 1;
        Ok(())
    }

    /// A reply is on its way to the client: an acknowledgement that ends a flow frees a place.
    /// Saturating: a PUBCOMP may end a flow of an earlier connection of the session, which this
    /// one never counted.
    pub fn on_reply(&mut self, p: &Packet) {
        let ends = match p {
            Packet::PubAck(_) | Packet::PubComp(_) => true,
            Packet::PubRec(a) => a.reason.is_error(),
            _ => false,
        };
        if ends {
            self.unacked = self.unacked.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Ack, ReasonCode};

    #[test]
    fn mqtt_3_3_4_7_one_more_than_the_receive_maximum_is_refused() {
        let mut q = ReceiveQuota::default();
        q.on_publish(2).unwrap();
        q.on_publish(2).unwrap();
        let err = q.on_publish(2).unwrap_err();
        assert_eq!(
            err.disconnect_code(),
            Some(ReasonCode::ReceiveMaximumExceeded)
        );
    }

    #[test]
    fn puback_pubcomp_and_an_error_pubrec_free_a_place_a_good_pubrec_does_not() {
        let mut q = ReceiveQuota::default();
        for _ in 0..4 {
            q.on_publish(4).unwrap();
        }
        q.on_reply(&Packet::PubRec(Ack::new(1)));
        assert_eq!(q.unacked, 4, "QoS 2 is in flight until PUBCOMP");
        q.on_reply(&Packet::PubRel(Ack::new(1)));
        q.on_reply(&Packet::PingResp);
        assert_eq!(q.unacked, 4);
        q.on_reply(&Packet::PubComp(Ack::new(1)));
        q.on_reply(&Packet::PubAck(Ack::new(2)));
        let mut refused = Ack::new(3);
        refused.reason = ReasonCode::NotAuthorized;
        q.on_reply(&Packet::PubRec(refused));
        assert_eq!(q.unacked, 1);
        q.on_reply(&Packet::PubComp(Ack::new(9)));
        q.on_reply(&Packet::PubComp(Ack::new(10)));
        assert_eq!(
            q.unacked, 0,
            "a PUBCOMP of an earlier connection's flow saturates"
        );
    }
}
