//! The transport writer: a task that owns the write half of a socket.
//!
//! The Connection (for its own replies) and the Session (for deliveries) send `Outgoing` items
//! into one bounded channel. The task encodes every packet already waiting into one buffer and
//! writes it with a single `write_all`, so a burst costs one syscall, not one per packet. The
//! channel bound is the per-connection high-water mark (ARCHITECTURE.md §3 step 7); a peer that
//! accepts no bytes for `write_timeout` is disconnected.

use super::{buffers, Connection, WriterStopped};
use crate::close::CloseReason;
use crate::codec::{Ack, MqttCodec, Packet, ProtocolVersion, PublishRef, QoS};
use crate::message::{Delivery, Message};
use crate::metrics::Metrics;
use actix::WeakAddr;
use bytes::BytesMut;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Encoder;

/// Packets a writer channel holds before senders must wait.
pub const WRITER_CAPACITY: usize = 128;

/// Bytes encoded into one write at most (more waits for the next round).
const BATCH_BYTES: usize = 64 * 1024;

/// One item of a writer channel: 16 bytes. tokio's bounded channel allocates its slots in
/// blocks of 32 when it is created, so an inline `Packet` (104 bytes) cost every connection
/// ~3.3 KB before it sent anything (docs/PERFORMANCE.md "Memory per idle connection"). The
/// packets written all the time, deliveries and acknowledgements, are stored inline, so they cost
/// no allocation; anything else (CONNACK, SUBACK, ...) is boxed.
#[derive(Debug)]
pub struct Outgoing(Repr);

#[derive(Debug)]
enum Repr {
    /// A delivery, encoded from the shared message. `pkid` 0 = none (QoS 0), which keeps the
    /// variant (and so every slot) at 16 bytes.
    Publish {
        msg: Arc<Message>,
        pkid: u16,
        qos: QoS,
        dup: bool,
        retain: bool,
    },
    /// PUBACK, PUBREC, PUBREL, PUBCOMP (3.x: a packet id only) or PINGRESP.
    Ack {
        kind: AckKind,
        pkid: u16,
    },
    Other(Box<Item>),
}

#[derive(Debug, Clone, Copy)]
enum AckKind {
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    PingResp,
}

#[derive(Debug)]
enum Item {
    Packet(Packet),
    /// From now on encode for this protocol version (set after CONNECT).
    Version(ProtocolVersion),
    /// Write what came before, then shut the socket down.
    Close,
}

impl Outgoing {
    pub fn packet(p: Packet) -> Outgoing {
        let plain = |a: &Ack| a.reason == 0 && a.properties.raw.is_empty();
        let ack = |kind, a: &Ack| Outgoing(Repr::Ack { kind, pkid: a.pkid });
        match &p {
            Packet::PubAck(a) if plain(a) => ack(AckKind::PubAck, a),
            Packet::PubRec(a) if plain(a) => ack(AckKind::PubRec, a),
            Packet::PubRel(a) if plain(a) => ack(AckKind::PubRel, a),
            Packet::PubComp(a) if plain(a) => ack(AckKind::PubComp, a),
            Packet::PingResp => Outgoing(Repr::Ack {
                kind: AckKind::PingResp,
                pkid: 0,
            }),
            _ => Outgoing(Repr::Other(Box::new(Item::Packet(p)))),
        }
    }

    pub fn publish(d: Delivery) -> Outgoing {
        Outgoing(Repr::Publish {
            msg: d.msg,
            pkid: d.pkid.unwrap_or(0),
            qos: d.qos,
            dup: d.dup,
            retain: d.retain,
        })
    }

    /// From now on encode for this protocol version (sent after CONNECT).
    pub fn version(v: ProtocolVersion) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::Version(v))))
    }

    /// Write what came before, then shut the socket down.
    pub fn close() -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::Close)))
    }
}

/// What encoding one item did.
enum Encoded {
    Packet,
    Nothing,
    Close,
}

fn encode_item(item: Outgoing, codec: &mut MqttCodec, buf: &mut BytesMut) -> io::Result<Encoded> {
    match item.0 {
        Repr::Publish {
            msg,
            pkid,
            qos,
            dup,
            retain,
        } => {
            let publish = PublishRef {
                dup,
                qos,
                retain,
                topic: &msg.topic,
                pkid: (pkid != 0).then_some(pkid),
                payload: &msg.payload,
            };
            codec.encode_publish(&publish, buf)?;
        }
        Repr::Ack { kind, pkid } => {
            let p = match kind {
                AckKind::PubAck => Packet::PubAck(Ack::new(pkid)),
                AckKind::PubRec => Packet::PubRec(Ack::new(pkid)),
                AckKind::PubRel => Packet::PubRel(Ack::new(pkid)),
                AckKind::PubComp => Packet::PubComp(Ack::new(pkid)),
                AckKind::PingResp => Packet::PingResp,
            };
            codec.encode(&p, buf)?;
        }
        Repr::Other(item) => match *item {
            Item::Packet(p) => codec.encode(&p, buf)?,
            Item::Version(v) => {
                codec.set_version(v);
                return Ok(Encoded::Nothing);
            }
            Item::Close => return Ok(Encoded::Close),
        },
    }
    Ok(Encoded::Packet)
}

/// Stops a writer at once, dropping what is queued: for a peer that is not reading. A oneshot
/// rather than a `CancellationToken`: its receiver is polled in place, where waiting for a
/// token's `cancelled()` kept an 88-byte future in every idle writer.
pub struct Cancel(Option<oneshot::Sender<()>>);

