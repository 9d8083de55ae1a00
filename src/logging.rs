//! The process's logger: env_logger's formatting and filter, behind a `log::Log` that can swap
//! the filter when SIGHUP reloads `[log] level` and `[trace]` (env_logger's own filter is fixed
//! once built). Trace lines (target `courtier::trace`) are written by the trace log writer
//! thread (courtier_actors::trace_log) in the same format, so that a traced message's hops
//! cost its session no `write` each.

use arc_swap::ArcSwap;
use courtier_actors::trace_log;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

/// The installed logger; `None` until [`init`] (tests and library users install their own).
static LOGGER: OnceLock<Reloadable> = OnceLock::new();

/// Forwards every record to the current env_logger, which [`reload`] replaces, and trace
/// lines to the trace log writer.
struct Reloadable {
    current: ArcSwap<env_logger::Logger>,
    /// Local times (TZ set), else UTC.
    local: bool,
}

const TRACE: &str = courtier_actors::trace::TARGET;

/// When a line happened: now, or a trace record's time (µs since the Unix epoch).
enum Stamp {
    Now,
    Micros(u64),
}

/// `[<time> <LEVEL> <target>] ` of a trace line, as [`build`]'s format writes it.
fn prefix(buf: &mut String, at: Stamp, level: log::Level, local: bool) {
    let utc = match at {
        Stamp::Now => chrono::Utc::now(),
        Stamp::Micros(us) => chrono::DateTime::from_timestamp_micros(us as i64).unwrap_or_default(),
    };
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
        let current = self.current.load();
        if record.target() == TRACE && current.matches(record) {
            let mut line = String::with_capacity(160);
            prefix(&mut line, Stamp::Now, record.level(), self.local);
            let _ = writeln!(line, "{}", record.args());
            if let Err(line) = trace_log::line(line) {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            return;
        }
        current.log(record)
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

/// Installs the process's logger with `filters`, and starts the trace log writer. Panics if
/// a logger is already installed.
pub fn init(filters: &str) {
    let logger = build(filters);
    let max = logger.filter();
    let local = local_time();
    trace_log::install(Box::new(move |buf, time_us| {
        prefix(buf, Stamp::Micros(time_us), log::Level::Info, local)
    }));
    let installed = LOGGER.get_or_init(|| Reloadable {
        current: ArcSwap::from_pointee(logger),
        local,
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
