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

use super::aliases_out::{Aliased, OutAliases};
use super::outbox::{Idle, OutboxReceiver, ParkedWriter};
use super::{buffers, Connection, ConnectionDeps, WriterStopped};
use crate::close::CloseReason;
use crate::codec::{Ack, MqttCodec, Packet, ProtocolVersion};
use crate::delivery::Delivery;
use actix::WeakAddr;
use bytes::BytesMut;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio_util::codec::Encoder;

/// Packets an outbox holds before producers must wait.
pub const WRITER_CAPACITY: u32 = 128;

/// Bytes encoded into one write at most (more waits for the next round).
const BATCH_BYTES: usize = 64 * 1024;

/// One item of an outbox: 16 bytes, so a queue of them stays small (an inline `Packet`, 104
/// bytes, once cost every connection ~3.3 KB: docs/PERFORMANCE.md "Memory per idle
/// connection"). The packets written all the time, deliveries and acknowledgements, are stored
/// inline, so they cost no allocation; anything else (CONNACK, SUBACK, ...) is boxed.
#[derive(Debug)]
pub struct Outgoing(Repr);

#[derive(Debug)]
enum Repr {
    /// A delivery, encoded from the shared message (16 bytes, the size of every slot).
    Publish(Delivery),
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
    /// A 5.0 delivery with the Subscription Identifiers of the subscriptions it matched
    /// (session/sub_ids.rs); out of line, so deliveries without them stay in the slot.
    PublishWithIds(Delivery, Box<[NonZeroU32]>),
    /// From now on encode for this protocol version, and send no packet larger than this
    /// (the client's MQTT 5.0 Maximum Packet Size), set after CONNECT.
    Peer(ProtocolVersion, Option<NonZeroU32>),
    /// Write what came before, then shut the socket down.
    Close,
    /// From now on assign topic aliases, up to this many (a 5.0 client that takes them).
    TopicAliases(u16),
}

impl Outgoing {
    pub fn packet(p: Packet) -> Outgoing {
        let ack = |kind, a: &Ack| Outgoing(Repr::Ack { kind, pkid: a.pkid });
        match &p {
            Packet::PubAck(a) if a.is_plain() => ack(AckKind::PubAck, a),
            Packet::PubRec(a) if a.is_plain() => ack(AckKind::PubRec, a),
            Packet::PubRel(a) if a.is_plain() => ack(AckKind::PubRel, a),
            Packet::PubComp(a) if a.is_plain() => ack(AckKind::PubComp, a),
            Packet::PingResp => Outgoing(Repr::Ack {
                kind: AckKind::PingResp,
                pkid: 0,
            }),
            _ => Outgoing(Repr::Other(Box::new(Item::Packet(p)))),
        }
    }

    pub fn publish(d: Delivery) -> Outgoing {
        Outgoing(Repr::Publish(d))
    }

    /// A delivery that carries Subscription Identifiers [MQTT-3.3.4-3].
    pub fn publish_with_ids(d: Delivery, ids: Box<[NonZeroU32]>) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::PublishWithIds(d, ids))))
    }

    /// From now on encode for this protocol version, and within the client's Maximum Packet
    /// Size (sent after CONNECT).
    pub fn peer(v: ProtocolVersion, max_packet_size: Option<NonZeroU32>) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::Peer(v, max_packet_size))))
    }

    /// From now on assign up to `max` topic aliases to the topics sent (aliases_out.rs); sent
    /// after CONNECT for a 5.0 client whose Topic Alias Maximum and the broker's
    /// `max_topic_alias_out` are both above 0.
    pub fn topic_aliases(max: u16) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::TopicAliases(max))))
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

