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
    /// End of stream or an error was returned: the stream is over.
    done: bool,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    pub(super) fn new(io: R, codec: MqttCodec, metrics: Arc<Metrics>, watch: Rc<Watch>) -> Self {
        PacketReader {
            io,
            codec,
            buf: BytesMut::new(),
            metrics,
            watch,
            done: false,
        }
    }

    /// Read once from the socket into `buf`: 0 bytes means end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() == 0 {
            self.buf = buffers::take();
        } else if self.buf.capacity() - self.buf.len() < MIN_ROOM {
            self.buf.reserve(buffers::BUF_LEN);
        }
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
    /// in a buffer of its own size. For when the socket has nothing more for now.
    fn release(&mut self) {
        if self.buf.is_empty() {
            buffers::give(std::mem::take(&mut self.buf));
        } else if self.buf.len() <= COMPACT_BELOW {
            let partial = BytesMut::from(&self.buf[..]);
            buffers::give(std::mem::replace(&mut self.buf, partial));
        }
    }

    fn fail(&mut self, e: DecodeError) -> Poll<Option<Result<Packet, DecodeError>>> {
        self.done = true;
        buffers::give(std::mem::take(&mut self.buf));
        Poll::Ready(Some(Err(e)))
    }
}

impl<R: AsyncRead + Unpin> Stream for PacketReader<R> {
    type Item = Result<Packet, DecodeError>;

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
                        return Poll::Ready(Some(Ok(packet)));
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
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
