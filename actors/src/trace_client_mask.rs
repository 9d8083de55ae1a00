//! A session's cache of the runtime traces (trace_live.rs) that select its client, so that an
//! untraced session's hops cost two atomic loads while other clients are traced.

use crate::trace_live::LiveTraces;
use std::cell::Cell;
use std::sync::atomic::Ordering::Acquire;

/// A session's cache of the traces selecting its client: recomputed (one snapshot load, one
/// hash lookup) only when the active set changed, so that an untraced session's hops cost two
/// atomic loads while other clients are traced. One `u64` (the mask in the high half, the low
/// 32 bits of the generation in the low half): it lives in every Session, whose size is
/// watched (session/size_tests.rs).
#[derive(Debug)]
pub struct ClientMask(Cell<u64>);

impl Default for ClientMask {
    fn default() -> Self {
        ClientMask(Cell::new(u32::MAX as u64))
    }
}

impl ClientMask {
    /// The bits of the running traces that select `client` (0 when none runs).
    #[inline(always)]
    pub fn get(&self, live: &LiveTraces, client: &str) -> u32 {
        if live.mask() == 0 {
            return 0;
        }
        let generation = live.generation.load(Acquire);
        let cached = self.0.get();
        if cached as u32 == generation {
            return (cached >> 32) as u32 & live.mask();
        }
        let mask = live.client_mask(client);
        self.0.set(((mask as u64) << 32) | generation as u64);
        mask
    }
}
