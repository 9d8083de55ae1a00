//! The key schema: every known key, its kind and range, and unknown-key suggestions.

use super::*;
use courtier_actors::topic;

pub(super) fn unknown_key(origin: &Origin, key: String) -> ConfigError {
    let candidates = SCHEMA
        .iter()
        .map(|s| {
            if key.contains('.') {
                format!("{}.{}", s.section, s.key)
            } else {
                s.section.to_owned()
            }
        })
        .collect::<Vec<_>>();
    // A Mosquitto name without Courtier's unit suffix: sys_interval -> sys_interval_secs.
    let with_unit = [format!("{key}_secs"), format!("{key}_ms")];
    if let Some(c) = candidates.iter().find(|c| with_unit.contains(c)) {
        return ConfigError::UnknownKey {
            origin: origin.clone(),
            suggestion: Some(c.clone()),
            key,
        };
    }
    let suggestion = candidates
        .into_iter()
        .map(|c| (edit_distance(&key, &c), c))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| c);
    ConfigError::UnknownKey {
        origin: origin.clone(),
        key,
        suggestion,
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// What a key accepts. This table and the defaults file must list the same keys (tested).
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    Str {
        non_empty: bool,
    },
    OneOf {
        values: &'static [&'static str],
        ignore_case: bool,
    },
    /// An array of MQTT topic filters, each valid as in a SUBSCRIBE (wildcards allowed).
    TopicFilters,
    /// An array of non-empty strings (client ids).
    Strings,
    /// An array of names from this list.
    Names(&'static [&'static str]),
}

impl Kind {
    pub(super) fn accepts(self, value: &toml::Value) -> bool {
        match (self, value) {
            (Kind::Int { min, max }, toml::Value::Integer(i)) => (min..=max).contains(i),
            (Kind::Bool, toml::Value::Boolean(_)) => true,
            (Kind::Str { non_empty }, toml::Value::String(s)) => !non_empty || !s.is_empty(),
            (
                Kind::OneOf {
                    values,
                    ignore_case,
                },
                toml::Value::String(s),
            ) => values
                .iter()
                .any(|v| *v == s || (ignore_case && v.eq_ignore_ascii_case(s))),
            (Kind::TopicFilters, toml::Value::Array(items)) => items.iter().all(|v| {
                v.as_str()
                    .is_some_and(|f| topic::validate_topic_filter(f).is_ok())
            }),
            (Kind::Strings, toml::Value::Array(items)) => items
                .iter()
                .all(|v| v.as_str().is_some_and(|s| !s.is_empty())),
            (Kind::Names(names), toml::Value::Array(items)) => items
                .iter()
                .all(|v| v.as_str().is_some_and(|s| names.contains(&s))),
            _ => false,
        }
    }

    pub(super) fn expected(self) -> String {
        match self {
            Kind::Int { min, max: i64::MAX } => format!("an integer {min} or more"),
            Kind::Int { min, max } => format!("an integer {min}..{max}"),
            Kind::Bool => "true or false".to_owned(),
            Kind::Str { non_empty: true } => "a non-empty string".to_owned(),
            Kind::Str { non_empty: false } => "a string".to_owned(),
            Kind::OneOf { values, .. } => {
                let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
                format!("one of {}", quoted.join(", "))
            }
            Kind::TopicFilters => {
                "an array of MQTT topic filters, e.g. [\"home/+/light\", \"alarm/#\"]".to_owned()
            }
            Kind::Strings => "an array of non-empty strings".to_owned(),
            Kind::Names(names) => {
                let quoted: Vec<String> = names.iter().map(|v| format!("\"{v}\"")).collect();
                format!("an array of names from {}", quoted.join(", "))
            }
        }
    }

    /// [`Kind::expected`], plus why `value` is not that when the kind can say more: the first
    /// invalid topic filter and the rule it breaks.
    pub(super) fn expected_for(self, value: &toml::Value) -> String {
        let expected = self.expected();
        if let (Kind::TopicFilters, toml::Value::Array(items)) = (self, value) {
            for item in items.iter().filter_map(|v| v.as_str()) {
                if let Err(e) = topic::validate_topic_filter(item) {
                    return format!("{expected}; {item:?} is not one: {e}");
                }
            }
        }
        expected
    }

    /// An environment value: strings are taken as they are (quotes optional); anything else
    /// is read as a TOML scalar, falling back to the raw text (which then fails the check).
    pub(super) fn parse_env(self, raw: &str) -> toml::Value {
        let parsed = parse_toml_value(raw);
        match self {
            Kind::Str { .. } | Kind::OneOf { .. } => match parsed {
                Some(toml::Value::String(s)) if raw.trim_start().starts_with(['"', '\'']) => {
                    toml::Value::String(s)
                }
                _ => toml::Value::String(raw.to_owned()),
            },
            Kind::Int { .. } | Kind::Bool => {
                parsed.unwrap_or_else(|| toml::Value::String(raw.to_owned()))
            }
            // A TOML array (`["a/#", "b"]`), or else the whole value as the only element:
            // topic filters and client ids may contain commas, so no comma splitting.
            Kind::TopicFilters | Kind::Strings | Kind::Names(_) => match parsed {
                Some(array @ toml::Value::Array(_)) => array,
                _ => toml::Value::Array(vec![toml::Value::String(raw.to_owned())]),
            },
        }
    }
}

