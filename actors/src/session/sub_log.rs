//! What a client subscribed to and unsubscribed from, for the people reading the log (DEBUG)
//! and the runtime traces selecting the client: one line per SUBSCRIBE or UNSUBSCRIBE with
//! each filter and its granted QoS or refusal code, one trace record per filter.

use super::Session;
use crate::trace_hops;
use crate::trace_live::{Detail, Outcome, Reason, Record, RecordedBy};

/// One filter of a SUBSCRIBE (granted QoS, or refused with a SUBACK code and why) or of an
/// UNSUBSCRIBE (whether a subscription existed).
pub(super) enum FilterOutcome {
    Granted(u8),
    Refused(u8, &'static str),
    Removed(bool),
}

impl Session {
    /// Whether anyone reads the outcomes (DEBUG on, or a runtime trace running): only then are
    /// they collected.
    pub(super) fn watching_subscriptions(&self) -> bool {
        log::log_enabled!(log::Level::Debug) || self.deps.cfg.live.mask() != 0
    }

    /// Log (DEBUG) and trace `packet` ("SUBSCRIBE" or "UNSUBSCRIBE") with its filters' outcomes.
    #[cold]
    #[inline(never)]
    pub(super) fn log_subscriptions(
        &self,
        packet: &'static str,
        pkid: u16,
        outcomes: &[(String, FilterOutcome)],
    ) {
        let described: Vec<String> = outcomes
            .iter()
            .map(|(f, o)| match o {
                FilterOutcome::Granted(q) => format!("{f:?} granted qos={q}"),
                FilterOutcome::Refused(code, why) => format!("{f:?} refused 0x{code:02x} ({why})"),
                FilterOutcome::Removed(true) => format!("{f:?} removed"),
                FilterOutcome::Removed(false) => format!("{f:?} no subscription existed"),
            })
            .collect();
        log::debug!(
            "client {:?} (user {:?}): {packet} pkid={pkid}: {}",
            &*self.client_id,
            self.username().unwrap_or(""),
            described.join(", ")
        );
        let hop = match packet {
            "SUBSCRIBE" => "subscribe",
            _ => "unsubscribe",
        };
        for (filter, o) in outcomes {
            trace_hops::event(
                &self.deps.cfg,
                &self.client_id,
                hop,
                RecordedBy::Session,
                |r| {
                    let mut r = Record {
                        topic: Some(filter.as_str().into()),
                        detail: Some(Detail::Pkid(pkid)),
                        ..r
                    };
                    match o {
                        FilterOutcome::Granted(q) => r.qos = Some(*q),
                        FilterOutcome::Refused(code, why) => {
                            r.reason = Some(Box::new(Reason::Text(format!("0x{code:02x} {why}"))));
                            r.outcome = Some(Outcome::Denied);
                        }
                        FilterOutcome::Removed(false) => {
                            r.reason =
                                Some(Box::new(Reason::Text("no subscription existed".into())))
                        }
                        FilterOutcome::Removed(true) => {}
                    }
                    r
                },
            );
        }
    }
}
