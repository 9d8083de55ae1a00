//! A reader wrapper that counts received bytes for $SYS and metrics, without touching the codec.

use crate::metrics::Metrics;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Counts received bytes for $SYS and metrics without touching the codec.
pub(super) struct CountingReader<R> {
    pub(super) inner: R,
    pub(super) metrics: Arc<Metrics>,
}

impl<R: AsyncRead + Unpin> AsyncRead for CountingReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.metrics.bytes_received.fetch_add(n as u64, Relaxed);
        }
        res
    }
}
