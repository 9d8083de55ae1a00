//! SUBSCRIBE and UNSUBSCRIBE from the client: which filters are granted (and, for a 5.0
//! client, why the others are not), the tries and the store updated before the answer, and
//! the retained messages a new subscription receives.

use super::answer::Reply;
use super::sub_log::FilterOutcome;
use super::Session;
use crate::auth::Action;
use crate::close::CloseReason;
use crate::codec::{
    Packet, ProtocolVersion, ReasonCode, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe,
};
use crate::connection::Credit;
use crate::delivery::Delivery;
use crate::message::Message;
use crate::metrics::Denied;
use crate::retain::MatchRetained;
use crate::session::route::RouteError;
use crate::topic;
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

/// Why one filter of a SUBSCRIBE is refused: the one place it becomes a SUBACK code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FilterRefusal {
    /// Not a valid topic filter [MQTT-4.7.1].
    Invalid,
    /// `$share/...` while `shared_subscriptions_available` is false (CONNACK says so).
    SharedUnsupported,
    /// The SUBSCRIBE carried a Subscription Identifier while
    /// `subscription_identifiers_available` is off (CONNACK says so).
    IdentifiersUnsupported,
    /// A filter with `+` or `#` while `wildcard_subscriptions_available` is off.
    WildcardsUnsupported,
    /// The authorizer refused it.
    NotAuthorized,
    /// The session holds `max_subscriptions_per_client` subscriptions already (a filter it
    /// holds is replaced, not refused).
    TooManySubscriptions,
}

impl FilterRefusal {
    /// 3.1.1 has one failure code (0x80); 5.0 names the reason [MQTT-3.9.3].
    fn suback_code(self, protocol: ProtocolVersion) -> ReasonCode {
        if protocol != ProtocolVersion::V5 {
            return ReasonCode::UnspecifiedError;
        }
        match self {
            FilterRefusal::Invalid => ReasonCode::TopicFilterInvalid,
            FilterRefusal::SharedUnsupported => ReasonCode::SharedSubscriptionsNotSupported,
            FilterRefusal::IdentifiersUnsupported => {
                ReasonCode::SubscriptionIdentifiersNotSupported
            }
            FilterRefusal::WildcardsUnsupported => ReasonCode::WildcardSubscriptionsNotSupported,
            FilterRefusal::NotAuthorized => ReasonCode::NotAuthorized,
            FilterRefusal::TooManySubscriptions => ReasonCode::QuotaExceeded,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            FilterRefusal::Invalid => "not a valid topic filter",
            FilterRefusal::SharedUnsupported => "shared subscriptions are disabled",
            FilterRefusal::IdentifiersUnsupported => "subscription identifiers are not available",
            FilterRefusal::WildcardsUnsupported => "wildcard subscriptions are not available",
            FilterRefusal::NotAuthorized => "not authorized",
            FilterRefusal::TooManySubscriptions => "max_subscriptions_per_client reached",
        }
    }
}

/// Whether a subscription receives the retained messages it matches [MQTT-3.3.1-9..11]:
/// Retain Handling 0 always, 1 only when it is new, 2 never (3.x: always).
fn sends_retained(opts: SubscriptionOptions, existed: bool) -> bool {
    match opts.retain_handling {
        0 => true,
        1 => !existed,
        _ => false,
    }
}

impl Session {
    fn check_filter(
        &self,
        filter: &str,
        opts: SubscriptionOptions,
        with_id: bool,
    ) -> Result<(), FilterRefusal> {
        topic::validate_topic_filter(filter)
            .and_then(|_| topic::check_levels(filter, self.deps.cfg.max_topic_levels))
            .map_err(|_| FilterRefusal::Invalid)?;
        let max = self.deps.cfg.max_subscriptions_per_client;
        let subs = &self.state.subscriptions;
        if max > 0 && subs.len() >= max && !subs.contains_key(filter) {
            return Err(FilterRefusal::TooManySubscriptions);
        }
        // A Share Name without wildcards, then '/' and a topic filter [MQTT-4.8.2-1, -2].
        match topic::parse_share(filter) {
            Some(Err(_)) => return Err(FilterRefusal::Invalid),
            Some(Ok(_)) if !self.deps.cfg.shared_subscriptions_available => {
                return Err(FilterRefusal::SharedUnsupported)
            }
            _ => {}
        }
        if with_id && !self.deps.cfg.subscription_identifiers_available {
            return Err(FilterRefusal::IdentifiersUnsupported);
        }
        if !self.deps.cfg.wildcard_subscriptions_available && filter.contains(['+', '#']) {
            return Err(FilterRefusal::WildcardsUnsupported);
        }
        // A shared subscription is authorized as its topic filter: the ACL that lets a client
        // read `jobs/#` lets it share `$share/g/jobs/#`.
        let acl_filter = topic::matching_filter(filter);
        self.authorize(Action::Subscribe { qos: opts.qos }, acl_filter)
            .map_err(|_| FilterRefusal::NotAuthorized)
    }