impl Cancel {
    pub fn new() -> (Cancel, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Cancel(Some(tx)), rx)
    }

    pub fn cancel(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

pub struct WriterTask<W> {
    pub io: W,
    pub rx: mpsc::Receiver<Outgoing>,
    /// Fires on `Cancel::cancel`; a dropped `Cancel` (the connection stopped normally) is not a
    /// cancellation: what is queued is still written.
    pub cancel: oneshot::Receiver<()>,
    /// Weak: a strong `Addr` costs an allocation of its own, and it is needed only to report
    /// an error.
    pub conn: WeakAddr<Connection>,
    pub write_timeout: Duration,
    pub metrics: Arc<Metrics>,
}

/// What `WriterTask::next` produced.
enum Step {
    Item(Outgoing),
    Cancelled,
    Ended,
}

impl<W: AsyncWrite + Unpin + 'static> WriterTask<W> {
    /// The task keeps only the channel, the socket and the codec across its idle wait
    /// (~150 bytes of future, measured with `size_of`); the buffer and the write-timeout timer
    /// exist only while a burst is being written.
    // Not an `async fn run(self)`: that keeps two copies of `self` in the future (192 bytes
    // instead of 152).
    #[allow(clippy::manual_async_fn)]
    pub fn run(mut self) -> impl Future<Output = ()> {
        async move { self.serve().await }
    }

    async fn serve(&mut self) {
        let mut codec = MqttCodec::new(u32::MAX);
        let mut cancellable = true;
        loop {
            let first = match self.next(&mut cancellable).await {
                Step::Item(item) => item,
                Step::Cancelled => return,
                Step::Ended => break,
            };
            // Let the tasks already scheduled on this thread run first: they are typically
            // the sessions and connections whose work adds more packets for this socket, so
            // one write then carries many packets (fewer syscalls and fewer wake-ups of the
            // peer). Costs one trip round the run queue; an idle thread returns at once.
            tokio::task::yield_now().await;
            let (buf, packets, closing) = match self.encode_batch(first, &mut codec) {
                Ok(batch) => batch,
                Err(reason) => return self.stop(reason),
            };
            if !buf.is_empty() {
                // Boxed: its timer and write state would otherwise be part of every idle task.
                match Box::pin(self.write(buf, packets, cancellable)).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(reason) => return self.stop(reason),
                }
            } else {
                buffers::give(buf);
            }
            if closing {
                break;
            }
        }
        let shutdown = tokio::time::timeout(Duration::from_secs(1), self.io.shutdown());
        let _ = Box::pin(shutdown).await;
    }

    /// The next item, or a cancellation. `cancellable` turns false once the `Cancel` is dropped.
    /// A hand-written poll: it keeps nothing but two references while the connection is idle.
    fn next<'a>(&'a mut self, cancellable: &'a mut bool) -> impl Future<Output = Step> + 'a {
        std::future::poll_fn(move |cx| {
            if *cancellable {
                match Pin::new(&mut self.cancel).poll(cx) {
                    Poll::Ready(Ok(())) => return Poll::Ready(Step::Cancelled),
                    Poll::Ready(Err(_)) => *cancellable = false,
                    Poll::Pending => {}
                }
            }
            self.rx
                .poll_recv(cx)
                .map(|item| item.map_or(Step::Ended, Step::Item))
        })
    }

    /// Encode `first` and every packet already waiting (up to `BATCH_BYTES`) into one buffer.
    /// Returns the buffer, the packets in it, and whether a `Close` ended the batch.
    fn encode_batch(
        &mut self,
        first: Outgoing,
        codec: &mut MqttCodec,
    ) -> Result<(BytesMut, u64, bool), CloseReason> {
        // Taken per burst and handed back after it: an idle connection holds no buffer.
        let mut buf = buffers::take();
        let mut packets = 0u64;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match encode_item(item, codec, &mut buf) {
                Ok(Encoded::Packet) => packets += 1,
                Ok(Encoded::Nothing) => {}
                Ok(Encoded::Close) => return Ok((buf, packets, true)),
                Err(e) => {
                    // A packet the encoder refuses is a broker bug; drop the connection rather
                    // than send bytes the peer cannot parse.
                    log::error!("cannot encode a packet: {e}");
                    return Err(CloseReason::Io(format!("encode error: {e}")));
                }
            }
            if buf.len() < BATCH_BYTES {
                next = self.rx.try_recv().ok();
            }
        }
        Ok((buf, packets, false))
    }

    /// Write `buf` (`packets` packets) within `write_timeout`. `Ok(false)`: cancelled.
    async fn write(
        &mut self,
        buf: BytesMut,
        packets: u64,
        cancellable: bool,
    ) -> Result<bool, CloseReason> {
        let io = &mut self.io;
        let write = async {
            io.write_all(&buf).await?;
            io.flush().await
        };
        let result = tokio::select! {
            biased;
            Ok(()) = &mut self.cancel, if cancellable => return Ok(false),
            r = tokio::time::timeout(self.write_timeout, write) => r,
        };
        match result {
            Ok(Ok(())) => {
                self.metrics.bytes_sent.fetch_add(buf.len() as u64, Relaxed);
                self.metrics.packets_sent.fetch_add(packets, Relaxed);
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
    /// Every writer channel allocates 32 slots when it is created: a larger `Outgoing` is paid
    /// by every idle connection (docs/PERFORMANCE.md, "Memory per idle connection"). 16 bytes
    /// keep deliveries and acks unboxed.
    #[test]
    fn outgoing_stays_two_words() {
        assert_eq!(std::mem::size_of::<super::Outgoing>(), 16);
    }
}
