//! A publisher of a throughput or latency run (load/mod.rs): it keeps at most `window`
//! messages unacknowledged, at most `closed_loop` ahead of its deliveries, and paces itself
//! when the run has a rate.

use super::Shared;
use crate::acks::Acks;
use crate::client::Client;
use crate::pace::Pace;
use crate::wire;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct PubCfg {
    pub(super) idx: usize,
    pub(super) topic: String,
    pub(super) qos: u8,
    pub(super) payload: usize,
    pub(super) window: usize,
    pub(super) closed_loop: Option<u64>,
    pub(super) per_msg: u64,
    pub(super) pace: Option<Pace>,
    pub(super) deadline: tokio::time::Instant,
}

/// Publish until the deadline; then wait (up to 5 s) for the outstanding acknowledgements.
/// Returns (sent, acknowledged). `V5`: 5.0 acknowledgements (the frames written are settled
/// by the client's property block, in the template).
pub(super) async fn publisher<const V5: bool>(
    mut c: Client,
    sh: Arc<Shared>,
    cfg: PubCfg,
) -> io::Result<(u64, u64)> {
    let mut payload = vec![0u8; cfg.payload];
    let frame =
        wire::PublishTemplate::new(&cfg.topic, cfg.qos, false, c.props.as_deref(), cfg.payload);
    let (mut seq, mut pkid) = (0u64, 0u16);
    let mut acks = Acks::default();
    let mut pace = cfg.pace;
    while tokio::time::Instant::now() < cfg.deadline {
        let inflight = acks.inflight;
        let mut can = if cfg.qos == 0 {
            256
        } else {
            cfg.window - inflight.min(cfg.window)
        };
        if let Some(n) = cfg.closed_loop {
            let ahead = (seq * cfg.per_msg).saturating_sub(sh.delivered[cfg.idx].load(Relaxed));
            can = can.min(((n * cfg.per_msg).saturating_sub(ahead) / cfg.per_msg) as usize);
        }
        if let Some(p) = &pace {
            can = can.min(p.allowed() as usize);
        }
        if can > 0 {
            let now = sh.now_ns();
            for _ in 0..can {
                seq += 1;
                pkid = pkid.checked_add(1).unwrap_or(1);
                wire::stamp(&mut payload, cfg.idx as u32, seq, now);
                frame.put(&mut c.out, pkid, &payload);
            }
            if cfg.qos > 0 {
                acks.inflight = inflight + can;
            }
            if let Some(p) = &mut pace {
                p.sent(can as u64);
            }
        }
        c.flush().await?;
        if cfg.qos > 0 && c.try_read_more()? {
            c.drain_frames(|f, out| acks.on_frame::<V5>(f, out));
            continue;
        }
        if can == 0 {
            let wake = &sh.wake[cfg.idx];
            tokio::select! {
                r = c.read_more(), if cfg.qos > 0 => {
                    r?;
                    c.drain_frames(|f, out| acks.on_frame::<V5>(f, out));
                }
                _ = wake.notified(), if cfg.closed_loop.is_some() => {}
                _ = async { pace.as_mut().unwrap().tick().await }, if pace.is_some() => {}
                _ = tokio::time::sleep_until(cfg.deadline) => {}
            }
        }
    }
    let drain = tokio::time::Instant::now() + Duration::from_secs(5);
    while acks.inflight > 0 {
        c.flush().await?;
        match tokio::time::timeout_at(drain, c.read_more()).await {
            Ok(r) => r?,
            Err(_) => break,
        }
        c.drain_frames(|f, out| acks.on_frame::<V5>(f, out));
    }
    c.disconnect().await;
    if let Some(rc) = acks.refused {
        return Err(io::Error::other(format!(
            "publish refused by the broker (0x{rc:02X})"
        )));
    }
    Ok((seq, acks.acked))
}
