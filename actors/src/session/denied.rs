//! Every refusal of the authorizer made visible the same way: a WARN line with the client id,
//! user name, address, action, topic and reason, and `courtier_auth_denied_total{action}`.
//!
//! The address is known when an ACL is in force (the connection hands it over only then, so
//! that clients of brokers without one carry nothing more); otherwise the line says `addr=-`.

use super::Session;
use crate::metrics::{Denied, Metrics};

impl Session {
    /// This session's client was refused `action` (`what` names it in the log: "publish",
    /// "will", "subscribe", "receive") on `topic` for `why`.
    pub(super) fn denied(&self, action: Denied, what: &str, topic: &str, why: &str) {
        let link = self.link.as_ref();
        let who = Who {
            client_id: &self.client_id,
            username: link.and_then(|l| l.username()),
            peer: link.and_then(|l| l.peer()),
        };
        denied(&self.deps.metrics, who, action, what, topic, why);
    }
}

/// Whom a denial concerns.
pub(super) struct Who<'a> {
    pub client_id: &'a str,
    pub username: Option<&'a str>,
    pub peer: Option<&'a str>,
}

/// Counts and logs one denial.
pub(super) fn denied(
    metrics: &Metrics,
    who: Who<'_>,
    action: Denied,
    what: &str,
    topic: &str,
    why: &str,
) {
    metrics.count_denied(action);
    log::warn!(
        "denied {what}: client_id={:?} username={:?} addr={} topic={:?} reason={why}",
        who.client_id,
        who.username.unwrap_or(""),
        who.peer.unwrap_or("-"),
        topic,
    );
}
