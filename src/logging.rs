//! The process's logger: env_logger's formatting and filter, behind a `log::Log` that can swap
//! the filter when SIGHUP reloads `[log] level` and `[trace]` (env_logger's own filter is fixed
//! once built).

use arc_swap::ArcSwap;
use std::sync::OnceLock;

/// The installed logger; `None` until [`init`] (tests and library users install their own).
static LOGGER: OnceLock<Reloadable> = OnceLock::new();

/// Forwards every record to the current env_logger, which [`reload`] replaces.
struct Reloadable {
    current: ArcSwap<env_logger::Logger>,
}

impl log::Log for Reloadable {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.current.load().enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        self.current.load().log(record)
    }

    fn flush(&self) {
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
    let local = std::env::var("TZ").is_ok_and(|tz| !tz.is_empty());
    builder.format(move |buf, record| {
        use std::io::Write;
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

/// Installs the process's logger with `filters`. Panics if a logger is already installed.
pub fn init(filters: &str) {
    let logger = build(filters);
    let max = logger.filter();
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
