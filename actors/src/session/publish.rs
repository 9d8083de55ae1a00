//! A PUBLISH from the client: checked, routed in order of receipt, and acknowledged once what
//! the acknowledgement promises is stored. For a 5.0 client the PUBACK or PUBREC says what
//! became of the message (its reason code, decided in [`PublishOutcome`]); a 3.x client
//! gets a plain acknowledgement whatever happened, as it has no way to hear more.

use super::answer::Reply;
use super::route::RouteError;
use super::Session;
use crate::auth::Action;
use crate::close::CloseReason;
use crate::codec::{Ack, Packet, ProtocolVersion, Publish, QoS, ReasonCode};
use crate::connection::Credit;
use crate::message::{unix_ms, Message, MessageId, Via};
use crate::metrics::Denied;
use crate::topic;
use crate::trace;
use actix::prelude::*;
use courtier_storage::Op;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// What became of a PUBLISH, as its acknowledgement tells a 5.0 client: the one place a
/// publish outcome becomes a PUBACK/PUBREC reason code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PublishOutcome {
    Routed {
        subscribers: usize,
    },
    /// The authorizer refused it (or it was written into `$SYS`).
    NotAuthorized,
    /// Payload Format Indicator 1 with a payload that is not UTF-8 [MQTT-3.3.2-4].
    PayloadFormatInvalid,
    /// A QoS 2 packet id still awaiting PUBREL, on a PUBLISH without DUP.
    PacketIdInUse,
    /// A repeat (DUP) of a QoS 2 PUBLISH already received: acknowledged, not routed again.
    Repeat,
    /// The store could not write it (a full disk): 0x97 "quota exceeded", the flow ends
    /// there. Only a 5.0 client hears this; a 3.x client is disconnected unanswered instead.
    NotStored,
}

impl PublishOutcome {
    fn reason_code(self) -> ReasonCode {
        match self {
            PublishOutcome::Routed { subscribers: 0 } => ReasonCode::NoMatchingSubscribers,
            PublishOutcome::Routed { .. } | PublishOutcome::Repeat => ReasonCode::Success,
            PublishOutcome::NotAuthorized => ReasonCode::NotAuthorized,
            PublishOutcome::PayloadFormatInvalid => ReasonCode::PayloadFormatInvalid,
            PublishOutcome::PacketIdInUse => ReasonCode::PacketIdentifierInUse,
            PublishOutcome::NotStored => ReasonCode::QuotaExceeded,
        }
    }
}

/// The PUBACK (QoS 1) or PUBREC (QoS 2) of a PUBLISH with `qos` and `pkid`, for `outcome`;
/// none for QoS 0.
fn acknowledgement(
    qos: QoS,
    pkid: Option<u16>,
    protocol: ProtocolVersion,
    outcome: PublishOutcome,
) -> Option<Packet> {
    let mut ack = Ack::new(pkid?);
    if protocol == ProtocolVersion::V5 {
        ack.reason = outcome.reason_code();
    }
    match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce => Some(Packet::PubAck(ack)),
        QoS::ExactlyOnce => Some(Packet::PubRec(ack)),
    }
}

/// A QoS 2 PUBLISH resent with DUP for a flow that awaits PUBREL: the same flow, which holds
/// its one place of the Receive Maximum until PUBCOMP.
fn is_repeat(p: &Publish, state: &super::state::SessionState) -> bool {
    match (p.qos, p.pkid) {
        (QoS::ExactlyOnce, Some(pkid)) => p.dup && state.awaits_pubrel(pkid),
        _ => false,
    }
}

