//! A bridge's life: start its local side, then connect, serve, and after each failure or
//! disconnection wait the next restart delay, trying the addresses in order (or round robin).

use super::backoff::Delays;
use super::link::{self, ConnectError};
use super::local::Local;
use super::{BridgeSpec, BridgeStatus, Dial};
use crate::codec::{connack, ProtocolVersion};
use crate::session::Router;
use courtier_storage::{CommitWriter, SessionRecord};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// What a bridge runs on (the broker's router and store writer).
pub struct BridgeDeps {
    pub router: Router,
    pub persist: Arc<CommitWriter>,
    /// The bridge's stored queue from before a restart.
    pub restored: Option<SessionRecord>,
    pub session_id: u64,
    /// Told once the bridge's `out` filters are subscribed: the broker accepts clients only
    /// after that, so nothing published at start-up misses the bridge's queue.
    pub subscribed: tokio::sync::oneshot::Sender<()>,
}

/// Run the bridge until the actor system stops. Must be spawned on an arbiter.
pub async fn run(spec: Arc<BridgeSpec>, dial: Dial, deps: BridgeDeps, status: Arc<BridgeStatus>) {
    let name = spec.name.clone();
    let mut local = Local::start(
        spec.clone(),
        status.clone(),
        deps.router,
        deps.persist,
        deps.restored,
        deps.session_id,
    )
    .await;
    let _ = deps.subscribed.send(());
    local.notify_state(false);
    let mut delays = Delays::new(spec.restart);
    let mut bridge_bit = spec.try_private && spec.protocol != ProtocolVersion::V5;
    let mut next_addr = 0;
    let mut connected_before = false;
    let n = spec.addresses.len().max(1);
    loop {
        let first = if spec.round_robin { next_addr } else { 0 };
        let mut connected = None;
        for i in 0..spec.addresses.len() {
            let idx = (first + i) % n;
            let addr = &spec.addresses[idx];
            status.set_remote(addr);
            match link::connect(&spec, &dial, addr, bridge_bit).await {
                Ok(conn) => {
                    next_addr = idx + 1;
                    connected = Some((addr.clone(), conn));
                    break;
                }
                Err(e) => {
                    status.failed_attempts.fetch_add(1, Relaxed);
                    status.set_error(&e.to_string());
                    log::info!("bridge {name}: cannot connect to {addr}: {e}");
                    let bit_refused = matches!(
                        e,
                        ConnectError::Closed
                            | ConnectError::Refused {
                                code: connack::UNACCEPTABLE_PROTOCOL_VERSION,
                                ..
                            }
                    );
                    if bridge_bit && bit_refused {
                        log::info!(
                            "bridge {name}: {addr} may not know the bridge bit (try_private); \
                             connecting without it from now on"
                        );
                        bridge_bit = false;
                    }
                }
            }
        }
        if let Some((addr, conn)) = connected {
            delays.reset();
            if connected_before {
                status.reconnects.fetch_add(1, Relaxed);
            }
            connected_before = true;
            log::info!(
                "bridge {name}: connected to {addr} as {:?} (MQTT {}{}, session present: {}, {} queued)",
                spec.remote_clientid,
                spec.protocol,
                if bridge_bit { ", bridge bit" } else { "" },
                conn.session_present,
                local.queue.len()
            );
            local.notify_state(true);
            let reason = link::run(conn, &mut local).await;
            local.notify_state(false);
            status.set_error(&reason);
            log::info!("bridge {name}: disconnected from {addr}: {reason}");
        }
        let delay = delays.next_delay();
        log::info!(
            "bridge {name}: next connection attempt in {:.1} s",
            delay.as_secs_f64()
        );
        idle(&mut local, delay).await;
    }
}

/// Wait `delay`, still taking deliveries into the queue (so its bounds and drop counts hold
/// while the remote is away).
async fn idle(local: &mut Local, delay: Duration) {
    let until = tokio::time::Instant::now() + delay;
    let notify = local.notify.clone();
    loop {
        local.drain();
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return,
            _ = notify.notified() => {}
        }
    }
}
