//! The authorizer behind `[security] acl_file`; without an ACL file it answers as the
//! built-in rules do (everything allowed but writing into `$SYS`).

use super::acl::{Access, Acl};
use arc_swap::ArcSwapOption;
use courtier_actors::auth::{Action, Authorizer, ClientRef, Denial};
use courtier_actors::topic;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The ACL in force, if any; replaced as a whole on reload, and consulted by every check
/// (connected clients included) from then on, as Mosquitto does after a reload.
///
/// `active` says whether there is one: a plain flag checked first, so that without an ACL
/// file (most brokers) every publish and drain costs one atomic load of a flag that never
/// changes, not an `ArcSwap` load with its atomic bookkeeping.
///
/// With one, each thread keeps the ACL it last used with its `generation` ([`LOCAL`]): a
/// check then costs a plain load of the generation instead of an `ArcSwap` load (two atomic
/// read-modify-writes), and a reload is seen at the next check of every thread.
#[derive(Default)]
pub struct AclAuthorizer {
    acl: ArcSwapOption<Acl>,
    active: AtomicBool,
    /// Unique among all authorizers of the process ([`NEXT_GENERATION`]), new on each replace.
    generation: AtomicU64,
}

/// Generations are unique in the process, so that a thread's cached ACL is never taken for
/// another authorizer's (tests run several brokers in one process).
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The ACL this thread used last, with its generation.
    static LOCAL: RefCell<(u64, Option<Arc<Acl>>)> = const { RefCell::new((0, None)) };
}

impl AclAuthorizer {
    pub fn new(acl: Option<Acl>) -> AclAuthorizer {
        AclAuthorizer {
            active: AtomicBool::new(acl.is_some()),
            acl: ArcSwapOption::from(acl.map(Arc::new)),
            generation: AtomicU64::new(NEXT_GENERATION.fetch_add(1, Ordering::Relaxed)),
        }
    }

    pub fn replace(&self, acl: Option<Acl>) {
        let active = acl.is_some();
        self.acl.store(acl.map(Arc::new));
        // After the store: a thread that sees the new generation loads the new ACL.
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        self.generation.store(generation, Ordering::Release);
        self.active.store(active, Ordering::Release);
    }

    pub fn current(&self) -> Option<Arc<Acl>> {
        self.acl.load_full()
    }

    /// `f` with the ACL in force (or `None`), from this thread's cache when it is current.
    fn with_acl<R>(&self, f: impl FnOnce(Option<&Acl>) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
            if local.0 != generation {
                *local = (generation, self.acl.load_full());
            }
            f(local.1.as_deref())
        })
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
        let allowed = self.with_acl(|acl| match acl {
            Some(acl) => acl.allows(client.client_id, client.username, access, topic_name),
            None => true,
        });
        match allowed {
            true => Ok(()),
            false => Err(Denial::NotAuthorized),
        }
    }

    /// With an ACL file, nothing matching means denied, so every delivery is checked (as
    /// Mosquitto checks read access for each message it sends); without one, never.
    fn checks_receive(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    fn generation(&self) -> Option<u64> {
        Some(self.generation.load(Ordering::Acquire))
    }
}
