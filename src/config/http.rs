//! `[http]` and `[metrics]`: the actix-web listeners (MQTT over WebSocket, /metrics, health).

use serde::{Deserialize, Serialize};

/// `[http]`: MQTT over WebSocket on `/mqtt` and `/`, plus /healthz, /readyz and (unless
/// `metrics = false`) /metrics.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub enabled: bool,
    pub bind: String,
    /// 0 lets the operating system choose.
    pub port: u16,
    /// Also serve /metrics here (turn off to expose it only on the `[metrics]` listener).
    pub metrics: bool,
}

/// `[metrics]`: an optional separate listener for /metrics, /healthz and /readyz, so that
/// metrics need not be reachable wherever the WebSocket port is.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub bind: String,
    pub port: u16,
}

/// `bind:port`, with brackets around an IPv6 address.
pub(crate) fn host_port(bind: &str, port: u16) -> String {
    if bind.contains(':') && !bind.starts_with('[') {
        format!("[{bind}]:{port}")
    } else {
        format!("{bind}:{port}")
    }
}

impl HttpSettings {
    pub fn listen_addr(&self) -> String {
        host_port(&self.bind, self.port)
    }
}

impl MetricsSettings {
    pub fn listen_addr(&self) -> String {
        host_port(&self.bind, self.port)
    }
}
