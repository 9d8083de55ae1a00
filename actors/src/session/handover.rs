//! A member of shared subscriptions losing its connection: the messages it got through them
//! and has not acknowledged go to other members of their groups (MQTT 5.0 §4.8.2: SHOULD when
//! its session ends, MAY as soon as the connection is lost; Courtier does it at once, so a
//! work queue keeps moving while a consumer is away). QoS 2 messages in flight stay with it
//! [MQTT-4.8.2-4, -5]. Costs nothing for a session without shared subscriptions.

use super::Session;
use crate::delivery::Delivery;
use crate::topic::{self, SHARE_PREFIX};
use bytestring::ByteString;
use std::sync::atomic::Ordering::Relaxed;

impl Session {
    pub(super) fn hand_over_shared(&mut self) {
        let subs = &self.state.subscriptions;
        if !subs.keys().any(|f| f.starts_with(SHARE_PREFIX)) {
            return;
        }
        let Some(me) = self.me.clone() else { return };
        let mut shared: Vec<(ByteString, String)> = Vec::new();
        let mut plain: Vec<ByteString> = Vec::new();
        for filter in subs.keys() {
            match topic::parse_share(filter) {
                Some(Ok(share)) => shared.push((filter.clone(), share.filter.to_owned())),
                _ => plain.push(filter.clone()),
            }
        }
        let index = self.deps.index.clone();
        // The shared subscription a delivery came through, if another member can take it. A
        // message that a plain subscription of this session matches as well stays: which of
        // its copies came through the group cannot be told apart.
        let group_of = |d: &Delivery| -> Option<&ByteString> {
            let topic = &*d.msg.topic;
            if plain.iter().any(|f| topic::matches(f, topic)) {
                return None;
            }
            shared
                .iter()
                .find(|(full, inner)| {
                    topic::matches(inner, topic) && index.has_other_member(full, &me)
                })
                .map(|(full, _)| full)
        };
        let queued = self.state.queued();
        let taken = self.state.take_unreceived(|d| group_of(d).is_some());
        if taken.is_empty() {
            return;
        }
        let left_queue = queued - self.state.queued();
        let metrics = &self.deps.metrics;
        metrics
            .queued_messages
            .fetch_sub(left_queue as i64, Relaxed);
        let mut moved = Vec::new();
        let mut kept = Vec::new();
        for d in taken {
            match group_of(&d).and_then(|share| index.other_member(share, &me)) {
                Some(to) => {
                    self.deps.router.hand_over(&d.msg, &to);
                    moved.push(d.seq());
                }
                // The other members left meanwhile: it stays here after all.
                None => kept.push(d),
            }
        }
        log::info!(
            "client {:?}: connection lost; {} message(s) of shared subscriptions handed to other members",
            &*self.client_id,
            moved.len()
        );
        self.persist_delete(moved);
        for d in kept {
            self.offer(d);
        }
    }
}
