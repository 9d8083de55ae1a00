//! `[[bridges]]`: store-and-forward links to other brokers, with Mosquitto's `connection`
//! names where they exist (see `courtier_actors::bridge`). Like `[[listeners]]`, the last
//! source that has `[[bridges]]` gives the whole list.

use super::*;
use courtier_actors::bridge::{Backoff, BridgeSpec, BridgeTopic, Direction};
use courtier_actors::codec::{ProtocolVersion, QoS};
use courtier_actors::topic;
use std::path::PathBuf;

/// One `[[bridges]]` table.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BridgeSettings {
    /// Names the bridge in logs, metrics, the API and its `$SYS` state topic.
    pub name: String,
    /// "host:port", tried in order.
    pub addresses: Vec<String>,
    /// Start each attempt at the address after the last one used (else always at the first).
    #[serde(default)]
    pub round_robin: bool,
    pub topics: Vec<TopicSettings>,
    /// Default: "courtier.<name>".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_clientid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_username: Option<String>,
    /// Never serialized: the effective settings (`--print-config`, `GET /api/v1/broker`)
    /// show no secrets.
    #[serde(default, skip_serializing)]
    pub remote_password: Option<String>,
    /// Mosquitto's default: the remote keeps the bridge's session (and its QoS 1/2 state).
    #[serde(default)]
    pub cleansession: bool,
    /// Seconds; 0 = no keep-alive.
    #[serde(default = "default_keepalive")]
    pub keepalive: u16,
    #[serde(default)]
    pub protocol: BridgeProtocol,
    /// 3.1.1: announce the bridge to the remote with bit 0x80 of the protocol level.
    #[serde(default = "yes")]
    pub try_private: bool,
    /// Connect with TLS (implied by `cafile`, `certfile`); without `cafile`, the system's CAs.
    #[serde(default)]
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cafile: Option<PathBuf>,
    /// Client certificate chain (PEM), with `keyfile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certfile: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyfile: Option<PathBuf>,
    /// The name the remote's certificate must carry; default: the address's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    #[serde(default)]
    pub restart_timeout: RestartTimeout,
    /// Retained `$SYS/broker/connection/<name>/state`: "1" connected, "0" not.
    #[serde(default = "yes")]
    pub notifications: bool,
    /// 0 = unlimited.
    #[serde(default = "default_max_queued_messages")]
    pub max_queued_messages: usize,
    /// 0 = unlimited.
    #[serde(default = "default_max_queued_bytes")]
    pub max_queued_bytes: usize,
    #[serde(default)]
    pub queue_overflow: OverflowPolicy,
    /// QoS 1/2 messages in flight to the remote at once.
    #[serde(default = "default_max_inflight")]
    pub max_inflight_messages: u16,
}

/// One `topics` entry: Mosquitto's `topic <pattern> <direction> <qos> <local> <remote>`.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TopicSettings {
    pub pattern: String,
    #[serde(default)]
    pub direction: DirectionSetting,
    #[serde(default)]
    pub qos: u8,
    #[serde(default)]
    pub local_prefix: String,
    #[serde(default)]
    pub remote_prefix: String,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DirectionSetting {
    In,
    #[default]
    Out,
    Both,
}

#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BridgeProtocol {
    #[default]
    #[serde(rename = "3.1.1")]
    V311,
    #[serde(rename = "5.0")]
    V5,
}

/// Delays between connection attempts, in seconds: from `start`, doubling up to `max`;
/// `jitter` waits a random time between half and all of each.
#[derive(Deserialize, Serialize, Debug, Clone, Copy, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RestartTimeout {
    pub start: f64,
    pub max: f64,
    pub jitter: bool,
}

impl Default for RestartTimeout {
    fn default() -> Self {
        RestartTimeout {
            start: 5.0,
            max: 30.0,
            jitter: true,
        }
    }
}

fn yes() -> bool {
    true
}
fn default_keepalive() -> u16 {
    60
}
fn default_max_queued_messages() -> usize {
    1_000_000
}
fn default_max_queued_bytes() -> usize {
    1 << 30
}
fn default_max_inflight() -> u16 {
    100
}

impl BridgeSettings {
    pub fn uses_tls(&self) -> bool {
        self.tls || self.cafile.is_some() || self.certfile.is_some()
    }

    /// The broker core's view of this bridge.
    pub fn spec(&self) -> BridgeSpec {
        let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.001));
        BridgeSpec {
            name: self.name.clone(),
            addresses: self.addresses.clone(),
            round_robin: self.round_robin,
            topics: self
                .topics
                .iter()
                .map(|t| BridgeTopic {
                    pattern: t.pattern.clone(),
                    direction: match t.direction {
                        DirectionSetting::In => Direction::In,
                        DirectionSetting::Out => Direction::Out,
                        DirectionSetting::Both => Direction::Both,
                    },
                    qos: QoS::from_u8(t.qos).unwrap_or_default(),
                    local_prefix: t.local_prefix.clone(),
                    remote_prefix: t.remote_prefix.clone(),
                })
                .collect(),
            remote_clientid: self
                .remote_clientid
                .clone()
                .unwrap_or_else(|| format!("courtier.{}", self.name)),
            remote_username: self.remote_username.clone(),
            remote_password: self.remote_password.clone(),
            cleansession: self.cleansession,
            keepalive: self.keepalive,
            protocol: match self.protocol {
                BridgeProtocol::V311 => ProtocolVersion::V311,
                BridgeProtocol::V5 => ProtocolVersion::V5,
            },
            try_private: self.try_private,
            restart: Backoff {
                start: secs(self.restart_timeout.start),
                max: secs(self.restart_timeout.max),
                jitter: self.restart_timeout.jitter,
            },
            notifications: self.notifications,
            max_queued_messages: self.max_queued_messages,
            max_queued_bytes: self.max_queued_bytes,
            queue_overflow: self.queue_overflow,
            max_inflight: self.max_inflight_messages,
        }
    }
}

