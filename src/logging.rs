//! The process's logger: env_logger's formatting and filter, behind a `log::Log` that can swap
//! the filter when SIGHUP reloads `[log] level` and `[trace]` (env_logger's own filter is fixed
//! once built). The lines of runtime trace records are written by the trace log writer thread
//! (courtier_actors::trace_log) in the same format, so that a traced message's hops cost its
//! session no `write` each; `[trace]` lines stay here, in order with the other lines (tests
//! and users read a `[trace]` hop before the disconnect that follows it).

use arc_swap::ArcSwap;
use courtier_actors::trace_log;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

/// The installed logger; `None` until [`init`] (tests and library users install their own).
static LOGGER: OnceLock<Reloadable> = OnceLock::new();

/// Forwards every record to the current env_logger, which [`reload`] replaces.
struct Reloadable {
    current: ArcSwap<env_logger::Logger>,
}

const TRACE: &str = courtier_actors::trace::TARGET;

/// `[<time> <LEVEL> <target>] ` of a trace line, as [`build`]'s format writes it.
fn prefix(buf: &mut String, utc: chrono::DateTime<chrono::Utc>, level: log::Level, local: bool) {
    let _ = match local {
        true => {
            let now = utc.with_timezone(&chrono::Local);
            write!(
                buf,
                "[{} {level:<5} {TRACE}] ",
                now.format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            )
        }
        false => write!(
            buf,
            "[{} {level:<5} {TRACE}] ",
            utc.format("%Y-%m-%dT%H:%M:%S%.3fZ")
        ),
    };
}

impl log::Log for Reloadable {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.current.load().enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        self.current.load().log(record)
    }

    /// Writes every line handed to the trace log writer before returning (at shutdown).
    fn flush(&self) {
        trace_log::flush();
        self.current.load().flush()
    }
}

/// A logger for `filters` (env_logger's syntax, as RUST_LOG): one plain line per record,
/// `[<time> <LEVEL> <target>] <message>`, local times with an offset when TZ is set (a
/// container with TZ wants them), else UTC. The lines carry no colour codes, so the writer is
/// told to pass them through as they are: stripping codes that are not there, and
/// env_logger's multi-line indenting, cost a traced message's log lines a third of its broker
/// time (docs/PERFORMANCE.md, "Runtime traces"). RUST_LOG_STYLE still overrides it.
fn build(filters: &str) -> env_logger::Logger {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(filters);
    builder.write_style(env_logger::WriteStyle::Always);
    if let Ok(style) = std::env::var("RUST_LOG_STYLE") {
        builder.parse_write_style(&style);
    }
    let local = local_time();
    builder.format(move |buf, record| {
        let (level, target) = (record.level(), record.target());
        match local {
            true => {
                let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z");
                writeln!(buf, "[{now} {level:<5} {target}] {}", record.args())
            }
            false => {
                let now = buf.timestamp_millis();
                writeln!(buf, "[{now} {level:<5} {target}] {}", record.args())
            }
        }
    });
    builder.build()
}

/// Local times with an offset when TZ is set, else UTC.
fn local_time() -> bool {
    std::env::var("TZ").is_ok_and(|tz| !tz.is_empty())
}

/// The start of the trace log writer's record lines (courtier_actors::trace_log), as
/// [`prefix`] writes it: made once per second of the records' times, then only the
/// milliseconds written.
struct RecordPrefix {
    local: bool,
    /// The second `head` and `tail` are of.
    second: Option<u64>,
    /// `[2026-12-07T12:18:17.`
    head: String,
    /// `Z INFO  courtier::trace] `, or the offset for local times.
    tail: String,
}

impl RecordPrefix {
    fn write(&mut self, buf: &mut String, time_us: u64) {
        let second = time_us / 1_000_000;
        if self.second != Some(second) {
            let at = chrono::DateTime::from_timestamp(second as i64, 0).unwrap_or_default();
            let mut whole = String::new();
            prefix(&mut whole, at, log::Level::Info, self.local);
            // `[<date>T<time>.000<zone> INFO  courtier::trace] `: split around the millis.
            let Some(dot) = whole.find(".000") else {
                return buf.push_str(&whole);
            };
            self.head = whole[..=dot].to_owned();
            self.tail = whole[dot + 4..].to_owned();
            self.second = Some(second);
        }
        let ms = (time_us / 1000 % 1000) as u32;
        buf.push_str(&self.head);
        for digit in [ms / 100, ms / 10 % 10, ms % 10] {
            buf.push(char::from(b'0' + digit as u8));
        }
        buf.push_str(&self.tail);
    }
}

/// Installs the process's logger with `filters`, and starts the trace log writer. Panics if
/// a logger is already installed.
pub fn init(filters: &str) {
    let logger = build(filters);
    let max = logger.filter();
    let local = local_time();
    let mut records = RecordPrefix {
        local,
        second: None,
        head: String::new(),
        tail: String::new(),
    };
    trace_log::install(Box::new(move |buf, time_us| records.write(buf, time_us)));
    let installed = LOGGER.get_or_init(|| Reloadable {
        current: ArcSwap::from_pointee(logger),
    });
    log::set_logger(installed).expect("the process's logger is installed once");
    log::set_max_level(max);
}

/// Applies new `filters` to the logger [`init`] installed (no-op without one).
pub fn reload(filters: &str) {
    let Some(installed) = LOGGER.get() else {
        return;
    };
    let logger = build(filters);
    let max = logger.filter();
    // Raise the global ceiling before the new filter is in place and lower it after, so that
    // no record the new filter wants is cut off meanwhile.
    if max > log::max_level() {
        log::set_max_level(max);
    }
    installed.current.store(std::sync::Arc::new(logger));
    log::set_max_level(max);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer's cached prefix is the one every other line gets, at the record's time.
    #[test]
    fn a_record_line_starts_as_every_log_line() {
        let mut p = RecordPrefix {
            local: false,
            second: None,
            head: String::new(),
            tail: String::new(),
        };
        // 2026-12-07T12:18:17.069411Z, then 7 ms and 1 s later.
        for us in [
            1_796_645_897_069_411,
            1_796_645_897_007_000,
            1_796_645_898_999_999,
        ] {
            let mut cached = String::new();
            p.write(&mut cached, us);
            let mut whole = String::new();
            let at = chrono::DateTime::from_timestamp_micros(us as i64).unwrap();
            prefix(&mut whole, at, log::Level::Info, false);
            assert_eq!(cached, whole);
        }
        let mut line = String::new();
        p.write(&mut line, 1_796_645_897_069_411);
        assert_eq!(line, "[2026-12-07T12:18:17.069Z INFO  courtier::trace] ");
    }
}
