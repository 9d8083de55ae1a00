//! Taking back what a shared subscription sent to a member whose connection broke, so that
//! another member of the group gets it [MQTT-4.8.2-4, -5, §4.8.2].

use super::{OutState, SessionState};
use crate::delivery::Delivery;

impl SessionState {
    /// Takes out the deliveries `came_shared` picks that the client surely has not processed
    /// and that may go to another member: those still queued (never sent), and QoS 1 ones in
    /// flight (a second delivery is within QoS 1's promise). QoS 2 ones in flight stay: their
    /// delivery must complete with this client, or not at all [MQTT-4.8.2-4, -5]. Returned in
    /// the order they were routed.
    pub fn take_unreceived(&mut self, came_shared: impl Fn(&Delivery) -> bool) -> Vec<Delivery> {
        let mut sent = self
            .inflight
            .take_where(|i| i.state == OutState::AwaitPubAck && came_shared(&i.delivery));
        sent.sort_by_key(|i| i.seq);
        let mut taken: Vec<Delivery> = sent
            .into_iter()
            .map(|i| Delivery {
                dup: false,
                pkid: None,
                ..i.delivery
            })
            .collect();
        taken.extend(self.queue.take_where(|d| came_shared(d)));
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Packet, QoS};
    use crate::config::BrokerConfig;
    use crate::message::Message;
    use std::sync::Arc;

    fn delivery(topic: &str, n: u32, qos: QoS) -> Delivery {
        let payload = bytes::Bytes::from(n.to_string());
        let msg = Message::new(topic.into(), payload, qos, false);
        Delivery::new(Arc::new(msg), qos, false, false)
    }

    fn payload(d: &Delivery) -> String {
        String::from_utf8_lossy(&d.msg.payload).into_owned()
    }

    #[test]
    fn mqtt_4_8_2_4_queued_and_qos1_in_flight_leave_qos2_in_flight_stays() {
        let cfg = BrokerConfig {
            max_inflight_messages: 3,
            ..BrokerConfig::default()
        };
        let mut s = SessionState::new(&cfg);
        s.offer(delivery("s", 0, QoS::AtLeastOnce), true);
        s.offer(delivery("s", 1, QoS::ExactlyOnce), true);
        s.offer(delivery("plain", 2, QoS::AtLeastOnce), true);
        s.offer(delivery("s", 3, QoS::ExactlyOnce), true);
        s.offer(delivery("s", 4, QoS::AtMostOnce), true);
        s.offer(delivery("plain", 5, QoS::AtLeastOnce), true);
        for _ in 0..3 {
            assert!(matches!(s.next_packet(), Some(Packet::Publish(_))));
        }
        let taken = s.take_unreceived(|d| &*d.msg.topic == "s");
        assert_eq!(
            taken.iter().map(payload).collect::<Vec<_>>(),
            ["0", "3", "4"],
            "the QoS 1 in flight first, then the queue in order"
        );
        assert!(taken.iter().all(|d| d.pkid.is_none() && !d.dup));
        assert_eq!((s.inflight_len(), s.queued()), (2, 1));
        assert_eq!(s.queued_bytes(), 1, "the queue's byte count follows");
    }
}