/// Checks the `bridges` value of one source: an array of tables, known keys and kinds (serde
/// names an unknown key), then the rules of each bridge.
pub(super) fn check(
    value: &toml::Value,
    origin: &Origin,
) -> Result<Vec<BridgeSettings>, ConfigError> {
    let invalid = |key: String, value: &toml::Value, expected: String| ConfigError::InvalidValue {
        origin: origin.clone(),
        key,
        value: value.to_string(),
        expected,
    };
    let Some(items) = value.as_array() else {
        return Err(invalid(
            "bridges".into(),
            value,
            "an array of tables ([[bridges]] sections)".into(),
        ));
    };
    let mut specs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let spec: BridgeSettings = item.clone().try_into().map_err(|e: toml::de::Error| {
            invalid(format!("bridges[{i}]"), item, e.message().trim().to_owned())
        })?;
        specs.push(spec);
    }
    validate(&specs, origin)?;
    Ok(specs)
}

/// The rules of each bridge; errors name `bridges[i].key` and the reason.
pub(super) fn validate(specs: &[BridgeSettings], origin: &Origin) -> Result<(), ConfigError> {
    for (i, b) in specs.iter().enumerate() {
        let fail = |key: &str, value: String, expected: &str| ConfigError::InvalidValue {
            origin: origin.clone(),
            key: format!("bridges[{i}].{key}"),
            value,
            expected: expected.to_owned(),
        };
        let name_ok = !b.name.is_empty()
            && b.name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(fail(
                "name",
                format!("{:?}", b.name),
                "a non-empty name of letters, digits, '-', '_' and '.' (it is a $SYS topic level)",
            ));
        }
        if specs[..i].iter().any(|o| o.name == b.name) {
            return Err(fail(
                "name",
                format!("{:?}", b.name),
                "a name no other bridge has",
            ));
        }
        if b.addresses.is_empty() {
            return Err(fail("addresses", "[]".into(), "at least one \"host:port\""));
        }
        for (j, a) in b.addresses.iter().enumerate() {
            let port_ok = a
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !port_ok {
                return Err(fail(
                    &format!("addresses[{j}]"),
                    format!("{a:?}"),
                    "\"host:port\" (e.g. \"broker.example.com:8883\")",
                ));
            }
        }
        if b.topics.is_empty() {
            return Err(fail("topics", "[]".into(), "at least one topic entry"));
        }
        for (j, t) in b.topics.iter().enumerate() {
            let key = |k: &str| format!("topics[{j}].{k}");
            if t.qos > 2 {
                return Err(fail(&key("qos"), t.qos.to_string(), "0, 1 or 2"));
            }
            for (k, prefix) in [
                ("local_prefix", &t.local_prefix),
                ("remote_prefix", &t.remote_prefix),
            ] {
                if prefix.contains(['+', '#']) {
                    return Err(fail(
                        &key(k),
                        format!("{prefix:?}"),
                        "a prefix without wildcards",
                    ));
                }
            }
            for filter in [
                format!("{}{}", t.local_prefix, t.pattern),
                format!("{}{}", t.remote_prefix, t.pattern),
            ] {
                if topic::validate_topic_filter(&filter).is_err() {
                    return Err(fail(
                        &key("pattern"),
                        format!("{:?}", t.pattern),
                        &format!("a valid topic filter with its prefix ({filter:?} is not)"),
                    ));
                }
            }
        }
        if b.certfile.is_some() != b.keyfile.is_some() {
            return Err(fail(
                if b.certfile.is_some() {
                    "keyfile"
                } else {
                    "certfile"
                },
                "none".into(),
                "certfile and keyfile: a client certificate needs both",
            ));
        }
        if b.tls_server_name.is_some() && !b.uses_tls() {
            return Err(fail(
                "tls_server_name",
                "set".into(),
                "not set without TLS (tls, cafile)",
            ));
        }
        let r = &b.restart_timeout;
        if !(r.start > 0.0 && r.start.is_finite()) {
            return Err(fail(
                "restart_timeout.start",
                r.start.to_string(),
                "seconds > 0",
            ));
        }
        if !(r.max >= r.start && r.max.is_finite()) {
            return Err(fail(
                "restart_timeout.max",
                r.max.to_string(),
                "seconds >= start",
            ));
        }
        if b.max_inflight_messages == 0 {
            return Err(fail("max_inflight_messages", "0".into(), "1..=65535"));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "bridges_tests.rs"]
mod tests;
