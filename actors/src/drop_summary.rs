//! The periodic INFO summary of drops per client: every [`INTERVAL`], one line per client that
//! lost messages in that period, with the count by reason. It complements the per-drop lines
//! of the session (the first drop of a client and every 1,000th, WARN for a full queue, DEBUG
//! for QoS 0 to an offline session), which show that drops start but not how many follow.

use crate::message::ClientId;
use crate::metrics::{DropReason, Metrics};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often the summary is logged (when something was dropped).
pub const INTERVAL: Duration = Duration::from_secs(60);
/// Clients listed in one summary; the rest are counted together.
const LISTED: usize = 50;

/// Drops per client and reason since the last summary. Written on the drop path only (never
/// for a delivered message), so its lock is off the hot path.
#[derive(Debug, Default)]
pub struct DropLedger {
    drops: Mutex<HashMap<ClientId, [u64; DropReason::ALL.len()]>>,
}

impl DropLedger {
    pub fn add(&self, client: &ClientId, reason: DropReason, n: u64) {
        let mut drops = self.drops.lock().unwrap();
        match drops.get_mut(client) {
            Some(counts) => counts[reason as usize] += n,
            None => {
                let mut counts = [0; DropReason::ALL.len()];
                counts[reason as usize] = n;
                drops.insert(client.clone(), counts);
            }
        }
    }

    /// The summary lines of the period now ended (most drops first), and a fresh period.
    pub fn take_summary(&self) -> Vec<String> {
        let drops = std::mem::take(&mut *self.drops.lock().unwrap());
        let mut rows: Vec<(u64, ClientId, String)> = drops
            .into_iter()
            .map(|(client, counts)| {
                let by_reason: Vec<String> = DropReason::ALL
                    .iter()
                    .filter(|r| counts[**r as usize] > 0)
                    .map(|r| format!("{}={}", r.name(), counts[*r as usize]))
                    .collect();
                (counts.iter().sum(), client, by_reason.join(" "))
            })
            .collect();
        rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut lines: Vec<String> = rows
            .iter()
            .take(LISTED)
            .map(|(n, client, reasons)| {
                format!(
                    "drops in the last {}s: client {:?}: {n} ({reasons})",
                    INTERVAL.as_secs(),
                    &**client
                )
            })
            .collect();
        if rows.len() > LISTED {
            let rest: u64 = rows[LISTED..].iter().map(|r| r.0).sum();
            lines.push(format!(
                "drops in the last {}s: {} more clients: {rest}",
                INTERVAL.as_secs(),
                rows.len() - LISTED
            ));
        }
        lines
    }
}

/// Log the summary of `metrics`' drops every [`INTERVAL`] on the current actix System.
pub fn spawn_logger(metrics: Arc<Metrics>) {
    crate::supervision::spawn_task("drop summary", move || {
        let metrics = metrics.clone();
        async move {
            let mut tick = actix_rt::time::interval(INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                for line in metrics.drop_ledger.take_summary() {
                    log::info!("{line}");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_per_client_and_reason_then_starts_over() {
        let l = DropLedger::default();
        assert!(l.take_summary().is_empty());
        l.add(&"a".into(), DropReason::QueueFull, 3);
        l.add(&"b".into(), DropReason::Expired, 1);
        l.add(&"a".into(), DropReason::Expired, 2);
        let lines = l.take_summary();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("client \"a\": 5 ("), "{lines:?}");
        assert!(lines[0].contains("queue_full=3"), "{lines:?}");
        assert!(lines[0].contains("expired=2"), "{lines:?}");
        assert!(
            lines[1].contains("client \"b\": 1 (expired=1)"),
            "{lines:?}"
        );
        assert!(l.take_summary().is_empty());
    }
}