impl Session {
    /// Route a PUBLISH now (so delivery order is the order of receipt), and acknowledge it
    /// once whatever the acknowledgement promises is stored.
    pub(super) fn on_publish(
        &mut self,
        p: Publish,
        credit: Option<Credit>,
        ctx: &mut Context<Self>,
    ) {
        self.deps.metrics.publish_received.fetch_add(1, Relaxed);
        if let Err(e) = topic::validate_topic_name(&p.topic)
            .and_then(|_| topic::check_levels(&p.topic, self.deps.cfg.max_topic_levels))
        {
            // A PUBLISH topic with wildcards or empty closes the connection [MQTT-3.3.2-2]
            // (5.0: DISCONNECT 0x90), as does one with more than max_topic_levels levels.
            return self.answer(Reply::close(CloseReason::InvalidTopic(e)));
        }
        if p.qos != QoS::AtMostOnce && p.pkid.is_none() {
            return self.answer(Reply::close(CloseReason::Protocol(
                "MQTT-2.3.1-1",
                "PUBLISH with QoS > 0 and no packet id".into(),
            )));
        }
        if p.retain && !self.deps.cfg.retain_available {
            // As Mosquitto: the connection closes (5.0: DISCONNECT 0x9A) [MQTT-3.2.2-14].
            return self.answer(Reply::close(CloseReason::RetainNotSupported));
        }
        let receive_maximum = self.deps.cfg.receive_maximum;
        if p.qos != QoS::AtMostOnce
            && receive_maximum < u16::MAX
            && self.protocol == ProtocolVersion::V5
            && !is_repeat(&p, &self.state)
        {
            if let Some(link) = &mut self.link {
                if let Err(reason) = link.quota.on_publish(receive_maximum) {
                    return self.answer(Reply::close(reason));
                }
            }
        }
        let (qos, pkid, protocol) = (p.qos, p.pkid, self.protocol);
        let answer =
            move |outcome| Reply::packet(acknowledgement(qos, pkid, protocol, outcome), credit);
        let action = Action::Publish {
            qos: p.qos,
            retain: p.retain,
        };
        if let Err(denial) = self.authorize(action, &p.topic) {
            // As Mosquitto does, a denied publish is acknowledged (so a 3.1.1 client does not
            // retry it forever; 5.0 hears 0x87) and not routed; it is logged, counted and
            // traced.
            let why = denial.drop_reason().name();
            self.denied(Denied::Publish, "publish", &p.topic, why);
            let reason = denial.drop_reason();
            self.deps.metrics.count_drop(reason);
            self.deps
                .metrics
                .drop_ledger
                .add(&self.client_id, reason, 1);
            trace::on_denied(&self.deps.cfg, &self.client_id, protocol, &p, reason);
            return self.answer(answer(PublishOutcome::NotAuthorized));
        }
        let props = p.properties.as_deref();
        if props.and_then(|pr| pr.payload_format_indicator) == Some(true)
            && std::str::from_utf8(&p.payload).is_err()
        {
            log::info!(
                "client {:?}: publish to {:?} refused: payload is not the UTF-8 its format indicator says",
                &*self.client_id,
                &*p.topic
            );
            return self.answer(answer(PublishOutcome::PayloadFormatInvalid));
        }
        let mut inbound_id = None;
        if let (QoS::ExactlyOnce, Some(pkid)) = (p.qos, p.pkid) {
            if !self.state.inbound_qos2(pkid) {
                // A repeat of an unreleased QoS 2 id: acknowledge again, never deliver twice.
                // Without DUP it is a new message reusing an id still in use.
                let v5_reuse = protocol == ProtocolVersion::V5 && !p.dup;
                let outcome = match v5_reuse {
                    true => PublishOutcome::PacketIdInUse,
                    false => PublishOutcome::Repeat,
                };

                return self.answer(answer(outcome));
            }
            // Stored before PUBREC, in one write with the message's persistent copies (see
            // `Router::publish_with`), so a repeat after a crash is still recognised.
            inbound_id = self.persistent.then(|| Op::PutInbound {
                client_id: self.client_id.to_string(),
                pkid,
            });
        }
        let expires_at_ms = match props {
            Some(pr) if pr.message_expiry_interval.is_some() => {
                Message::expiry_from(Some(pr), unix_ms())
            }
            _ => None,
        };
        let msg = Arc::new(Message {
            id: MessageId::next(),
            // First, while `p.topic` is still here.
            trace: trace::on_entry(&self.deps.cfg, &self.client_id, &p.topic, self.live_mask())
                .entered(Via::Publish, protocol),
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            properties: p.properties,
            expires_at_ms,
            origin: self.client_id.clone(),
        });
        trace::received(&msg, "publish", Some(protocol));
        let mut routed = self
            .deps
            .router
            .publish_with(&msg, self.me.as_ref(), inbound_id);
        if let Some(own) = routed.local.take() {
            self.offer(own);
        }
        let outcome = PublishOutcome::Routed {
            subscribers: routed.subscribers,
        };
        if routed.is_ready() {
            return self.answer(answer(outcome));
        }
        let work = async move { routed.completion().await };
        let work = work.into_actor(self).map(move |res, act, _ctx| match res {
            Ok(()) => answer(outcome),
            Err(RouteError::Store(e)) => {
                // Not acknowledged (the store's writer logs the failing store once; this is
                // per message). Online subscribers may have it already: routing does not wait.
                log::debug!("client {:?}: publish not stored: {e}", &*act.client_id);
                act.not_stored(qos, pkid, answer)
            }
            Err(e) => {
                // Not acknowledged: the client will resend after reconnecting.
                log::error!(
                    "client {:?}: publish could not be stored: {e}",
                    &*act.client_id
                );
                Reply::close(CloseReason::SessionGone)
            }
        });
        self.answer_later(work, false, ctx);
    }
}

