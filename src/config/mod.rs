//! Server settings, loaded from TOML and the environment.
//!
//! Sources, later ones winning key by key:
//!
//! 1. the compiled-in defaults, [`DEFAULTS_TOML`] (`conf.d/00-defaults.toml`), which also
//!    document every key;
//! 2. every `*.toml` file of the config directory, in file-name order (files whose name starts
//!    with a dot, and files with other extensions, are ignored);
//! 3. environment variables `COURTIER__SECTION__KEY` (case-insensitive section and key; the
//!    value is read as a TOML scalar, e.g. `1884`, `true`, `drop_oldest` or `"drop_oldest"`);
//! 4. command-line options (see [`crate::cli::Cli::apply`]).
//!
//! Each file and each variable is checked on its own before merging (unknown keys, types,
//! ranges), so that an error names the file or variable, the key and the reason. The merge
//! itself is done by the `config` crate, and the merged result is checked once more.

use std::path::PathBuf;
use std::time::Duration;

use courtier_actors::config::{
    BrokerConfig, OverflowPolicy, SharedStrategy, SyncPolicy, TraceFilter,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The compiled-in defaults; every key appears here, with its documentation.
pub const DEFAULTS_TOML: &str = include_str!("../../conf.d/00-defaults.toml");

/// Prefix of the environment variables read by [`load`]: `COURTIER__SECTION__KEY`.
pub const ENV_PREFIX: &str = "COURTIER__";

/// Everything the broker reads from its configuration.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub listener: ListenerSettings,
    pub security: SecuritySettings,
    pub limits: LimitsSettings,
    pub broker: BrokerSettings,
    pub persistence: PersistenceSettings,
    pub log: LogSettings,
    pub http: HttpSettings,
    pub metrics: MetricsSettings,
    pub trace: TraceSettings,
    pub admin: AdminSettings,
    /// `[[listeners]]`; when empty, `[listener]` is the one MQTT listener.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<ListenerSpec>,
    /// `[[bridges]]`: links to other brokers (none by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bridges: Vec<BridgeSettings>,
}

/// `[listener]`: MQTT over TCP.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerSettings {
    /// Address to listen on (Mosquitto's `bind_address`).
    pub bind: String,
    /// TCP port; 0 lets the operating system choose.
    pub port: u16,
}

/// `[security]`.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub allow_anonymous: bool,
    /// mosquitto_passwd's format; empty = none (see `crate::security`).
    pub password_file: PathBuf,
    /// Mosquitto's ACL format; empty = none (every client may do everything but write `$SYS`).
    pub acl_file: PathBuf,
    /// MQTT 5.0 enhanced authentication methods offered (`"SCRAM-SHA-512"`); empty = none.
    pub auth_methods: Vec<String>,
    /// Milliseconds the second consecutive failed login from one address waits for its
    /// answer, doubling with each further one; 0 = no delay (`crate::security::throttle`).
    pub failed_auth_delay_ms: u64,
    /// Milliseconds; the longest such wait.
    pub failed_auth_delay_max_ms: u64,
}

/// `[limits]`: Mosquitto's names, see [`BrokerConfig`] for the meaning.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitsSettings {
    /// Bytes, whole packet including the fixed header; 2..=268435460.
    pub max_packet_size: u32,
    /// Bytes, the packet before CONNECT (the CONNECT itself); 2..=268435460, at most
    /// max_packet_size in effect.
    pub max_connect_packet_size: u32,
    /// 0 = unlimited.
    pub max_subscriptions_per_client: usize,
    /// 0 = unlimited.
    pub max_topic_levels: usize,
    /// -1 = unlimited.
    pub max_connections: i64,
    /// 1..=65535.
    pub max_inflight_messages: u16,
    /// Seconds, 1..=65535.
    pub max_keepalive: u16,
    /// 0..=65535; 0 = no topic aliases.
    pub max_topic_alias: u16,
    /// 0..=65535; 0 = the broker assigns no topic aliases.
    pub max_topic_alias_out: u16,
    /// 1..=65535; 65535 = not announced.
    pub receive_maximum: u16,
    /// 0 = unlimited.
    pub max_queued_messages: usize,
    /// 0 = unlimited.
    pub max_queued_bytes: usize,
    pub queue_overflow: OverflowPolicy,
    pub queue_qos0_messages: bool,
}

/// `[broker]`: timers and threads.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BrokerSettings {
    pub connect_timeout_secs: u64,
    pub write_timeout_secs: u64,
    /// 0 disables $SYS.
    pub sys_interval_secs: u64,
    /// 0 = one per CPU core.
    pub worker_threads: usize,
    pub shutdown_timeout_secs: u64,
    pub retain_available: bool,
    pub wildcard_subscriptions_available: bool,
    pub subscription_identifiers_available: bool,
    /// Grant `$share/{group}/{filter}` subscriptions (CONNACK says so to 5.0 clients).
    pub shared_subscriptions_available: bool,
    /// Which member of a shared subscription's group receives a message.
    pub shared_subscription_strategy: SharedStrategy,
}

/// `[persistence]`.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PersistenceSettings {
    /// Keep sessions, queued and retained messages on disk (RocksDB) across restarts.
    pub enabled: bool,
    /// Relative to the working directory unless absolute.
    pub data_dir: PathBuf,
    /// When a message counts as stored before it is acknowledged.
    pub sync: SyncPolicy,
    /// WAL fsync period with sync = "periodic", in milliseconds.
    pub sync_interval_ms: u64,
    /// What to do with a store that cannot be read.
    pub on_corruption: OnCorruption,
    /// Delete persistent sessions of clients away this long; 0 = never.
    pub session_expiry_secs: u64,
    /// Megabytes, all RocksDB memtables together; 0 = no cap of its own.
    pub write_buffer_cap_mb: u64,
    /// A mosquitto.db to import into a new or empty store (`crate::mosquitto_import`); empty =
    /// none.
    pub import_mosquitto_db: PathBuf,
}

