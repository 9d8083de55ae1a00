//! Credits: how many packets a connection may have handed to its session and not yet seen
//! answered. The connection takes one per packet; the session gives it back (by dropping it)
//! once the packet is handled and its reply is in the writer channel. With no credit left the
//! connection stops reading, so a client that outruns the broker, or does not read its
//! acknowledgements, is slowed by TCP flow control and holds at most `PIPELINE` packets here.
//!
//! A semaphore rather than a reply per packet: a packet costs one `do_send` and two atomic
//! operations, not a task, a oneshot and a future per packet (docs/PERFORMANCE.md).

use std::sync::Arc;
use tokio::sync::Semaphore;

/// Packets a connection may have in flight to its session.
pub const PIPELINE: usize = 16;

/// The connection's side: where credits come from.
#[derive(Clone)]
pub struct Credits(Arc<Semaphore>);

impl Default for Credits {
    fn default() -> Self {
        Credits(Arc::new(Semaphore::new(PIPELINE)))
    }
}

impl Credits {
    /// A credit if one is free.
    pub fn try_take(&self) -> Option<Credit> {
        let permit = self.0.try_acquire().ok()?;
        permit.forget();
        Some(Credit(self.0.clone()))
    }

    /// Wait for a credit (None once closed, which never happens today).
    pub async fn take(self) -> Option<Credit> {
        let permit = self.0.acquire().await.ok()?;
        permit.forget();
        Some(Credit(self.0))
    }
}

/// One packet's credit; returned to the connection when dropped, whatever happens to the
/// packet (handled, refused, or dropped with a session that stopped).
pub struct Credit(Arc<Semaphore>);

impl Drop for Credit {
    fn drop(&mut self) {
        self.0.add_permits(1);
    }
}

impl std::fmt::Debug for Credit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_credit_is_returned() {
        let credits = Credits::default();
        let taken: Vec<Credit> = (0..PIPELINE).map_while(|_| credits.try_take()).collect();
        assert_eq!(taken.len(), PIPELINE);
        assert!(credits.try_take().is_none(), "window full");
        drop(taken);
        assert!(credits.try_take().is_some());
    }
}