impl Session {
    /// The answer to a PUBLISH whose store write failed. QoS 0 (a retained message) has no
    /// acknowledgement to withhold: it stays retained in memory until a restart, and the
    /// connection goes on. QoS 1/2: a 5.0 client hears 0x97, a 3.x client is disconnected
    /// without PUBACK/PUBREC and sends it again after reconnecting. A QoS 2 id is forgotten
    /// either way, so that the message sent again is routed, not taken for a repeat.
    fn not_stored(
        &mut self,
        qos: QoS,
        pkid: Option<u16>,
        answer: impl FnOnce(PublishOutcome) -> Reply,
    ) -> Reply {
        if let (QoS::ExactlyOnce, Some(pkid)) = (qos, pkid) {
            self.state.on_pubrel(pkid, false);
        }
        match (qos, self.protocol) {
            (QoS::AtMostOnce, _) | (_, ProtocolVersion::V5) => answer(PublishOutcome::NotStored),
            _ => Reply::close(CloseReason::StoreUnavailable),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn publish(qos: QoS) -> Publish {
        Publish {
            dup: false,
            qos,
            retain: false,
            topic: "t".into(),
            pkid: (qos != QoS::AtMostOnce).then_some(9),
            payload: Bytes::new(),
            properties: None,
        }
    }

    fn reason(p: Option<Packet>) -> ReasonCode {
        match p {
            Some(Packet::PubAck(a) | Packet::PubRec(a)) => a.reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mqtt_3_4_2_1_a_5_0_publisher_hears_what_became_of_its_message() {
        let v5 = ProtocolVersion::V5;
        let q1 = publish(QoS::AtLeastOnce);
        let routed = |n| PublishOutcome::Routed { subscribers: n };
        assert_eq!(
            reason(acknowledgement(q1.qos, q1.pkid, v5, routed(0))),
            ReasonCode::NoMatchingSubscribers
        );
        assert_eq!(
            reason(acknowledgement(q1.qos, q1.pkid, v5, routed(3))),
            ReasonCode::Success
        );
        assert_eq!(
            reason(acknowledgement(
                q1.qos,
                q1.pkid,
                v5,
                PublishOutcome::NotAuthorized
            )),
            ReasonCode::NotAuthorized
        );
        // A message the store could not keep (a full disk): 0x97 "quota exceeded".
        assert_eq!(
            reason(acknowledgement(
                q1.qos,
                q1.pkid,
                v5,
                PublishOutcome::NotStored
            )),
            ReasonCode::QuotaExceeded
        );
        let q2 = publish(QoS::ExactlyOnce);
        assert!(matches!(
            acknowledgement(q2.qos, q2.pkid, v5, PublishOutcome::PacketIdInUse),
            Some(Packet::PubRec(Ack {
                reason: ReasonCode::PacketIdentifierInUse,
                ..
            }))
        ));
        assert!(acknowledgement(QoS::AtMostOnce, None, v5, routed(0)).is_none());
    }

    #[test]
    fn a_3_1_1_publisher_gets_a_plain_acknowledgement_whatever_happened() {
        let q1 = publish(QoS::AtLeastOnce);
        for outcome in [
            PublishOutcome::Routed { subscribers: 0 },
            PublishOutcome::NotAuthorized,
            PublishOutcome::PayloadFormatInvalid,
        ] {
            assert_eq!(
                acknowledgement(q1.qos, q1.pkid, ProtocolVersion::V311, outcome),
                Some(Packet::PubAck(Ack::new(9)))
            );
        }
    }
}
