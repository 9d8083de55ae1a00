//! What a supervised actor needs to report its restarts, without depending on the supervisor
//! (guardian.rs) that starts it: the supervisor sits above its children, and the children see
//! it only as a [`Recipient`] of [`ChildFailed`].

use crate::metrics::Metrics;
use actix::prelude::*;

/// Where a supervised actor reports its restarts; `None` when it runs unsupervised (tests).
pub type ReportTo = Option<Recipient<ChildFailed>>;

/// A supervised actor restarted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChildFailed {
    pub actor: &'static str,
}

impl ChildFailed {
    /// Count the restart and tell the Guardian (if there is one).
    pub fn report(supervisor: &ReportTo, metrics: &Metrics, actor: &'static str) {
        metrics.count_restart(actor);
        if let Some(g) = supervisor {
            g.do_send(ChildFailed { actor });
        }
    }
}

/// Test-only: make a supervised actor fail (stop itself) so supervision can be exercised.
#[cfg(feature = "fault-injection")]
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct InjectFailure;
