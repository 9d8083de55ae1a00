//! The transport writer: a task that owns the write half of a socket.
//!
//! The Connection (for its own replies) and the Session (for deliveries) send `Outgoing` items
//! into one bounded channel. The task encodes every packet already waiting into one buffer and
//! writes it with a single `write_all`, so a burst costs one syscall, not one per packet. The
//! channel bound is the per-connection high-water mark (ARCHITECTURE.md §3 step 7); a peer that
//! accepts no bytes for `write_timeout` is disconnected.

use super::{Connection, WriterStopped};
use crate::close::CloseReason;
use crate::codec::{MqttCodec, Packet, ProtocolVersion};
use crate::message::Delivery;
use crate::metrics::Metrics;
use actix::Addr;
use bytes::BytesMut;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;

/// Packets a writer channel holds before senders must wait.
pub const WRITER_CAPACITY: usize = 128;

/// Bytes encoded into one write at most (more waits for the next round).
const BATCH_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub enum Outgoing {
    Packet(Packet),
    /// A delivery, encoded from the shared message.
    Publish(Delivery),
    /// From now on encode for this protocol version (set after CONNECT).
    Version(ProtocolVersion),
    /// Write what came before, then shut the socket down.
    Close,
}

pub struct WriterTask<W> {
    pub io: W,
    pub rx: mpsc::Receiver<Outgoing>,
    pub cancel: CancellationToken,
    pub conn: Addr<Connection>,
    pub write_timeout: Duration,
    pub metrics: Arc<Metrics>,
}

impl<W: AsyncWrite + Unpin + 'static> WriterTask<W> {
    pub async fn run(mut self) {
        let mut codec = MqttCodec::new(u32::MAX);
        // Allocated per burst and released when idle: an idle connection holds no buffer.
        let mut buf = BytesMut::new();
        loop {
            let first = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return,
                item = self.rx.recv() => match item {
                    Some(item) => item,
                    None => break,
                },
            };
            // Let the tasks already scheduled on this thread run first: they are typically
            // the sessions and connections whose work adds more packets for this socket, so
            // one write then carries many packets (fewer syscalls and fewer wake-ups of the
            // peer). Costs one trip round the run queue; an idle thread returns at once.
            tokio::task::yield_now().await;
            buf.reserve(4096);
            let mut closing = false;
            let mut packets = 0u64;
            let mut next = Some(first);
            while let Some(item) = next.take() {
                match item {
                    Outgoing::Packet(p) => {
                        if let Err(e) = codec.encode(&p, &mut buf) {
                            // A packet the encoder refuses is a broker bug; drop the connection
                            // rather than send bytes the peer cannot parse.
                            log::error!("cannot encode {}: {e}", p.kind());
                            self.stop(CloseReason::Io(format!("encode error: {e}")));
                            return;
                        }
                        packets += 1;
                    }
                    Outgoing::Publish(d) => {
                        if let Err(e) = codec.encode_publish(&d.as_publish(), &mut buf) {
                            log::error!("cannot encode PUBLISH: {e}");
                            self.stop(CloseReason::Io(format!("encode error: {e}")));
                            return;
                        }
                        packets += 1;
                    }
                    Outgoing::Version(v) => codec.set_version(v),
                    Outgoing::Close => {
                        closing = true;
                        break;
                    }
                }
                if buf.len() < BATCH_BYTES {
                    next = self.rx.try_recv().ok();
                }
            }
            if !buf.is_empty() {
                let write = async {
                    self.io.write_all(&buf).await?;
                    self.io.flush().await
                };
                let result = tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return,
                    r = tokio::time::timeout(self.write_timeout, write) => r,
                };
                match result {
                    Ok(Ok(())) => {
                        self.metrics.bytes_sent.fetch_add(buf.len() as u64, Relaxed);
                        self.metrics.packets_sent.fetch_add(packets, Relaxed);
                        buf.clear();
                    }
                    Ok(Err(e)) => return self.stop(CloseReason::Io(e.to_string())),
                    Err(_) => return self.stop(CloseReason::WriteTimeout),
                }
                if buf.capacity() > 4 * BATCH_BYTES || self.rx.is_empty() {
                    // Nothing waiting (or a burst grew it): do not keep the buffer around.
                    buf = BytesMut::new();
                }
            }
            if closing {
                break;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown()).await;
    }

    fn stop(&self, reason: CloseReason) {
        self.conn.do_send(WriterStopped { reason });
    }
}
