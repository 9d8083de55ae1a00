//! Replies leave in the order the packets they answer arrived: PUBACK and PUBREC in the order
//! of the PUBLISH packets [MQTT-4.6.0-2] [MQTT-4.6.0-3], PUBCOMP after the PUBREL it answers,
//! and a PINGRESP or SUBACK after everything received before it is complete. Most replies are
//! ready while the packet is handled; some wait for the store (retained messages, persistent
//! copies, QoS 2 ids) and hold back the ones after them. Pure: the session owns one per
//! connection and decides what "releasing" a reply means.

use std::collections::VecDeque;

/// A place reserved for a reply that is not ready yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

#[derive(Debug)]
pub struct ReplyOrder<T> {
    /// Replies after the oldest one still waiting; `None` = still waiting.
    slots: VecDeque<Option<T>>,
    /// Ticket number of `slots[0]`.
    base: u64,
}

impl<T> Default for ReplyOrder<T> {
    fn default() -> Self {
        ReplyOrder {
            slots: VecDeque::new(),
            base: 0,
        }
    }
}

impl<T> ReplyOrder<T> {
    /// A reply that is ready now: returned to be released at once when nothing waits before
    /// it, otherwise kept until everything before it is released.
    pub fn ready(&mut self, reply: T) -> Option<T> {
        if self.slots.is_empty() {
            return Some(reply);
        }
        self.slots.push_back(Some(reply));
        None
    }

    /// Reserve the next place for a reply that comes later (`fill`).
    pub fn reserve(&mut self) -> Ticket {
        self.slots.push_back(None);
        Ticket(self.base + self.slots.len() as u64 - 1)
    }

    /// Put the reply in its place; returns every reply that may now be released, in order.
    pub fn fill(&mut self, ticket: Ticket, reply: T) -> Vec<T> {
        let Some(slot) = ticket
            .0
            .checked_sub(self.base)
            .and_then(|i| self.slots.get_mut(i as usize))
        else {
            debug_assert!(false, "unknown ticket {ticket:?}");
            return Vec::new();
        };
        *slot = Some(reply);
        let mut out = Vec::new();
        while let Some(Some(_)) = self.slots.front() {
            out.push(self.slots.pop_front().flatten().expect("checked"));
            self.base += 1;
        }
        out
    }

    /// Replies waiting (ready or not).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_replies_pass_straight_through_when_nothing_waits() {
        let mut o = ReplyOrder::default();
        assert_eq!(o.ready(1), Some(1));
        assert_eq!(o.ready(2), Some(2));
        assert!(o.is_empty());
    }

    #[test]
    fn mqtt_4_6_0_2_a_waiting_reply_holds_back_later_ones() {
        let mut o = ReplyOrder::default();
        let t1 = o.reserve();
        assert_eq!(o.ready(2), None);
        let t3 = o.reserve();
        assert_eq!(o.ready(4), None);
        // The third completes first: nothing may leave before the first.
        assert_eq!(o.fill(t3, 3), Vec::<i32>::new());
        assert_eq!(o.fill(t1, 1), vec![1, 2, 3, 4]);
        assert!(o.is_empty());
        assert_eq!(o.ready(5), Some(5));
    }

    #[test]
    fn tickets_stay_valid_as_the_front_moves() {
        let mut o = ReplyOrder::default();
        let a = o.reserve();
        assert_eq!(o.fill(a, 'a'), vec!['a']);
        let b = o.reserve();
        let c = o.reserve();
        assert_eq!(o.fill(c, 'c'), vec![]);
        assert_eq!(o.len(), 2);
        assert_eq!(o.fill(b, 'b'), vec!['b', 'c']);
    }
}