pub(super) struct KeySpec {
    pub(super) section: &'static str,
    pub(super) key: &'static str,
    pub(super) kind: Kind,
}

pub(super) const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

pub(super) const fn key(section: &'static str, key: &'static str, kind: Kind) -> KeySpec {
    KeySpec { section, key, kind }
}

pub(super) const SCHEMA: &[KeySpec] = &[
    key("listener", "bind", Kind::Str { non_empty: true }),
    key("listener", "port", int(0, u16::MAX as i64)),
    key("security", "allow_anonymous", Kind::Bool),
    key("security", "password_file", Kind::Str { non_empty: false }),
    key("security", "acl_file", Kind::Str { non_empty: false }),
    key("security", "auth_methods", Kind::Names(&["SCRAM-SHA-512"])),
    key("security", "failed_auth_delay_ms", int(0, 3_600_000)),
    key("security", "failed_auth_delay_max_ms", int(0, 3_600_000)),
    key("limits", "max_packet_size", int(2, 268_435_460)),
    key("limits", "max_connect_packet_size", int(2, 268_435_460)),
    key("limits", "max_subscriptions_per_client", int(0, i64::MAX)),
    key("limits", "max_topic_levels", int(0, i64::MAX)),
    key("limits", "max_connections", int(-1, i64::MAX)),
    key("limits", "max_inflight_messages", int(1, u16::MAX as i64)),
    key("limits", "max_keepalive", int(1, u16::MAX as i64)),
    key("limits", "max_topic_alias", int(0, u16::MAX as i64)),
    key("limits", "max_topic_alias_out", int(0, u16::MAX as i64)),
    key("limits", "receive_maximum", int(1, u16::MAX as i64)),
    key("limits", "max_queued_messages", int(0, i64::MAX)),
    key("limits", "max_queued_bytes", int(0, i64::MAX)),
    key(
        "limits",
        "queue_overflow",
        Kind::OneOf {
            values: &["drop_new", "drop_oldest"],
            ignore_case: false,
        },
    ),
    key("limits", "queue_qos0_messages", Kind::Bool),
    key("broker", "connect_timeout_secs", int(1, i64::MAX)),
    key("broker", "write_timeout_secs", int(1, i64::MAX)),
    key("broker", "sys_interval_secs", int(0, i64::MAX)),
    key("broker", "worker_threads", int(0, i64::MAX)),
    key("broker", "shutdown_timeout_secs", int(0, i64::MAX)),
    key("broker", "retain_available", Kind::Bool),
    key("broker", "wildcard_subscriptions_available", Kind::Bool),
    key("broker", "subscription_identifiers_available", Kind::Bool),
    key("broker", "shared_subscriptions_available", Kind::Bool),
    key(
        "broker",
        "shared_subscription_strategy",
        Kind::OneOf {
            values: &["round_robin", "random", "shortest_queue"],
            ignore_case: false,
        },
    ),
    key("persistence", "enabled", Kind::Bool),
    key("persistence", "data_dir", Kind::Str { non_empty: true }),
    key(
        "persistence",
        "sync",
        Kind::OneOf {
            values: &["always", "periodic", "never"],
            ignore_case: false,
        },
    ),
    key("persistence", "sync_interval_ms", int(1, i64::MAX)),
    key(
        "persistence",
        "on_corruption",
        Kind::OneOf {
            values: &["move_aside", "fail"],
            ignore_case: false,
        },
    ),
    key("persistence", "session_expiry_secs", int(0, i64::MAX)),
    key("persistence", "write_buffer_cap_mb", int(0, 1_048_576)),
    key(
        "persistence",
        "import_mosquitto_db",
        Kind::Str { non_empty: false },
    ),
    key(
        "log",
        "level",
        Kind::OneOf {
            values: &["error", "warn", "info", "debug", "trace"],
            ignore_case: true,
        },
    ),
    key("http", "enabled", Kind::Bool),
    key("http", "bind", Kind::Str { non_empty: true }),
    key("http", "port", int(0, u16::MAX as i64)),
    key("http", "metrics", Kind::Bool),
    key("metrics", "enabled", Kind::Bool),
    key("metrics", "bind", Kind::Str { non_empty: true }),
    key("metrics", "port", int(0, u16::MAX as i64)),
    key("trace", "topics", Kind::TopicFilters),
    key("trace", "clients", Kind::Strings),
    key("trace", "log_lines_per_sec", int(0, u32::MAX as i64)),
    key("admin", "users", Kind::Strings),
    key("admin", "token_file", Kind::Str { non_empty: false }),
];

pub(super) fn spec(section: &str, name: &str) -> Option<&'static KeySpec> {
    SCHEMA
        .iter()
        .find(|s| s.section == section && s.key == name)
}
