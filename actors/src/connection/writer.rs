//! The transport writer: owns the write half of a socket, and is a task only while there is
//! something to write.
//!
//! The Connection (for its own replies) and the Session (for deliveries) queue `Outgoing` items
//! in one bounded [`Outbox`](super::outbox). The writer's task encodes every packet already
//! waiting into one buffer and writes it with a single `write_all`, so a burst costs one
//! syscall, not one per packet. With nothing left to write it parks itself in the outbox and
//! its task ends; the next item queued starts a new one (memory per idle connection).
//!
//! The outbox bound is the per-connection high-water mark (ARCHITECTURE.md §3 step 7); a peer
//! that accepts no bytes for `write_timeout` is disconnected.

use super::aliases_out::OutAliases;
use super::outbox::{Idle, OutboxReceiver, ParkedWriter};
pub use super::outgoing::Outgoing;
use super::outgoing::{encode_item, Encoded};
use super::{buffers, Connection, ConnectionDeps, WriterStopped};
use crate::close::CloseReason;
use crate::codec::MqttCodec;
use actix::WeakAddr;
use bytes::BytesMut;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Packets an outbox holds before producers must wait.
pub const WRITER_CAPACITY: u32 = 128;

/// Bytes encoded into one write at most (more waits for the next round).
const BATCH_BYTES: usize = 64 * 1024;

/// The writer: what it keeps between bursts. Boxed once per connection and moved between its
/// short-lived tasks and the outbox, where it is parked while there is nothing to write.
pub struct WriterTask<W> {
    io: W,
    /// Weak: a strong `Addr` costs an allocation of its own, and it is needed only to report
    /// an error.
    conn: WeakAddr<Connection>,
    /// The write timeout and the metrics: one pointer for both keeps the parked writer in
    /// mimalloc's 48-byte class (guarded by a test).
    deps: Arc<ConnectionDeps>,
    /// Keeps the protocol version set after CONNECT across parkings.
    codec: MqttCodec,
    /// The topic aliases the broker assigned on this connection; `None` for a client that takes
    /// none (every 3.x client), so its deliveries cost one test more.
    aliases: Option<Box<OutAliases>>,
}

