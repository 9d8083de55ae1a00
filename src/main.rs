//! `courtier`: start the broker, stop it cleanly on SIGINT/SIGTERM (SIGHUP does not stop it).

use clap::Parser;
use courtier::cli::{Cli, Command};
use courtier::Server;
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: the broker allocates and frees small objects on every
/// message (envelopes, `Arc<Message>`) from several threads; measured in docs/PERFORMANCE.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Heap for $SYS/broker/heap/current: the memory mimalloc has committed (what it holds from
/// the system, in use or cached for reuse).
fn mimalloc_heap_bytes() -> Option<u64> {
    let mut commit = 0usize;
    let null = std::ptr::null_mut();
    // SAFETY: every out-parameter is either null (not wanted) or a valid pointer to a usize.
    unsafe {
        libmimalloc_sys::mi_process_info(null, null, null, null, null, &mut commit, null, null)
    };
    Some(commit as u64)
}

fn main() -> ExitCode {
    // First, before the heap grows: see the function's doc for why and what it measured.
    courtier_actors::process::disable_transparent_huge_pages();
    courtier_actors::process::set_heap_probe(mimalloc_heap_bytes);
    let cli = Cli::parse();
    if let Some(Command::Passwd(args)) = &cli.command {
        return passwd(args);
    }
    if let Some(Command::Ctl(args)) = &cli.command {
        return courtier::ctl::run(args);
    }
    // vars() panics on non-UTF-8 entries; skip those (they cannot be COURTIER__ keys anyway).
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let settings = match cli.load_settings(env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("courtier: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        print!("{}", settings.to_toml());
        return ExitCode::SUCCESS;
    }
    // RUST_LOG, else [log] level; courtier::trace at INFO for traces (config/trace.rs).
    let rust_log = std::env::var("RUST_LOG").ok();
    let filters = settings
        .trace
        .log_filters(&settings.log.level, rust_log.as_deref());
    let mut logger = env_logger::Builder::new();
    logger.parse_filters(&filters);
    if let Ok(style) = std::env::var("RUST_LOG_STYLE") {
        logger.parse_write_style(&style);
    }
    logger.format_timestamp_millis().init();
    log::info!("courtier {} starting", env!("CARGO_PKG_VERSION"));
    if let Some(n) = courtier_actors::process::raise_open_files_limit() {
        // One descriptor per connection, plus a few for listeners and the store.
        log::info!("open files limit: {n} (one per connection)");
    }

    let system = actix_rt::System::new();
    system.block_on(async move {
        // Handlers first: a signal that arrives while the listeners start must stop the broker
        // cleanly, not kill it with the default action.
        let signals = Signals::install();
        let server = match Server::start_configured(&settings).await {
            Ok(s) => s,
            Err(e) => {
                log::error!("{e}");
                eprintln!("courtier: {e}");
                // Leave at once: tearing down half-started actors buys nothing.
                std::process::exit(1);
            }
        };
        signals.wait(|| reload(&cli, &server)).await;
        server.stop().await;
    });
    log::info!("courtier stopped");
    ExitCode::SUCCESS
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            term: signal(SignalKind::terminate()).expect("SIGTERM handler"),
            int: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            hup: signal(SignalKind::hangup()).expect("SIGHUP handler"),
        }
    }

    /// Until SIGINT or SIGTERM. SIGHUP, which Mosquitto users send to reload (`docker kill -s
    /// HUP`), calls `on_hup` and goes on; its default action would stop the broker without a
    /// clean shutdown.
    async fn wait(mut self, mut on_hup: impl FnMut()) {
        loop {
            tokio::select! {
                _ = self.int.recv() => return log::info!("SIGINT received"),
                _ = self.term.recv() => return log::info!("SIGTERM received"),
                _ = self.hup.recv() => on_hup(),
            }
        }
    }
}

/// SIGHUP: the configuration is read again as at start-up (files, environment, options) and its
/// `[security]` part applied: allow_anonymous, the password file and the ACL file. Anything
/// that does not load keeps the old settings; other sections need a restart.
fn reload(cli: &Cli, server: &courtier::Server) {
    log::info!("SIGHUP received: reloading [security] (allow_anonymous, password_file, acl_file)");
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let settings = match cli.load_settings(env) {
        Ok(s) => s,
        Err(e) => {
            return log::error!(
                "reload failed, the old security settings stay in force: configuration error: {e}"
            )
        }
    };
    if let Err(e) = server.reload_security(&settings) {
        log::error!("reload failed, the old security settings stay in force: {e}");
    }
}

/// `courtier passwd`: exit status 0 on success, 1 with a message on error (as mosquitto_passwd).
fn passwd(args: &courtier::security::passwd::PasswdArgs) -> ExitCode {
    let mut prompt = |p: &str| rpassword::prompt_password(p);
    match courtier::security::passwd::run(args, &mut prompt) {
        Ok(warning) => {
            if let Some(w) = warning {
                eprintln!("Warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::from(1)
        }
    }
}