    /// SUBSCRIBE: each filter granted or refused on its own [MQTT-3.8.4-6]; SUBACK once the
    /// subscriptions are in the tries (and stored), then the retained messages.
    pub(super) fn on_subscribe(
        &mut self,
        s: Subscribe,
        credit: Option<Credit>,
        ctx: &mut Context<Self>,
    ) {
        // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4].
        let shared_no_local = s
            .filters
            .iter()
            .find(|(f, o)| o.no_local && f.starts_with(topic::SHARE_PREFIX));
        if let Some((filter, _)) = shared_no_local {
            let what = format!("No Local set on the shared subscription {:?}", &**filter);
            let reason = CloseReason::Protocol("MQTT-3.8.3-4", what);
            return self.answer(Reply::close(reason));
        }
        let mut codes = Vec::with_capacity(s.filters.len());
        let mut accepted = Vec::new();
        let sub_id = s
            .properties
            .as_ref()
            .and_then(|p| p.subscription_identifier);
        let mut outcomes = self.watching_subscriptions().then(Vec::new);
        // One line per SUBSCRIBE for the filters over the quota, however many there are.
        let mut quota_logged = false;
        for (filter, opts) in s.filters {
            match self.check_filter(&filter, opts, sub_id.is_some()) {
                Ok(()) => {
                    // What Mosquitto's `log_type subscribe` shows, at DEBUG.
                    log::debug!(
                        "client {:?}: subscribed to {:?} qos={}",
                        &*self.client_id,
                        &*filter,
                        opts.qos as u8
                    );
                    if let Some(o) = outcomes.as_mut() {
                        o.push((filter.to_string(), FilterOutcome::Granted(opts.qos as u8)));
                    }
                    codes.push(ReasonCode::granted(opts.qos));
                    self.state.subscription_ids.set(&filter, sub_id);
                    let existed = self
                        .state
                        .subscriptions
                        .insert(filter.clone(), opts)
                        .is_some();
                    // Retained messages go to new Non-shared Subscriptions only (§3.3.1.3, §4.8.2).
                    let shared = filter.starts_with(topic::SHARE_PREFIX);
                    let retained = !shared && sends_retained(opts, existed);
                    accepted.push((filter, opts, retained));
                }
                Err(FilterRefusal::NotAuthorized) => {
                    let why = FilterRefusal::NotAuthorized.describe();
                    self.denied(Denied::Subscribe, "subscribe", &filter, why);
                    let code = FilterRefusal::NotAuthorized.suback_code(self.protocol);
                    if let Some(o) = outcomes.as_mut() {
                        o.push((filter.to_string(), FilterOutcome::Refused(code as u8, why)));
                    }
                    codes.push(code);
                }
                Err(refusal) => {
                    let over_quota = refusal == FilterRefusal::TooManySubscriptions;
                    if !(over_quota && quota_logged) {
                        quota_logged |= over_quota;
                        log::info!(
                            "client {:?} (user {:?}): subscription to {:?} refused: {}",
                            &*self.client_id,
                            self.username(),
                            &*filter,
                            refusal.describe()
                        );
                    }
                    let code = refusal.suback_code(self.protocol);
                    if let Some(o) = outcomes.as_mut() {
                        let refused = FilterOutcome::Refused(code as u8, refusal.describe());
                        o.push((filter.to_string(), refused));
                    }
                    codes.push(code);
                }
            }
        }
        if let Some(o) = outcomes {
            self.log_subscriptions("SUBSCRIBE", s.pkid, &o);
        }
        let router = self.deps.router.clone();
        let me = self.subscriber(ctx);
        let pkid = s.pkid;
        // SUBACK promises the subscription: a persistent session stores it first.
        let stored = self.persist_meta();
        let work = async move {
            let mut accepted = accepted;
            for (filter, opts, _) in &accepted {
                router.subscribe(filter.clone(), me.clone(), *opts).await?;
            }
            accepted.retain(|(_, _, retained)| *retained);
            let filters = accepted.iter().map(|(f, _, _)| f.clone()).collect();
            let retained = router
                .retain_store()
                .send(MatchRetained { filters })
                .await?;
            stored.wait().await.map_err(RouteError::Store)?;
            Ok::<_, RouteError>((accepted, retained))
        };
        let work = work.into_actor(self).map(move |res, act, _ctx| {
            let (accepted, retained) = match res {
                Ok(r) => r,
                Err(e) => return act.subscribe_failed("subscribe", e),
            };
            let suback = Packet::SubAck(SubAck {
                pkid,
                return_codes: codes,
                properties: Default::default(),
            });
            // Retained messages [MQTT-3.3.1-6], once per topic at the highest granted QoS when
            // several filters of this SUBSCRIBE match it.
            let mut best: HashMap<*const Message, Delivery> = HashMap::new();
            for ((_, opts, _), msgs) in accepted.iter().zip(retained) {
                for m in msgs {
                    let qos = m.qos.min(opts.qos);
                    best.entry(Arc::as_ptr(&m))
                        .and_modify(|p| p.qos = p.qos.max(qos))
                        .or_insert_with(|| Delivery::new(m, qos, true, false));
                }
            }
            Reply {
                retained: best.into_values().collect(),
                ..Reply::packet(Some(suback), credit)
            }
        });
        self.answer_later(work, true, ctx);
    }

