//! Whether a queued message can still go to this client when its turn comes: the checks the
//! state machine (state.rs) makes before a delivery takes a packet id and a place in the
//! window.

use super::sub_ids::SubscriptionIds;
use crate::codec::QoS;
use crate::delivery::Delivery;
use crate::metrics::DropReason;

/// May this message be delivered to this client (None: no check needed)?
pub type Readable<'a> = Option<&'a dyn Fn(&Delivery) -> bool>;

/// Why a queued message can no longer go to this client, if it cannot: the authorizer does
/// not let it read it, its expiry passed, or it is larger than the client accepts (sized with
/// a packet id when it would take one, with the expiry property and with the Subscription
/// Identifiers it would carry).
pub(super) fn undeliverable(
    p: &Delivery,
    max: Option<u32>,
    readable: Readable,
    ids: &SubscriptionIds,
) -> Option<DropReason> {
    if readable.is_some_and(|may| !may(p)) {
        return Some(DropReason::NotAuthorized);
    }
    if p.msg.expires_at_ms.is_some() && p.msg.is_expired(crate::message::unix_ms()) {
        return Some(DropReason::Expired);
    }
    let max = max?;
    let pkid = (p.qos != QoS::AtMostOnce).then_some(1);
    let mut publish = p.msg.as_publish(pkid, p.qos, false, p.retain);
    let matching = ids.matching(&p.msg.topic);
    publish.subscription_identifiers = matching.as_deref().unwrap_or(&[]);
    let len = crate::codec::publish_encoded_len(&publish, crate::codec::ProtocolVersion::V5);
    (len > max as usize).then_some(DropReason::PacketTooLarge)
}
