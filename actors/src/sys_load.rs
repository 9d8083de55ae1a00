//! Mosquitto's `$SYS/broker/load/...` values: exponentially decaying averages of per-minute
//! rates over 1, 5 and 15 minutes (like Unix load averages), updated every sys_interval.
//!
//! Pure arithmetic, so it is tested without a clock: on each update with `dt` seconds elapsed
//! and a counter that moved by `delta`, the rate is `delta * 60 / dt` per minute and each
//! average moves towards it by `1 - exp(-dt / window)`. This is Mosquitto's `calc_load`
//! (sys_tree.c), so dashboards built for Mosquitto read the same numbers.

/// The three windows, in seconds, and their topic suffixes.
pub const WINDOWS: [(f64, &str); 3] = [(60.0, "1min"), (300.0, "5min"), (900.0, "15min")];

/// The averages of one counter.
#[derive(Debug, Clone, Default)]
pub struct LoadAverage {
    last: Option<u64>,
    averages: [f64; 3],
}

impl LoadAverage {
    /// Feed the counter's current value, `dt_secs` after the previous update. The first call
    /// only records the starting point (no rate is known yet).
    pub fn update(&mut self, counter: u64, dt_secs: f64) {
        if let Some(last) = self.last {
            if dt_secs > 0.0 {
                let per_minute = counter.saturating_sub(last) as f64 * 60.0 / dt_secs;
                for (avg, (window, _)) in self.averages.iter_mut().zip(WINDOWS) {
                    let keep = (-dt_secs / window).exp();
                    *avg = per_minute + keep * (*avg - per_minute);
                }
            }
        }
        self.last = Some(counter);
    }

    /// The 1, 5 and 15 minute averages, per minute.
    pub fn averages(&self) -> [f64; 3] {
        self.averages
    }
}

/// The counters Mosquitto publishes load averages for, as `$SYS/broker/load/<name>/<window>`.
pub const LOAD_TOPICS: [&str; 9] = [
    "messages/received",
    "messages/sent",
    "publish/received",
    "publish/sent",
    "publish/dropped",
    "bytes/received",
    "bytes/sent",
    "connections",
    "sockets",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_update_only_records_the_start() {
        let mut l = LoadAverage::default();
        l.update(1000, 10.0);
        assert_eq!(l.averages(), [0.0; 3]);
    }

    #[test]
    fn steady_rate_converges_to_the_per_minute_rate() {
        let mut l = LoadAverage::default();
        let mut n = 0;
        l.update(n, 10.0);
        // 5 messages every 10 s = 30 per minute, for four hours.
        for _ in 0..1440 {
            n += 5;
            l.update(n, 10.0);
        }
        for avg in l.averages() {
            assert!((avg - 30.0).abs() < 0.01, "{avg}");
        }
    }

    #[test]
    fn one_interval_moves_each_window_by_its_decay() {
        let mut l = LoadAverage::default();
        l.update(0, 10.0);
        l.update(60, 60.0); // 60 per minute during one minute
        let [one, five, fifteen] = l.averages();
        assert!((one - 60.0 * (1.0 - (-1.0f64).exp())).abs() < 1e-9);
        assert!((five - 60.0 * (1.0 - (-0.2f64).exp())).abs() < 1e-9);
        assert!((fifteen - 60.0 * (1.0 - (-1.0f64 / 15.0).exp())).abs() < 1e-9);
        assert!(one > five && five > fifteen);
    }

    #[test]
    fn silence_decays_towards_zero() {
        let mut l = LoadAverage::default();
        l.update(0, 10.0);
        l.update(600, 60.0);
        let before = l.averages()[0];
        l.update(600, 60.0);
        assert!(l.averages()[0] < before * 0.5);
    }
}
