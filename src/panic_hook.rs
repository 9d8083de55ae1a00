//! The process's panic hook: every panic is logged at ERROR, with the thread it happened on and
//! a backtrace, through `log` (so it reaches the same place as every other line). A panic in an
//! actor handler is then caught and counted by the actor's supervision
//! (`courtier_actors::supervision`); the broker goes on.

use std::backtrace::Backtrace;
use std::sync::Once;

static INSTALLED: Once = Once::new();

/// Install the hook (once per process; later calls do nothing). Where no logger takes ERROR
/// lines, the previous hook (Rust's default: stderr) reports the panic instead.
pub fn install() {
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !log::log_enabled!(log::Level::Error) {
                return previous(info);
            }
            let thread = std::thread::current();
            let name = thread.name().unwrap_or("unnamed");
            // Captured whatever RUST_BACKTRACE says: a panic in a broker that runs on is a bug
            // report, and the backtrace is what makes it one.
            let backtrace = Backtrace::force_capture();
            log::error!("panic in thread {name}: {info}\nbacktrace:\n{backtrace}");
        }));
    });
}