/// `persistence.on_corruption`.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnCorruption {
    MoveAside,
    Fail,
}

impl OnCorruption {
    pub fn name(self) -> &'static str {
        match self {
            OnCorruption::MoveAside => "move_aside",
            OnCorruption::Fail => "fail",
        }
    }
}

/// `[log]`.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// Used when `RUST_LOG` is not set: error, warn, info, debug or trace (any case).
    pub level: String,
}

impl ListenerSettings {
    /// `bind:port`, with brackets around an IPv6 address, ready for `TcpListener::bind`.
    pub fn listen_addr(&self) -> String {
        if self.bind.contains(':') && !self.bind.starts_with('[') {
            format!("[{}]:{}", self.bind, self.port)
        } else {
            format!("{}:{}", self.bind, self.port)
        }
    }
}

impl BrokerSettings {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

impl LogSettings {
    /// The level as a filter; `Info` if the (unvalidated) text is not a level.
    pub fn level_filter(&self) -> log::LevelFilter {
        self.level.parse().unwrap_or(log::LevelFilter::Info)
    }
}

impl Settings {
    /// The `[trace]` filters, `None` when none is set.
    pub fn trace_filter(&self) -> Option<Arc<TraceFilter>> {
        TraceFilter::new(self.trace.topics.clone(), self.trace.clients.clone()).map(Arc::new)
    }

    /// The compiled-in defaults, without reading any file or variable.
    pub fn defaults() -> Settings {
        load(&ConfigSources::default()).expect("the compiled-in defaults are valid")
    }

    /// The broker core's view of these settings.
    pub fn broker_config(&self) -> BrokerConfig {
        let limits = &self.limits;
        let broker = &self.broker;
        BrokerConfig {
            max_packet_size: limits.max_packet_size,
            max_connect_packet_size: limits.max_connect_packet_size,
            max_subscriptions_per_client: limits.max_subscriptions_per_client,
            max_topic_levels: limits.max_topic_levels,
            // -1 (the only valid negative value) means unlimited.
            max_connections: usize::try_from(limits.max_connections).ok(),
            max_inflight_messages: limits.max_inflight_messages,
            max_keepalive: limits.max_keepalive,
            max_topic_alias: limits.max_topic_alias,
            max_topic_alias_out: limits.max_topic_alias_out,
            receive_maximum: limits.receive_maximum,
            subscription_identifiers_available: broker.subscription_identifiers_available,
            wildcard_subscriptions_available: broker.wildcard_subscriptions_available,
            retain_available: broker.retain_available,
            max_queued_messages: limits.max_queued_messages,
            max_queued_bytes: limits.max_queued_bytes,
            queue_overflow: limits.queue_overflow,
            queue_qos0_messages: limits.queue_qos0_messages,
            allow_anonymous: self.security.allow_anonymous,
            connect_timeout: Duration::from_secs(broker.connect_timeout_secs),
            write_timeout: Duration::from_secs(broker.write_timeout_secs),
            sys_interval: (broker.sys_interval_secs > 0)
                .then(|| Duration::from_secs(broker.sys_interval_secs)),
            worker_threads: broker.worker_threads,
            sync: self.persistence.sync,
            sync_interval: Duration::from_millis(self.persistence.sync_interval_ms.max(1)),
            session_expiry: (self.persistence.session_expiry_secs > 0)
                .then(|| Duration::from_secs(self.persistence.session_expiry_secs)),
            trace: Arc::new(courtier_actors::trace_config::ConfigTrace::new(
                self.trace_filter(),
            )),
            shared_subscriptions_available: broker.shared_subscriptions_available,
            shared_subscription_strategy: broker.shared_subscription_strategy,
            live: {
                let live = courtier_actors::config::LiveTraces::default();
                live.set_log_limit(self.trace.log_lines_per_sec);
                Arc::new(live)
            },
        }
    }

    /// Checks every value against its allowed range; errors name the key and say the value
    /// comes from the "effective settings" (use [`load`] for errors that name the source).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_tracked(&Provenance::new())
    }
}

/// Where [`load`] reads from.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// Directory whose `*.toml` files are read in file-name order; `None` reads no file.
    /// When given it must exist and be a directory.
    pub config_dir: Option<PathBuf>,
    /// Environment variables, usually `std::env::vars().collect()`; only those starting
    /// with `COURTIER__` (any case) are read.
    pub env: Vec<(String, String)>,
}

mod error;
mod load;
pub(crate) use http::host_port;
pub use load::load;
use load::parse_toml_value;
pub(crate) use load::{load_tracked_with, Provenance};
mod http;
mod leaves;
mod schema;
pub use error::{ConfigError, Origin};
pub use http::{HttpSettings, MetricsSettings};
mod admin;
mod bridges;
mod listeners;
pub mod mosquitto;
mod mosquitto_bridge;
mod mosquitto_map;
mod trace;
pub use admin::AdminSettings;
pub use bridges::{BridgeSettings, RestartTimeout, TopicSettings};
pub use listeners::{ListenerSpec, Protocol, TlsVersion};
use schema::*;
pub use trace::TraceSettings;

#[cfg(test)]
mod tests;