impl<W: AsyncWrite + Unpin + Send + 'static> ParkedWriter for WriterTask<W> {
    fn resume(self: Box<Self>, rx: OutboxReceiver) {
        actix_rt::spawn(Self::serve(self, rx));
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static> WriterTask<W> {
    /// Start the writer of a new connection: parked, with no task until the first packet is
    /// queued. It ends when every `Outbox` is dropped (what is queued is still written) or at
    /// once when one of them cancels.
    pub fn start(io: W, rx: OutboxReceiver, conn: WeakAddr<Connection>, deps: Arc<ConnectionDeps>) {
        let writer = Box::new(WriterTask {
            io,
            conn,
            deps,
            codec: MqttCodec::new(u32::MAX),
            aliases: None,
        });
        rx.park(writer);
    }

    /// One task of the writer: write bursts until nothing is queued, then park and end. The
    /// buffer and the write-timeout timer exist only while a burst is being written.
    async fn serve(mut w: Box<Self>, mut rx: OutboxReceiver) {
        // Items taken from the outbox and not yet encoded (a burst beyond `BATCH_BYTES`).
        let mut pending = VecDeque::new();
        loop {
            if pending.is_empty() {
                w = match rx.take_or_park(&mut pending, w) {
                    Idle::Items(w) => w,
                    Idle::Parked | Idle::Cancelled => return,
                    Idle::Ended(w) => return w.shut_down().await,
                };
                // Let the tasks already scheduled on this thread run first: they are typically
                // the sessions and connections whose work adds more packets for this socket, so
                // one write then carries many packets (fewer syscalls and fewer wake-ups of the
                // peer). tokio wakes a yielded task after its next poll of the sockets, so this
                // costs one trip round the run queue and the tasks that poll woke; an idle
                // thread returns at once. Requeueing at once instead (behind the ready tasks
                // only) wrote smaller bursts: more CPU and more latency under load
                // (docs/PERFORMANCE.md).
                tokio::task::yield_now().await;
            }
            if !rx.take_now(&mut pending) {
                return; // cancelled
            }
            let encoded = Self::encode_batch(&mut pending, &mut w.codec, &mut w.aliases);
            let (buf, packets, closing) = match encoded {
                Ok(batch) => batch,
                Err(reason) => return w.stop(reason),
            };
            if !buf.is_empty() {
                // Boxed: its timer and write state are large and live only during a write.
                match Box::pin(w.write(&rx, buf, packets)).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(reason) => return w.stop(reason),
                }
            } else {
                buffers::give(buf);
            }
            if closing {
                return w.shut_down().await;
            }
        }
    }

    async fn shut_down(mut self: Box<Self>) {
        let shutdown = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown());
        let _ = Box::pin(shutdown).await;
    }

    /// Encode items from `pending` (up to `BATCH_BYTES`) into one buffer. Returns the buffer,
    /// the packets in it, and whether a `Close` ended the batch.
    fn encode_batch(
        pending: &mut VecDeque<Outgoing>,
        codec: &mut MqttCodec,
        aliases: &mut Option<Box<OutAliases>>,
    ) -> Result<(BytesMut, u64, bool), CloseReason> {
        // Taken per burst and handed back after it: an idle connection holds no buffer.
        let mut buf = buffers::take();
        let mut packets = 0u64;
        while buf.len() < BATCH_BYTES {
            let Some(item) = pending.pop_front() else {
                break;
            };
            match encode_item(item, codec, aliases, &mut buf) {
                Ok(Encoded::Packet) => packets += 1,
                Ok(Encoded::Nothing) => {}
                Ok(Encoded::Close) => {
                    pending.clear();
                    return Ok((buf, packets, true));
                }
                Err(e) => {
                    // A packet the encoder refuses is a broker bug; drop the connection rather
                    // than send bytes the peer cannot parse.
                    log::error!("cannot encode a packet: {e}");
                    return Err(CloseReason::Io(format!("encode error: {e}")));
                }
            }
        }
        Ok((buf, packets, false))
    }

    /// Write `buf` (`packets` packets) within `write_timeout`. `Ok(false)`: cancelled.
    async fn write(
        &mut self,
        rx: &OutboxReceiver,
        buf: BytesMut,
        packets: u64,
    ) -> Result<bool, CloseReason> {
        let io = &mut self.io;
        let write = async {
            io.write_all(&buf).await?;
            io.flush().await
        };
        let result = tokio::select! {
            biased;
            () = poll_fn(|cx| rx.poll_cancelled(cx)) => return Ok(false),
            r = tokio::time::timeout(self.deps.cfg.write_timeout, write) => r,
        };
        match result {
            Ok(Ok(())) => {
                let metrics = &self.deps.metrics;
                metrics.bytes_sent.fetch_add(buf.len() as u64, Relaxed);
                metrics.packets_sent.fetch_add(packets, Relaxed);
                buffers::give(buf);
                Ok(true)
            }
            Ok(Err(e)) => Err(CloseReason::Io(e.to_string())),
            Err(_) => Err(CloseReason::WriteTimeout),
        }
    }

    fn stop(&self, reason: CloseReason) {
        if let Some(conn) = self.conn.upgrade() {
            conn.do_send(WriterStopped { reason });
        }
    }
}

#[cfg(test)]
mod tests {
    /// Every idle connection keeps its parked writer (boxed): a TCP one fits mimalloc's
    /// 48-byte class (it was 56 bytes, class 64, with the timeout and metrics inline).
    #[test]
    fn a_parked_tcp_writer_fits_48_bytes() {
        use tokio::net::tcp::OwnedWriteHalf;
        let size = std::mem::size_of::<super::WriterTask<OwnedWriteHalf>>();
        assert!(size <= 48, "the parked writer grew to {size} bytes");
    }
}
