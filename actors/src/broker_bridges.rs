//! The broker's side of bridges (see [`crate::bridge`]): starting each with its stored queue,
//! and what the metrics, `$SYS` and the admin API read of them.

use super::{lock, Broker};
use crate::bridge::status::BridgeSnapshot;
use crate::bridge::{BridgeSpec, BridgeStatus, Dial};
use std::sync::Arc;

impl Broker {
    /// Start a bridge (see [`crate::bridge`]) with its stored queue, on the first worker.
    /// `dial` opens its connections (TCP or TLS).
    /// The returned future completes when the bridge's `out` filters are subscribed (or the
    /// bridge's task is gone): await it before accepting clients, so that a message published
    /// right after start-up is not missed by the bridge's queue.
    pub fn start_bridge(
        &self,
        spec: BridgeSpec,
        dial: Dial,
    ) -> (Arc<BridgeStatus>, impl std::future::Future<Output = ()>) {
        let status = Arc::new(BridgeStatus::new(&spec.name));
        let (subscribed, ready) = tokio::sync::oneshot::channel();
        let restored = lock(&self.inner.bridge_queues).remove(&spec.name);
        let mut bridges = lock(&self.inner.bridges);
        let deps = crate::bridge::run::BridgeDeps {
            router: self.inner.router.clone(),
            persist: self.inner.persist.clone(),
            restored,
            // Apart from the registry's session ids, which count up from 1.
            session_id: u64::MAX - bridges.len() as u64,
            subscribed,
        };
        bridges.push(status.clone());
        let (spec, s) = (Arc::new(spec), status.clone());
        self.spawn_on_first_worker(move || crate::bridge::run::run(spec, dial, deps, s));
        (status, async move {
            let _ = ready.await;
        })
    }

    /// The running bridges' state and counters.
    pub fn bridges(&self) -> Vec<BridgeSnapshot> {
        lock(&self.inner.bridges)
            .iter()
            .map(|b| b.snapshot())
            .collect()
    }

    /// Names of stored bridge queues that no configured bridge claimed (kept in the store).
    pub fn unclaimed_bridge_queues(&self) -> Vec<String> {
        lock(&self.inner.bridge_queues).keys().cloned().collect()
    }
}
