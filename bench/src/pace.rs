//! Fixed-rate publishing: how many messages a rate-limited publisher may send now.
//!
//! Two kinds. The latency probe sends one message per tick of 1/rate and skips a late tick
//! instead of catching up, so a stalled generator never sends the broker a burst that would
//! show up as latency. A steady background load (the fan-in of `latency --load-rate`) can run
//! at far more messages per second than tokio's 1 ms timer ticks: it earns rate × elapsed time
//! in credit, sent in bursts once per millisecond, and keeps at most 10 ms of credit after a
//! stall, so a broker that cannot keep up gets a lower load, not an ever larger burst.

use std::time::{Duration, Instant};
use tokio::time::{interval, Interval, MissedTickBehavior};

/// Credit a steady load may accumulate, in seconds of its rate.
const MAX_BACKLOG_S: f64 = 0.010;

pub struct Pace {
    ticker: Interval,
    kind: Kind,
    /// Messages allowed now.
    tokens: u64,
}

enum Kind {
    Probe,
    Steady {
        rate: f64,
        last: Instant,
        credit: f64,
    },
}

impl Pace {
    /// One message per 1/`rate` seconds, late ticks skipped (the latency probe).
    pub fn probe(rate: f64) -> Pace {
        Pace::new(Duration::from_secs_f64(1.0 / rate), Kind::Probe)
    }

    /// `rate` messages per second on average, in bursts once per millisecond (at most one
    /// message per tick when the rate is below 1,000/s).
    pub fn steady(rate: f64) -> Pace {
        let period = Duration::from_secs_f64((1.0 / rate).max(0.001));
        let kind = Kind::Steady {
            rate,
            last: Instant::now(),
            credit: 0.0,
        };
        Pace::new(period, kind)
    }

    fn new(period: Duration, kind: Kind) -> Pace {
        let mut ticker = interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Pace {
            ticker,
            kind,
            tokens: 0,
        }
    }

    /// Messages the publisher may send now.
    pub fn allowed(&self) -> u64 {
        self.tokens
    }

    /// The publisher sent `n` of the allowed messages.
    pub fn sent(&mut self, n: u64) {
        self.tokens = self.tokens.saturating_sub(n);
        if let Kind::Steady { credit, .. } = &mut self.kind {
            *credit = (*credit - n as f64).max(0.0);
        }
    }

    /// Wait for the next tick and add what it earns.
    pub async fn tick(&mut self) {
        self.ticker.tick().await;
        self.earn(Instant::now());
    }

    /// Add what a tick at `now` earns.
    fn earn(&mut self, now: Instant) {
        match &mut self.kind {
            Kind::Probe => self.tokens += 1,
            Kind::Steady { rate, last, credit } => {
                let earned = *rate * now.duration_since(*last).as_secs_f64();
                *credit = (*credit + earned).min((*rate * MAX_BACKLOG_S).max(1.0));
                *last = now;
                self.tokens = *credit as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(p: &Pace) -> Instant {
        match p.kind {
            Kind::Steady { last, .. } => last,
            Kind::Probe => unreachable!("a steady pace"),
        }
    }

    /// A steady pace earns rate × elapsed time, far above the timer's 1,000 ticks per second.
    #[tokio::test(flavor = "current_thread")]
    async fn steady_pace_reaches_rates_above_the_timer_resolution() {
        let mut p = Pace::steady(50_000.0);
        let t0 = started(&p);
        let mut sent = 0;
        for ms in 1..=200 {
            p.earn(t0 + Duration::from_millis(ms));
            let n = p.allowed();
            p.sent(n);
            sent += n;
        }
        // 200 ms at 50,000/s, less at most the fraction of one message left as credit.
        assert!((9_999..=10_000).contains(&sent), "sent {sent}");
    }

    /// After a stall the steady pace allows at most 10 ms of its rate at once.
    #[tokio::test(flavor = "current_thread")]
    async fn steady_pace_caps_the_backlog_after_a_stall() {
        let mut p = Pace::steady(100_000.0);
        let t0 = started(&p);
        p.earn(t0 + Duration::from_millis(50));
        assert_eq!(p.allowed(), 1_000);
        p.sent(p.allowed());
        assert_eq!(p.allowed(), 0);
        p.earn(t0 + Duration::from_millis(51));
        assert_eq!(p.allowed(), 100);
    }

    /// The probe earns one message per tick and none for ticks it missed.
    #[tokio::test(flavor = "current_thread")]
    async fn probe_pace_skips_missed_ticks() {
        let mut p = Pace::probe(1_000.0);
        p.tick().await;
        std::thread::sleep(Duration::from_millis(20));
        p.tick().await;
        assert_eq!(p.allowed(), 2);
    }
}
