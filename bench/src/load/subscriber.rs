//! A subscriber of a throughput or latency run (load/mod.rs): it receives, acknowledges,
//! counts per publisher, checks order, and keeps publisher 0's latencies.

use super::Shared;
use crate::client::Client;
use crate::wire::{self, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Receives, acknowledges, counts and checks order; `V5` reads 5.0 PUBLISH frames (property
/// block after the packet id). Only a malformed PUBLISH or the connection ending stops it.
pub(super) async fn subscriber<const V5: bool>(mut c: Client, sh: Arc<Shared>) -> io::Result<()> {
    let pubs = sh.delivered.len();
    let mut last_seq = vec![0u64; pubs];
    let mut count = vec![0u64; pubs];
    let mut lat = Vec::new();
    loop {
        let before = c.inbuf.len();
        c.read_more().await?;
        let read = (c.inbuf.len() - before) as u64;
        let now = sh.now_ns();
        let (mut n, mut ooo, mut malformed) = (0u64, 0u64, false);
        c.drain_frames(|f, out| match f.kind {
            PUBLISH => {
                let Some((pkid, payload)) = f.publish::<V5>() else {
                    malformed = true;
                    return;
                };
                match f.qos() {
                    1 => wire::ack(out, PUBACK, pkid),
                    2 => wire::ack(out, PUBREC, pkid),
                    _ => {}
                }
                n += 1;
                if let Some((p, seq, t)) = wire::read_stamp(payload) {
                    let p = p as usize;
                    if p < pubs {
                        if seq <= last_seq[p] {
                            ooo += 1;
                        } else {
                            last_seq[p] = seq;
                        }
                        count[p] += 1;
                    }
                    if p == 0 {
                        lat.push(now.saturating_sub(t));
                    }
                }
            }
            PUBREL => wire::ack(out, PUBCOMP, f.pkid()),
            _ => {}
        });
        if malformed {
            eprintln!("subscriber: malformed PUBLISH from the broker");
            return Err(io::Error::other("malformed PUBLISH"));
        }
        c.flush().await?;
        sh.received.fetch_add(n, Relaxed);
        sh.bytes_in.fetch_add(read, Relaxed);
        if now < sh.window_end_ns.load(Relaxed) {
            sh.in_window.fetch_add(n, Relaxed);
        }
        if ooo > 0 {
            sh.out_of_order.fetch_add(ooo, Relaxed);
        }
        for (p, k) in count.iter_mut().enumerate() {
            if *k > 0 {
                sh.delivered[p].fetch_add(*k, Relaxed);
                sh.wake[p].notify_one();
                *k = 0;
            }
        }
        match &sh.latencies {
            Some(all) => all.lock().unwrap().append(&mut lat),
            None => lat.clear(),
        }
    }
}
