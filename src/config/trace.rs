//! `[trace]`: message-path traces (see `courtier_actors::trace`). Courtier's own section:
//! Mosquitto has no equivalent.

use serde::{Deserialize, Serialize};

/// `[trace]`: which messages get one INFO line per hop under the log target
/// `courtier::trace`. Both lists empty (the default) turns tracing off.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TraceSettings {
    /// MQTT topic filters (wildcards allowed): messages published to a matching topic.
    pub topics: Vec<String>,
    /// Client ids: messages they publish, and every delivery to them.
    pub clients: Vec<String>,
    /// The most log lines a runtime trace writes per second (0: one per record); the records
    /// over it are kept and streamed, only not logged.
    pub log_lines_per_sec: u32,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            topics: Vec::new(),
            clients: Vec::new(),
            log_lines_per_sec: courtier_actors::trace_live::DEFAULT_LOG_LINES_PER_SEC,
        }
    }
}

impl TraceSettings {
    pub fn enabled(&self) -> bool {
        !self.topics.is_empty() || !self.clients.is_empty()
    }

    /// The `env_logger` filter spec: `RUST_LOG` if set, else `[log] level`; the target
    /// `courtier::trace` is added at INFO (unless the spec already names it), so traces, from
    /// `[trace]` or started at run time over the API, show even with `level = "warn"`. It logs
    /// nothing while nothing is traced.
    pub fn log_filters(&self, level: &str, rust_log: Option<&str>) -> String {
        let base = match rust_log {
            Some(spec) if !spec.trim().is_empty() => spec.to_owned(),
            _ => level.to_lowercase(),
        };
        if !base.contains(courtier_actors::trace::TARGET) {
            format!("{base},{}=info", courtier_actors::trace::TARGET)
        } else {
            base
        }
    }
}
