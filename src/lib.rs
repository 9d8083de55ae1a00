//! Courtier: the server shell around the broker core (`courtier-actors`).
//!
//! - [`bridge`]: `[[bridges]]`: dialing the remotes (TCP, TLS) and starting the bridges.
//! - [`config`]: settings from the embedded defaults, `conf.d/*.toml` and the environment.
//! - [`cli`]: command-line options.
//! - [`listener`]: the MQTT/TCP accept loop.
//! - [`http`]: actix-web: MQTT over WebSocket, /metrics, /healthz, /readyz, the admin API.
//! - [`ctl`]: `courtier ctl`, the admin API from the terminal.
//! - [`logging`]: the process's logger, whose filter SIGHUP reloads; [`panic_hook`]: panics
//!   logged at ERROR with a backtrace.
//! - [`mosquitto_db`], [`mosquitto_import`]: Mosquitto's `mosquitto.db`, parsed and imported
//!   once into an empty store.
//! - [`security`]: password file, ACL file, `courtier passwd`.
//! - [`healthcheck`]: `courtier healthcheck`, the container's HEALTHCHECK.
//! - [`server`]: start-up order, shutdown with a deadline, and `ServerThread` for tests.

pub mod bridge;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod healthcheck;
pub mod hints;
pub mod http;
pub mod listener;
pub mod listeners;
pub mod logging;
pub mod mosquitto_db;
pub mod mosquitto_import;
pub mod panic_hook;
pub mod reloader;
pub mod security;
pub mod server;
pub mod tls;

pub use server::{Server, ServerThread};
