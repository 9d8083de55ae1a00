//! `courtier`: start the broker, stop it cleanly on SIGINT/SIGTERM (SIGHUP does not stop it).

use clap::Parser;
use courtier::cli::{Cli, Command};
use courtier::http::api::ReloadError;
use courtier::Server;
use std::process::ExitCode;
use std::sync::Arc;

mod allocator;

/// mimalloc instead of glibc malloc: the broker allocates and frees small objects on every
/// message (envelopes, `Arc<Message>`) from several threads; measured in docs/PERFORMANCE.md.
/// Plain `mi_malloc` where that is aligned enough (allocator.rs).
#[global_allocator]
static GLOBAL: allocator::Allocator = allocator::Allocator;

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

/// After a bulk free (actors/src/heap_release.rs): mimalloc frees this thread's cached pages
/// and purges freed memory now instead of at its next allocation.
fn mimalloc_collect() {
    // SAFETY: mi_collect takes no pointers; it may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

fn main() -> ExitCode {
    // First, before the heap grows: see the function's doc for why and what it measured.
    courtier_actors::process::disable_transparent_huge_pages();
    courtier_actors::process::set_heap_probe(mimalloc_heap_bytes);
    courtier_actors::heap_release::set_hook(mimalloc_collect);
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Passwd(args)) => return passwd(args),
        Some(Command::ConvertMosquittoConf { file }) => return convert(file),
        _ => {}
    }
    if let Some(Command::Ctl(args)) = &cli.command {
        return courtier::ctl::run(args);
    }
    if let Some(Command::Ctl(args)) = &cli.command {
        return courtier::ctl::run(args);
    }
    // vars() panics on non-UTF-8 entries; skip those (they cannot be COURTIER__ keys anyway).
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let (settings, notes) = match cli.load_settings_noted(env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("courtier: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Healthcheck { timeout }) = &cli.command {
        return healthcheck(&settings, *timeout);
    }
    if cli.check_config {
        for note in &notes {
            eprintln!("courtier: note: {note}");
        }
        match courtier::mosquitto_import::preview(&settings) {
            Ok(Some(import)) => eprintln!("courtier: mosquitto.db: {import}"),
            Ok(None) => {}
            Err(e) => {
                eprintln!("courtier: configuration error: {e}");
                return ExitCode::from(2);
            }
        }
        print!("{}", settings.to_toml());
        return ExitCode::SUCCESS;
    }
    // RUST_LOG, else [log] level; courtier::trace at INFO for traces (config/trace.rs).
    let rust_log = std::env::var("RUST_LOG").ok();
    let filters = settings
        .trace
        .log_filters(&settings.log.level, rust_log.as_deref());
    courtier::logging::init(&filters);
    courtier::panic_hook::install();
    log::info!("courtier {} starting", env!("CARGO_PKG_VERSION"));
    if let Some(path) = &cli.mosquitto_conf {
        log::info!("reading Mosquitto configuration {}", path.display());
    }
    for note in &notes {
        log::warn!("{note}");
    }
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
        let (c, reloader) = (cli.clone(), server.reloader());
        server.set_reload(Arc::new(move || reload(&c, &reloader)));
        let reloader = server.reloader();
        signals
            .wait(|| {
                log::info!("SIGHUP received");
                let _ = reload(&cli, &reloader);
            })
            .await;
        server.stop().await;
    });
    log::info!("courtier stopped");
    // The trace log writer's last lines (src/logging.rs).
    log::logger().flush();
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

/// SIGHUP and `POST /api/v1/reload`: the TLS listeners' certificate, key and `cafile` files are
/// read again, and the configuration as at start-up (files, environment, options) with its
/// `[log] level` (RUST_LOG, when set, still wins), the `[trace]` filters and its `[security]`
/// part applied: allow_anonymous, the password file and the ACL file. Anything that does not
/// load keeps the old settings; other sections need a restart.
fn reload(
    cli: &Cli,
    reloader: &courtier::server::Reloader,
) -> Result<serde_json::Value, ReloadError> {
    log::info!("reloading TLS certificates, [log] level, [trace] and [security] (allow_anonymous, password_file, acl_file)");
    let cert_errors = reloader.certificates();
    for e in &cert_errors {
        log::error!("reload failed, {e}");
    }
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let settings = match cli.load_settings(env) {
        Ok(s) => s,
        Err(e) => {
            let error = format!("configuration error: {e}");
            log::error!("reload failed, the old settings stay in force: {error}");
            return Err(ReloadError {
                error,
                file: None,
                line: None,
            });
        }
    };
    let rust_log = std::env::var("RUST_LOG").ok();
    let filters = settings
        .trace
        .log_filters(&settings.log.level, rust_log.as_deref());
    courtier::logging::reload(&filters);
    log::info!("log filter: {filters}");
    reloader.trace(&settings);
    if let Err(e) = reloader.security(&settings) {
        let e = ReloadError::from(e);
        log::error!(
            "reload failed, the old security settings stay in force: {}",
            e.error
        );
        return Err(e);
    }
    let mut reloaded = vec!["log", "trace", "security"];
    if cert_errors.is_empty() {
        reloaded.insert(0, "tls_certificates");
        return Ok(serde_json::json!({ "reloaded": reloaded }));
    }
    Ok(serde_json::json!({
        "reloaded": reloaded,
        "tls_certificate_errors": cert_errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
    }))
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

/// `courtier convert-mosquitto-conf FILE`: the TOML on standard output, notes on standard error;
/// exit status 2 (as a configuration error at start-up) when the file cannot be converted.
fn convert(file: &std::path::Path) -> ExitCode {
    match courtier::config::mosquitto::read(file) {
        Ok(converted) => {
            for note in &converted.notes {
                eprintln!("courtier: note: {note}");
            }
            print!("{}", converted.toml);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("courtier: configuration error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `courtier healthcheck`: 0 when the broker answers, 1 (with the reason) when it does not.
fn healthcheck(settings: &courtier::config::Settings, timeout: u64) -> ExitCode {
    match courtier::healthcheck::probe(settings, std::time::Duration::from_secs(timeout)) {
        Ok(what) => {
            println!("healthy: {what}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::from(1)
        }
    }
}
