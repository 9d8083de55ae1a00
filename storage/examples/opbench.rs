//! Store-only cost of the persistent fan-out pattern: N messages for S sessions written as the
//! router writes them, then deleted one entry at a time as PUBACKs would (the sessions interleaved,
//! as drains side by side acknowledge), in batches of B.
//! `ROUNDS=5 cargo run --release -p courtier-storage --example opbench -- DIR N S PAYLOAD B`
//! (ROUNDS, default 1: repeat, with new ids, so memtables fill and flush as in a long run).
use courtier_storage::*;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (dir, n, s, payload, b): (&str, u64, usize, usize, usize) = (
        &a[1],
        a[2].parse().unwrap(),
        a[3].parse().unwrap(),
        a[4].parse().unwrap(),
        a[5].parse().unwrap(),
    );
    let opened = open_rocks(std::path::Path::new(dir), OnCorruption::Fail).unwrap();
    let store = opened.store;
    let clients: Vec<String> = (0..s).map(|i| format!("bench-client-{i}")).collect();
    let mut ops: Vec<Op> = clients
        .iter()
        .map(|c| {
            Op::PutSession(SessionMeta {
                client_id: c.clone(),
                protocol_level: 4,
                subscriptions: vec![],
                last_seen_ms: 0,
                expiry_interval_secs: None,
            })
        })
        .collect();
    store.write(&ops, false).unwrap();
    let rounds: u64 = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let (mut put, mut del) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for round in 0..rounds {
        let t = Instant::now();
        for id in round * n + 1..=round * n + n {
            ops.clear();
            let body = MessageBody {
                topic: "bench/1234/persist/x".into(),
                payload: vec![b'x'; payload],
                retain: false,
                properties: Vec::new(),
                expires_at_ms: None,
            };
            // As the router writes it: inline for one session, shared for several.
            let mut inline = None;
            if s == 1 {
                inline = Some(body);
            } else {
                ops.push(Op::PutBody { id, body });
            }
            for c in &clients {
                ops.push(Op::PutMessage {
                    client_id: c.clone(),
                    seq: id,
                    entry: QueuedRef {
                        qos: 1,
                        state: DeliveryState::Queued,
                        inline: inline.take(),
                    },
                });
            }
            store.write(&ops, false).unwrap();
        }
        put += t.elapsed();
        let t = Instant::now();
        let mut batch = Vec::new();
        // As sessions draining side by side acknowledge: the clients interleave.
        for id in round * n + 1..=round * n + n {
            for c in &clients {
                batch.push(Op::DeleteMessage {
                    client_id: c.clone(),
                    seq: id,
                });
                if batch.len() == b {
                    store.write(&batch, false).unwrap();
                    batch.clear();
                }
            }
        }
        store.write(&batch, false).unwrap();
        batch.clear();
        del += t.elapsed();
    }
    let n = n * rounds;
    println!(
        "put {:.3}s ({:.2} µs/entry)  delete {:.3}s ({:.2} µs/entry)  {:?}",
        put.as_secs_f64(),
        put.as_secs_f64() * 1e6 / (n as f64 * s as f64),
        del.as_secs_f64(),
        del.as_secs_f64() * 1e6 / (n as f64 * s as f64),
        store.stats().unwrap()
    );
}
