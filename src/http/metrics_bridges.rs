//! The bridges' series in /metrics, labelled by bridge name; none without `[[bridges]]`.

use super::metrics::{counter_family, gauge_family, Labels};
use courtier_actors::Broker;
use prometheus_client::registry::Registry;

pub fn register(reg: &mut Registry, broker: &Broker) {
    let bridges = broker.bridges();
    if bridges.is_empty() {
        return;
    }
    let by = |f: &dyn Fn(&courtier_actors::bridge::status::BridgeSnapshot) -> u64| {
        bridges
            .iter()
            .map(|b| (vec![("bridge".to_owned(), b.name.clone())], f(b)))
            .collect::<Vec<(Labels, u64)>>()
    };
    let gauges = |f: &dyn Fn(&courtier_actors::bridge::status::BridgeSnapshot) -> u64| {
        by(f)
            .into_iter()
            .map(|(l, v)| (l, v as i64))
            .collect::<Vec<(Labels, i64)>>()
    };
    gauge_family(
        reg,
        "courtier_bridge_connected",
        "1 while the bridge is connected to its remote",
        &gauges(&|b| u64::from(b.connected)),
    );
    gauge_family(
        reg,
        "courtier_bridge_queued_messages",
        "Messages queued for the remote or in flight to it",
        &gauges(&|b| b.queued),
    );
    gauge_family(
        reg,
        "courtier_bridge_queued_bytes",
        "Topic and payload bytes of the queued messages",
        &gauges(&|b| b.queued_bytes),
    );
    counter_family(
        reg,
        "courtier_bridge_reconnects",
        "Connections accepted by the remote after the first",
        &by(&|b| b.reconnects),
    );
    counter_family(
        reg,
        "courtier_bridge_connect_failures",
        "Connection attempts that failed (refused, unreachable, TLS)",
        &by(&|b| b.failed_attempts),
    );
    counter_family(
        reg,
        "courtier_bridge_messages_sent",
        "Messages the remote acknowledged (QoS 0: written to it)",
        &by(&|b| b.sent),
    );
    counter_family(
        reg,
        "courtier_bridge_messages_received",
        "Messages received from the remote and published locally",
        &by(&|b| b.received),
    );
    counter_family(
        reg,
        "courtier_bridge_messages_dropped",
        "Messages dropped because the bridge's queue was full",
        &by(&|b| b.dropped),
    );
    let info: Vec<(Labels, i64)> = bridges
        .iter()
        .map(|b| {
            let labels = vec![
                ("bridge".to_owned(), b.name.clone()),
                ("remote".to_owned(), b.remote.clone()),
                ("last_error".to_owned(), b.last_error.clone()),
            ];
            (labels, 1)
        })
        .collect();
    gauge_family(
        reg,
        "courtier_bridge_info",
        "Always 1; the current (or last) remote address and the last error are in the labels",
        &info,
    );
}