fn encode_item(
    item: Outgoing,
    codec: &mut MqttCodec,
    aliases: &mut Option<Box<OutAliases>>,
    buf: &mut BytesMut,
) -> io::Result<Encoded> {
    match item.0 {
        Repr::Publish(d) => match aliases {
            None => codec.encode_publish(&d.as_publish(), buf)?,
            Some(a) => encode_delivery(&d, &[], codec, a, buf)?,
        },
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
            Item::Packet(p) => return encode_within_limit(p, codec, buf),
            Item::PublishWithIds(d, ids) => match aliases {
                None => {
                    let mut p = d.as_publish();
                    p.subscription_identifiers = &ids;
                    codec.encode_publish(&p, buf)?
                }
                Some(a) => encode_delivery(&d, &ids, codec, a, buf)?,
            },
            Item::Peer(v, max) => {
                codec.set_version(v);
                codec.set_max_packet_size(max.map_or(u32::MAX, NonZeroU32::get));
                return Ok(Encoded::Nothing);
            }
            Item::Close => return Ok(Encoded::Close),
            Item::TopicAliases(max) => {
                *aliases = OutAliases::new(max, max).map(Box::new);
                return Ok(Encoded::Nothing);
            }
        },
    }
    Ok(Encoded::Packet)
}

/// A delivery to a client that takes topic aliases: with the alias `aliases` decides, unless a
/// new alias (3 bytes more) would take it over the client's Maximum Packet Size.
fn encode_delivery(
    d: &Delivery,
    ids: &[NonZeroU32],
    codec: &MqttCodec,
    aliases: &mut OutAliases,
    buf: &mut BytesMut,
) -> io::Result<()> {
    let mut p = d.as_publish();
    p.subscription_identifiers = ids;
    let max = codec.max_packet_size();
    if max == u32::MAX || codec.publish_encoded_len(&p) + 3 <= max as usize {
        match aliases.alias(&d.msg.topic) {
            Aliased::Topic => {}
            Aliased::Set(n) => p.topic_alias = Some(n),
            Aliased::Use(n) => {
                p.topic_alias = Some(n);
                p.topic = "";
            }
        }
    }
    codec.encode_publish(&p, buf)
}

/// A control packet within the client's Maximum Packet Size [MQTT-3.1.2-24]: without its
/// Reason String and User Properties if that makes it fit (they go first, [MQTT-3.1.2-25]),
/// otherwise not at all. Deliveries were sized by the session before they took a packet id.
fn encode_within_limit(
    mut p: Packet,
    codec: &mut MqttCodec,
    buf: &mut BytesMut,
) -> io::Result<Encoded> {
    let max = codec.max_packet_size() as usize;
    if max != u32::MAX as usize && codec.packet_encoded_len(&p)? > max {
        strip_diagnostics(&mut p);
        if codec.packet_encoded_len(&p)? > max {
            log::debug!(
                "{} larger than the client's maximum packet size: not sent",
                p.kind()
            );
            return Ok(Encoded::Nothing);
        }
    }
    codec.encode(&p, buf)?;
    Ok(Encoded::Packet)
}

/// Drops the Reason String and User Properties of a packet the broker wrote (acks, SUBACK,
/// UNSUBACK, DISCONNECT, CONNACK): information for people, never needed by the protocol.
fn strip_diagnostics(p: &mut Packet) {
    match p {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.properties = None
        }
        Packet::SubAck(s) => s.properties = None,
        Packet::UnsubAck(u) => u.properties = None,
        Packet::Disconnect(d) => d.properties = None,
        Packet::ConnAck(c) => {
            if let Some(props) = &mut c.properties {
                props.reason_string = None;
                props.user_properties.clear();
            }
        }
        _ => {}
    }
}

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
                // peer). Costs one trip round the run queue; an idle thread returns at once.
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
    /// Outbox slots are paid by every connection that queued anything (docs/PERFORMANCE.md,
    /// "Memory per idle connection"). 16 bytes keep deliveries and acks unboxed and the queues
    /// small.
    #[test]
    fn outgoing_stays_two_words() {
        assert_eq!(std::mem::size_of::<super::Outgoing>(), 16);
    }

    /// Every idle connection keeps its parked writer (boxed): a TCP one fits mimalloc's
    /// 48-byte class (it was 56 bytes, class 64, with the timeout and metrics inline).
    #[test]
    fn a_parked_tcp_writer_fits_48_bytes() {
        use tokio::net::tcp::OwnedWriteHalf;
        let size = std::mem::size_of::<super::WriterTask<OwnedWriteHalf>>();
        assert!(size <= 48, "the parked writer grew to {size} bytes");
    }
}