    /// UNSUBSCRIBE: UNSUBACK even when nothing matched [MQTT-3.10.4-5]; a 5.0 client hears
    /// per filter whether a subscription existed [MQTT-3.11.3-1].
    pub(super) fn on_unsubscribe(
        &mut self,
        u: Unsubscribe,
        credit: Option<Credit>,
        ctx: &mut Context<Self>,
    ) {
        let mut removed = Vec::new();
        let mut codes = Vec::new();
        let v5 = self.protocol == ProtocolVersion::V5;
        let mut outcomes = self.watching_subscriptions().then(Vec::new);
        for filter in u.filters {
            let existed = self.state.subscriptions.remove(&filter).is_some();
            if let Some(o) = outcomes.as_mut() {
                o.push((filter.to_string(), FilterOutcome::Removed(existed)));
            }
            if v5 {
                codes.push(match existed {
                    true => ReasonCode::Success,
                    false => ReasonCode::NoSubscriptionExisted,
                });
            }
            if existed {
                self.state.subscription_ids.remove(&filter);
                removed.push(filter);
            }
        }
        if let Some(o) = outcomes {
            self.log_subscriptions("UNSUBSCRIBE", u.pkid, &o);
        }
        let router = self.deps.router.clone();
        let (client, id, pkid) = (self.client_id.clone(), self.id, u.pkid);
        let stored = self.persist_meta();
        let work = async move {
            for filter in removed {
                router.unsubscribe(filter, client.clone(), id).await?;
            }
            stored.wait().await.map_err(RouteError::Store)
        };
        let work = work.into_actor(self).map(move |res, act, _ctx| {
            if let Err(e) = res {
                return act.subscribe_failed("unsubscribe", e);
            }
            // UNSUBACK even when nothing matched [MQTT-3.10.4-5].
            let unsuback = Packet::UnsubAck(UnsubAck {
                pkid,
                reason_codes: codes,
                properties: Default::default(),
            });
            Reply::packet(Some(unsuback), credit)
        });
        self.answer_later(work, true, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_3_9_3_refused_filters_get_a_named_code_in_5_0_and_0x80_in_3_1_1() {
        use FilterRefusal::*;
        let v5 = ProtocolVersion::V5;
        assert_eq!(Invalid.suback_code(v5), ReasonCode::TopicFilterInvalid);
        assert_eq!(
            SharedUnsupported.suback_code(v5),
            ReasonCode::SharedSubscriptionsNotSupported
        );
        assert_eq!(
            IdentifiersUnsupported.suback_code(v5),
            ReasonCode::SubscriptionIdentifiersNotSupported
        );
        assert_eq!(
            WildcardsUnsupported.suback_code(v5),
            ReasonCode::WildcardSubscriptionsNotSupported
        );
        assert_eq!(NotAuthorized.suback_code(v5), ReasonCode::NotAuthorized);
        assert_eq!(
            TooManySubscriptions.suback_code(v5),
            ReasonCode::QuotaExceeded
        );
        for r in [
            Invalid,
            SharedUnsupported,
            IdentifiersUnsupported,
            WildcardsUnsupported,
            NotAuthorized,
            TooManySubscriptions,
        ] {
            assert_eq!(r.suback_code(ProtocolVersion::V311).code(), 0x80);
        }
    }

    #[test]
    fn mqtt_3_3_1_9_retain_handling_decides_who_gets_retained_messages() {
        let with = |retain_handling| SubscriptionOptions {
            retain_handling,
            ..SubscriptionOptions::default()
        };
        assert!(sends_retained(with(0), false) && sends_retained(with(0), true));
        assert!(sends_retained(with(1), false) && !sends_retained(with(1), true));
        assert!(!sends_retained(with(2), false) && !sends_retained(with(2), true));
    }
}
