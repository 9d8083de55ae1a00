//! A record's clock: wall-clock microseconds, read cheaply enough for a record per hop.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock microseconds since the Unix epoch, for a record's `time_us`. A traced message
/// makes a record per hop, and the system clock's read (`clock_gettime`) costs each ~35 ns
/// in a VM; so each thread reads it once a second ([`REBASE_US`]) and adds the time elapsed
/// since by the CPU's cycle counter (quanta's raw reading, scaled to µs by one multiplication;
/// quanta falls back to the monotonic clock where the counter is not usable). A clock step
/// (NTP) shows within a second.
pub fn now_us() -> u64 {
    thread_local! {
        /// The counter's reading and the wall clock's, µs since the epoch, at the last rebase.
        static BASE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    let counter = Counter::get();
    let raw = counter.clock.raw();
    BASE.with(|base| {
        let (at, wall_us) = base.get();
        // A counter behind `at` (another core's) wraps to a huge value: a rebase.
        let elapsed_us = counter.to_us(raw.wrapping_sub(at));
        if at != 0 && elapsed_us < REBASE_US {
            return wall_us + elapsed_us;
        }
        let wall_us = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        base.set((raw, wall_us));
        wall_us
    })
}

/// How often [`now_us`] reads the system clock, per thread.
const REBASE_US: u64 = 1_000_000;

/// The cycle counter and its scale: µs = ticks × `us_per_2_40` / 2^40.
struct Counter {
    clock: quanta::Clock,
    us_per_2_40: u64,
}

impl Counter {
    fn get() -> &'static Counter {
        static COUNTER: OnceLock<Counter> = OnceLock::new();
        COUNTER.get_or_init(|| {
            let clock = quanta::Clock::new();
            let us_per_2_40 = clock.delta_as_nanos(0, 1 << 40) / 1000;
            Counter { clock, us_per_2_40 }
        })
    }

    #[inline(always)]
    fn to_us(&self, ticks: u64) -> u64 {
        ((ticks as u128 * self.us_per_2_40 as u128) >> 40) as u64
    }
}
