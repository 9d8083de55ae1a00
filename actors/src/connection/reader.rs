//! The read half of a connection: a stream of decoded packets that holds no buffer while idle.
//!
//! `FramedRead` keeps its read buffer for the life of the connection (2 KB here before, 8 KB by
//! default), although an idle MQTT client has nothing buffered between packets. This reader
//! reads into one scratch buffer per thread and copies only what it received into the
//! connection's own buffer, which is dropped again as soon as every byte is decoded. An idle
//! connection therefore holds no read buffer at all; one that stops in the middle of a packet
//! holds that partial packet only. The extra copy is one `memcpy` per read; the decoder copies
//! topics and payloads out of the buffer anyway (codec/packet.rs), so nothing a packet keeps
//! points into it.
//!
//! It also counts received bytes for $SYS and metrics.

use crate::codec::{DecodeError, MqttCodec, Packet};
use crate::metrics::Metrics;
use bytes::BytesMut;
use futures_util::Stream;
use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::Decoder;

/// Bytes read per syscall at most through the scratch buffer. Larger reads mean fewer syscalls
/// for a busy publisher; the scratch buffer exists once per worker thread, not per connection.
const SCRATCH_LEN: usize = 16 * 1024;

/// A partial packet left in a buffer this size or smaller is moved to a buffer of its own size
/// when the socket has nothing more, so an idle connection never pins a whole read.
const COMPACT_BELOW: usize = 512;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_LEN].into_boxed_slice());
}

pub(super) struct PacketReader<R> {
    io: R,
    codec: MqttCodec,
    /// Received bytes not decoded yet: no allocation while empty.
    buf: BytesMut,
    metrics: Arc<Metrics>,
    /// End of stream or an error was returned: the stream is over.
    done: bool,
}

impl<R: AsyncRead + Unpin> PacketReader<R> {
    pub(super) fn new(io: R, codec: MqttCodec, metrics: Arc<Metrics>) -> Self {
        PacketReader {
            io,
            codec,
            buf: BytesMut::new(),
            metrics,
            done: false,
        }
    }

    /// Read once from the socket into `buf`: 0 bytes means end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let io = Pin::new(&mut self.io);
        let n = if self.buf.capacity() - self.buf.len() >= SCRATCH_LEN {
            // The decoder reserved room for a large packet: read straight into it.
            match tokio_util::io::poll_read_buf(io, cx, &mut self.buf) {
                Poll::Ready(Ok(n)) => n,
                other => return other,
            }
        } else {
            let buf = &mut self.buf;
            let read = SCRATCH.with(|scratch| {
                let mut scratch = scratch.borrow_mut();
                let mut rb = ReadBuf::new(&mut scratch[..]);
                io.poll_read(cx, &mut rb).map_ok(|()| {
                    buf.extend_from_slice(rb.filled());
                    rb.filled().len()
                })
            });
            match read {
                Poll::Ready(Ok(n)) => n,
                other => return other,
            }
        };
        self.metrics.bytes_received.fetch_add(n as u64, Relaxed);
        Poll::Ready(Ok(n))
    }

    fn fail(&mut self, e: DecodeError) -> Poll<Option<Result<Packet, DecodeError>>> {
        self.done = true;
        self.buf = BytesMut::new();
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
                            this.buf = BytesMut::new();
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
                    if !this.buf.is_empty() && this.buf.len() <= COMPACT_BELOW {
                        this.buf = BytesMut::from(&this.buf[..]);
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
