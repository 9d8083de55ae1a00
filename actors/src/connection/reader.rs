//! The read half of a connection: a stream of decoded packets that holds no buffer while idle.
//!
//! `FramedRead` keeps its read buffer for the life of the connection (2 KB here before, 8 KB by
//! default), although an idle MQTT client has nothing buffered between packets. This reader
//! takes a buffer from its thread's pool (`buffers.rs`) when it reads, and hands it back as
//! soon as every byte in it is decoded or the socket has nothing more. An idle connection
//! therefore holds no read buffer at all; one that stops in the middle of a packet holds that
//! partial packet only. The decoder copies topics and payloads out of the buffer
//! (codec/packet.rs), so nothing a packet keeps points into it.
//!
//! It also counts received bytes for $SYS and metrics.

use super::buffers;
use super::deadlines::Watch;
use crate::codec::{DecodeError, MqttCodec, Packet};
use crate::metrics::Metrics;
use bytes::BytesMut;
use futures_util::Stream;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncRead;
use tokio_util::codec::Decoder;

/// A partial packet left in a buffer this size or smaller is moved to a buffer of its own size
/// when the socket has nothing more, so an idle connection never holds a whole read buffer.
const COMPACT_BELOW: usize = 512;

/// Read when at least this much room is left; otherwise make room first.
const MIN_ROOM: usize = 1024;

pub(super) struct PacketReader<R> {
    io: R,
    codec: MqttCodec,
    /// Received bytes not decoded yet: no allocation while empty.
    buf: BytesMut,
    metrics: Arc<Metrics>,
    /// Stamped at every read that returns bytes (the connection's keep-alive counts from it).
    watch: Rc<Watch>,
    /// The codec's `max_packet_size` once CONNECT is decoded; until then the codec holds
    /// the smaller limit of packets before CONNECT (`with_connect_limit`). 0: none pending.
    after_connect: u32,
    /// `buf` grew beyond what the pool keeps (a large packet): once little is left in it,
    /// the rest moves to a pool-sized buffer and the large one is freed.
    oversized: bool,
    /// End of stream or an error was returned: the stream is over.
    done: bool,
    /// A PUBLISH was returned since the socket last had nothing more (`Read::Drained` is due).
    unsettled: bool,
}

/// What the reader yields: a packet, or word that the socket has nothing more for now, once
/// after a read that brought PUBLISHes. There the connection hands over the PUBLISHes it holds
/// (publishes.rs says why not with a message to itself); after other packets it holds none
/// until then, so a subscriber's acknowledgements cost no such item.
#[derive(Debug, PartialEq)]
pub(super) enum Read {
    Packet(Packet),
    Drained,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    pub(super) fn new(io: R, codec: MqttCodec, metrics: Arc<Metrics>, watch: Rc<Watch>) -> Self {
        PacketReader {
            io,
            codec,
            buf: BytesMut::new(),
            metrics,
            watch,
            after_connect: 0,
            oversized: false,
            done: false,
            unsettled: false,
        }
    }

    /// Hold packets before CONNECT (the CONNECT itself) to `max` bytes, so that a peer that
    /// has not connected cannot make the broker buffer more; the codec's own limit applies
    /// from CONNECT on.
    pub(super) fn with_connect_limit(mut self, max: u32) -> Self {
        let after = self.codec.max_packet_size();
        if max < after {
            self.codec.set_max_packet_size(max);
            self.after_connect = after;
        }
        self
    }

    /// Read once from the socket into `buf`: 0 bytes means end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() == 0 {
            self.buf = buffers::take();
            self.oversized = false;
        } else if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf.reserve(buffers::BUF_LEN);
        }
        // Large packets only: the codec reserves their room before this read.
        self.oversized |= self.buf.capacity() > buffers::KEEP_AT_MOST;
        let n = match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        self.metrics.bytes_received.fetch_add(n as u64, Relaxed);
        if n > 0 {
            self.watch.touch();
        }
        Poll::Ready(Ok(n))
    }

    /// Hand the buffer back to the pool if it holds nothing; keep only a small partial packet
    /// in a buffer of its own size, and the rest after a large packet in a pool-sized buffer.
    /// For when the socket has nothing more for now.
    fn release(&mut self) {
        if self.buf.is_empty() {
            buffers::give(std::mem::take(&mut self.buf));
        } else if self.buf.len() <= COMPACT_BELOW {
            let partial = BytesMut::from(&self.buf[..]);
            buffers::give(std::mem::replace(&mut self.buf, partial));
        } else if self.oversized && self.buf.len() <= buffers::BUF_LEN {
            let mut small = buffers::take();
            small.extend_from_slice(&self.buf);
            buffers::give(std::mem::replace(&mut self.buf, small));
            self.oversized = false;
        }
    }

    fn fail(&mut self, e: DecodeError) -> Poll<Option<Result<Read, DecodeError>>> {
        self.done = true;
        buffers::give(std::mem::take(&mut self.buf));
        Poll::Ready(Some(Err(e)))
    }
}

impl<R: AsyncRead + Unpin> Stream for PacketReader<R> {
    type Item = Result<Read, DecodeError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if !this.buf.is_empty() {
                match this.codec.decode(&mut this.buf) {
                    Ok(Some(packet)) => {
                        if this.buf.is_empty() {
                            buffers::give(std::mem::take(&mut this.buf));
                        }
                        if this.after_connect != 0 && matches!(packet, Packet::Connect(_)) {
                            this.codec.set_max_packet_size(this.after_connect);
                            this.after_connect = 0;
                        }
                        this.unsettled |= matches!(packet, Packet::Publish(_));
                        return Poll::Ready(Some(Ok(Read::Packet(packet))));
                    }
                    Ok(None) => {}
                    Err(e) => return this.fail(e),
                }
            }
            match this.poll_fill(cx) {
                Poll::Ready(Ok(0)) => {
                    this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    // What tokio-util's `FramedRead` reports for a truncated last frame.
                    let e = io::Error::other("bytes remaining on stream");
                    return this.fail(e.into());
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return this.fail(e.into()),
                Poll::Pending => {
                    this.release();
                    if std::mem::take(&mut this.unsettled) {
                        // The next poll reads again (tokio knows the socket is not ready:
                        // no system call) and registers the wake-up.
                        return Poll::Ready(Some(Ok(Read::Drained)));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
