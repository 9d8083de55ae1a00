//! The authorizer behind `[security] acl_file`; without an ACL file it answers as the
//! built-in rules do (everything allowed but writing into `$SYS`).

use super::acl::{Access, Acl};
use arc_swap::ArcSwapOption;
use courtier_actors::auth::{Action, Authorizer, ClientRef, Denial};
use courtier_actors::topic;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The ACL in force, if any; replaced as a whole on reload, and consulted by every check
/// (connected clients included) from then on, as Mosquitto does after a reload.
///
/// `active` says whether there is one: a plain flag checked first, so that without an ACL
/// file (most brokers) every publish and drain costs one atomic load of a flag that never
/// changes, not an `ArcSwap` load with its atomic bookkeeping.
#[derive(Default)]
pub struct AclAuthorizer {
    acl: ArcSwapOption<Acl>,
    active: AtomicBool,
}

impl AclAuthorizer {
    pub fn new(acl: Option<Acl>) -> AclAuthorizer {
        AclAuthorizer {
            active: AtomicBool::new(acl.is_some()),
            acl: ArcSwapOption::from(acl.map(Arc::new)),
        }
    }

    pub fn replace(&self, acl: Option<Acl>) {
        let active = acl.is_some();
        self.acl.store(acl.map(Arc::new));
        self.active.store(active, Ordering::Release);
    }

    pub fn current(&self) -> Option<Arc<Acl>> {
        self.acl.load_full()
    }
}

impl Authorizer for AclAuthorizer {
    fn check(&self, client: ClientRef<'_>, action: Action, topic_name: &str) -> Result<(), Denial> {
        let access = match action {
            // Clients never write into $SYS [MQTT-4.7.2-1], whatever an ACL says.
            Action::Publish { .. } if topic::is_sys_topic(topic_name) => {
                return Err(Denial::SysTopicReadOnly)
            }
            Action::Publish { .. } => Access::Write,
            Action::Subscribe { .. } => Access::Subscribe,
            Action::Receive => Access::Read,
        };
        if !self.active.load(Ordering::Acquire) {
            return Ok(());
        }
        let guard = self.acl.load();
        let Some(acl) = guard.as_deref() else {
            return Ok(());
        };
        match acl.allows(client.client_id, client.username, access, topic_name) {
            true => Ok(()),
            false => Err(Denial::NotAuthorized),
        }
    }

    /// With an ACL file, nothing matching means denied, so every delivery is checked (as
    /// Mosquitto checks read access for each message it sends); without one, never.
    fn checks_receive(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }
}
