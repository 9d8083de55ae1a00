//! Restart delays of a bridge (`restart_timeout`): doubling from `start` up to `max`, with
//! optional jitter (a random delay between half and all of the current one), so a remote that
//! refuses the bridge is retried ever more slowly, never in a busy loop (pure but the random
//! draw).

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub start: Duration,
    pub max: Duration,
    pub jitter: bool,
}

/// The delays of one run of failures; [`Delays::reset`] after a connection was accepted.
pub struct Delays {
    cfg: Backoff,
    current: Duration,
}

impl Delays {
    pub fn new(cfg: Backoff) -> Delays {
        Delays {
            cfg,
            current: cfg.start,
        }
    }

    pub fn reset(&mut self) {
        self.current = self.cfg.start;
    }

    /// The next delay, then the one after it doubles (up to `max`).
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.cfg.max.max(self.cfg.start));
        if self.cfg.jitter {
            let half = d / 2;
            half + half.mul_f64(random_unit())
        } else {
            d
        }
    }
}

/// A number in [0, 1) from the process's random hasher seed and the clock.
fn random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_and_resets() {
        let mut d = Delays::new(Backoff {
            start: Duration::from_secs(1),
            max: Duration::from_secs(5),
            jitter: false,
        });
        let secs: Vec<u64> = (0..5).map(|_| d.next_delay().as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 5, 5]);
        d.reset();
        assert_eq!(d.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        let mut d = Delays::new(Backoff {
            start: Duration::from_secs(8),
            max: Duration::from_secs(8),
            jitter: true,
        });
        for _ in 0..50 {
            let x = d.next_delay();
            assert!(
                x >= Duration::from_secs(4) && x <= Duration::from_secs(8),
                "{x:?}"
            );
        }
    }
}
