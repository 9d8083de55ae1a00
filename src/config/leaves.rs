//! The settings as a flat list of `section.key` leaves: what `--print-config` renders as TOML
//! and what is validated against the key schema, in the order of the defaults file.

use super::*;

impl Settings {
    /// The settings as a TOML document, sections and keys in the order of the defaults file.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for (key, value) in self.leaves() {
            let (sec, name) = key.split_once('.').expect("leaf keys are section.key");
            if sec != section {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("{name} = {value}\n"));
        }
        for l in &self.listeners {
            let table = toml::to_string(l).unwrap_or_default();
            out.push_str(&format!("\n[[listeners]]\n{table}"));
        }
        for b in &self.bridges {
            let table = toml::to_string(b).unwrap_or_default();
            out.push_str(&format!("\n[[bridges]]\n{table}"));
        }
        out
    }

    /// Every setting as (`section.key`, value), in schema order.
    pub(super) fn leaves(&self) -> Vec<(&'static str, toml::Value)> {
        fn int<T: TryInto<i64>>(v: T) -> toml::Value {
            toml::Value::Integer(v.try_into().unwrap_or(i64::MAX))
        }
        let s = |v: &str| toml::Value::String(v.to_owned());
        let strings = |v: &[String]| toml::Value::Array(v.iter().map(|x| s(x)).collect());
        let l = &self.limits;
        let b = &self.broker;
        vec![
            ("listener.bind", s(&self.listener.bind)),
            ("listener.port", int(self.listener.port)),
            (
                "security.allow_anonymous",
                toml::Value::Boolean(self.security.allow_anonymous),
            ),
            (
                "security.password_file",
                s(&self.security.password_file.to_string_lossy()),
            ),
            (
                "security.acl_file",
                s(&self.security.acl_file.to_string_lossy()),
            ),
            (
                "security.auth_methods",
                strings(&self.security.auth_methods),
            ),
            (
                "security.failed_auth_delay_ms",
                int(self.security.failed_auth_delay_ms),
            ),
            (
                "security.failed_auth_delay_max_ms",
                int(self.security.failed_auth_delay_max_ms),
            ),
            ("limits.max_packet_size", int(l.max_packet_size)),
            (
                "limits.max_connect_packet_size",
                int(l.max_connect_packet_size),
            ),
            (
                "limits.max_subscriptions_per_client",
                int(l.max_subscriptions_per_client),
            ),
            ("limits.max_topic_levels", int(l.max_topic_levels)),
            ("limits.max_connections", int(l.max_connections)),
            ("limits.max_inflight_messages", int(l.max_inflight_messages)),
            ("limits.max_keepalive", int(l.max_keepalive)),
            ("limits.max_topic_alias", int(l.max_topic_alias)),
            ("limits.max_topic_alias_out", int(l.max_topic_alias_out)),
            ("limits.receive_maximum", int(l.receive_maximum)),
            ("limits.max_queued_messages", int(l.max_queued_messages)),
            ("limits.max_queued_bytes", int(l.max_queued_bytes)),
            ("limits.queue_overflow", s(l.queue_overflow.name())),
            (
                "limits.queue_qos0_messages",
                toml::Value::Boolean(l.queue_qos0_messages),
            ),
            ("broker.connect_timeout_secs", int(b.connect_timeout_secs)),
            ("broker.write_timeout_secs", int(b.write_timeout_secs)),
            ("broker.sys_interval_secs", int(b.sys_interval_secs)),
            ("broker.worker_threads", int(b.worker_threads)),
            ("broker.shutdown_timeout_secs", int(b.shutdown_timeout_secs)),
            (
                "broker.retain_available",
                toml::Value::Boolean(b.retain_available),
            ),
            (
                "broker.wildcard_subscriptions_available",
                toml::Value::Boolean(b.wildcard_subscriptions_available),
            ),
            (
                "broker.subscription_identifiers_available",
                toml::Value::Boolean(b.subscription_identifiers_available),
            ),
            (
                "broker.shared_subscriptions_available",
                toml::Value::Boolean(b.shared_subscriptions_available),
            ),
            (
                "broker.shared_subscription_strategy",
                s(b.shared_subscription_strategy.name()),
            ),
            (
                "persistence.enabled",
                toml::Value::Boolean(self.persistence.enabled),
            ),
            (
                "persistence.data_dir",
                s(&self.persistence.data_dir.to_string_lossy()),
            ),
            ("persistence.sync", s(sync_name(self.persistence.sync))),
            (
                "persistence.sync_interval_ms",
                int(self.persistence.sync_interval_ms),
            ),
            (
                "persistence.on_corruption",
                s(self.persistence.on_corruption.name()),
            ),
            (
                "persistence.session_expiry_secs",
                int(self.persistence.session_expiry_secs),
            ),
            (
                "persistence.write_buffer_cap_mb",
                int(self.persistence.write_buffer_cap_mb),
            ),
            (
                "persistence.import_mosquitto_db",
                s(&self.persistence.import_mosquitto_db.to_string_lossy()),
            ),
            ("log.level", s(&self.log.level)),
            ("http.enabled", toml::Value::Boolean(self.http.enabled)),
            ("http.bind", s(&self.http.bind)),
            ("http.port", int(self.http.port)),
            ("http.metrics", toml::Value::Boolean(self.http.metrics)),
            (
                "metrics.enabled",
                toml::Value::Boolean(self.metrics.enabled),
            ),
            ("metrics.bind", s(&self.metrics.bind)),
            ("metrics.port", int(self.metrics.port)),
            ("trace.topics", strings(&self.trace.topics)),
            ("trace.clients", strings(&self.trace.clients)),
            ("trace.log_lines_per_sec", int(self.trace.log_lines_per_sec)),
            ("admin.users", strings(&self.admin.users)),
            (
                "admin.token_file",
                s(&self.admin.token_file.to_string_lossy()),
            ),
        ]
    }

    pub(crate) fn validate_tracked(&self, provenance: &Provenance) -> Result<(), ConfigError> {
        for (key, value) in self.leaves() {
            let (section, name) = key.split_once('.').expect("leaf keys are section.key");
            let spec = spec(section, name).expect("every leaf is in the schema");
            if !spec.kind.accepts(&value) {
                return Err(ConfigError::InvalidValue {
                    origin: provenance.get(key).cloned().unwrap_or(Origin::Effective),
                    key: key.to_owned(),
                    value: value.to_string(),
                    expected: spec.kind.expected_for(&value),
                });
            }
        }
        let origin = provenance.get("listeners").cloned();
        listeners::validate(&self.listeners, &origin.unwrap_or(Origin::Effective))?;
        let origin = provenance.get("bridges").cloned();
        bridges::validate(&self.bridges, &origin.unwrap_or(Origin::Effective))
    }
}

fn sync_name(p: SyncPolicy) -> &'static str {
    match p {
        SyncPolicy::Always => "always",
        SyncPolicy::Periodic => "periodic",
        SyncPolicy::Never => "never",
    }
}
