//! What each mosquitto.conf key becomes in Courtier's settings (README.md, "Reading
//! mosquitto.conf", has the table). Keys are mapped in file order onto `conf.d` TOML; a key
//! Courtier cannot honour is an error naming `file:line`, the key and what to do instead, or a
//! note where ignoring it changes nothing a client can see.

use super::mosquitto::{Directive, Loc};
use super::{listeners, spec, ConfigError, Kind};
use toml::Value;

/// A `section.key` or listener key set from a line.
struct Set {
    key: &'static str,
    value: Value,
    from: String,
}

struct ListenerOut {
    loc: Loc,
    keys: Vec<Set>,
}

#[derive(Default)]
struct Mapper {
    sections: Vec<(&'static str, Set)>,
    listeners: Vec<ListenerOut>,
    /// The listener the following listener keys apply to.
    current: Option<usize>,
    /// The listener of `port` / `bind_address` and of listener keys before any `listener`.
    default_listener: Option<usize>,
    per_listener_settings: bool,
    security: Vec<security::SecurityLine>,
    persistence: Option<bool>,
    persistence_location: Option<(String, Directive)>,
    persistence_file: Option<(String, Directive)>,
    session_expiry: Option<(u64, Directive)>,
    log_level: Option<(usize, Directive)>,
    message_size_limit: Option<(i64, Directive)>,
    notes: Vec<String>,
}

pub(super) fn map(directives: &[Directive]) -> Result<(String, Vec<String>), ConfigError> {
    let mut m = Mapper::default();
    for d in directives {
        m.directive(d)?;
    }
    m.finish()
}

impl Mapper {
    fn note(&mut self, d: &Directive, text: &str) {
        self.notes.push(format!("{}: {}: {text}", d.loc, d.key));
    }

    fn set(&mut self, section: &'static str, key: &'static str, value: Value, d: &Directive) {
        let kind = spec(section, key).expect("a schema key").kind;
        debug_assert!(kind.accepts(&value), "{section}.{key} = {value}");
        let from = format!("{} {}", d.key, d.rest);
        self.sections
            .retain(|(s, set)| !(*s == section && set.key == key));
        self.sections.push((
            section,
            Set {
                key,
                value,
                from: format!("{}: {}", d.loc, from.trim()),
            },
        ));
    }

    fn limit(&mut self, key: &'static str, value: i64, d: &Directive) {
        self.set("limits", key, Value::Integer(value), d);
    }

    /// The listener that listener keys on this line apply to, created if needed.
    fn listener(&mut self, d: &Directive) -> usize {
        match self.current {
            Some(i) => i,
            None => self.default_listener(d),
        }
    }

    fn default_listener(&mut self, d: &Directive) -> usize {
        if let Some(i) = self.default_listener {
            return i;
        }
        self.listeners.insert(
            0,
            ListenerOut {
                loc: d.loc.clone(),
                keys: Vec::new(),
            },
        );
        self.current = self.current.map(|i| i + 1);
        self.security
            .iter_mut()
            .for_each(|s| s.3 = s.3.map(|i| i + 1));
        self.default_listener = Some(0);
        self.listener_set(0, "port", Value::Integer(1883), d);
        0
    }

    fn listener_set(&mut self, i: usize, key: &'static str, value: Value, d: &Directive) {
        let keys = &mut self.listeners[i].keys;
        keys.retain(|s| s.key != key);
        keys.push(Set {
            key,
            value,
            from: format!("{}: {} {}", d.loc, d.key, d.rest).trim().to_owned(),
        });
    }

    fn listener_value(&mut self, d: &Directive, key: &'static str) -> Result<(), ConfigError> {
        let kind = listener_kind(key);
        let value = match kind {
            Kind::Bool => Value::Boolean(parse_bool(d)?),
            _ => Value::String(needs_value(d)?.to_owned()),
        };
        if !kind.accepts(&value) {
            return Err(d.error(format!(
                "invalid value {:?}: expected {}",
                d.rest,
                kind.expected()
            )));
        }
        let i = self.listener(d);
        self.listener_set(i, key, value, d);
        Ok(())
    }

    fn directive(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let key = d.key.as_str();
        if let Some((_, why)) = NOTED.iter().find(|(k, _)| *k == key) {
            self.note(d, &format!("ignored: {why}"));
            return Ok(());
        }
        if let Some((_, what)) = REFUSED.iter().find(|(k, _)| *k == key) {
            return Err(d.error(*what));
        }
        if BRIDGE_KEYS.contains(&key) || key.starts_with("bridge_") {
            return Err(d.error(
                "bridges are not supported yet: keep this bridge in a Mosquitto next to \
                 Courtier (bridged to it), or remove the `connection` section",
            ));
        }
        if key.starts_with("auth_") || key.starts_with("plugin") || key == "global_plugin" {
            return Err(d.error(
                "plugins are not supported: use password_file and acl_file (users made with \
                 `courtier passwd`); see README.md, \"Migrating from the Home Assistant add-on\"",
            ));
        }
        match key {
            "listener" => self.listener_line(d),
            "port" => {
                let port = parse_int(d, 1, u16::MAX as i64)?;
                let i = self.default_listener(d);
                self.listener_set(i, "port", Value::Integer(port), d);
                Ok(())
            }
            "bind_address" => {
                let i = self.default_listener(d);
                let v = needs_value(d)?.to_owned();
                self.listener_set(i, "bind", Value::String(v), d);
                Ok(())
            }
            "socket_domain" => {
                let bind = match d.rest.as_str() {
                    "ipv4" => "0.0.0.0",
                    "ipv6" => "::",
                    v => return Err(d.error(format!("invalid value {v:?}: expected ipv4 or ipv6"))),
                };
                let i = self.listener(d);
                let has_bind = self.listeners[i].keys.iter().any(|s| s.key == "bind");
                if !has_bind {
                    self.listener_set(i, "bind", Value::String(bind.into()), d);
                }
                Ok(())
            }
            "protocol" => match d.rest.as_str() {
                "mqtt" | "websockets" => self.listener_value(d, "protocol"),
                v => Err(d.error(format!("invalid value {v:?}: expected mqtt or websockets"))),
            },
            "certfile" | "keyfile" | "cafile" => {
                let key = listeners::KEYS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .expect("key")
                    .0;
                self.listener_value(d, key)
            }
            "require_certificate" | "use_identity_as_username" | "use_subject_as_username" => {
                let key = listeners::KEYS
                    .iter()
                    .find(|(k, _)| *k == key)
                    .expect("key")
                    .0;
                self.listener_value(d, key)
            }
            "tls_version" => match d.rest.as_str() {
                "tlsv1.2" | "tlsv1.3" => self.listener_value(d, "tls_version"),
                "tlsv1.1" | "tlsv1" => Err(
                    d.error("TLS 1.0 and 1.1 are not supported (insecure): use tlsv1.2 or tlsv1.3")
                ),
                v => Err(d.error(format!("invalid value {v:?}: expected tlsv1.2 or tlsv1.3"))),
            },
            "max_connections" => {
                let n = parse_int(d, -1, i64::MAX)?;
                match self.current {
                    Some(i) => self.listener_set(i, "max_connections", Value::Integer(n), d),
                    None => self.limit("max_connections", n, d),
                }
                Ok(())
            }
            "allow_zero_length_clientid" => match parse_bool(d)? {
                true => Ok(()),
                false => Err(d.error(
                    "false is not supported: Courtier accepts an empty client id with clean \
                     session (as MQTT 3.1.1 allows); remove the line",
                )),
            },
            "allow_anonymous" => {
                let v = Value::Boolean(parse_bool(d)?);
                self.security_line("allow_anonymous", v, d)
            }
            "password_file" | "acl_file" => {
                let key = if key == "acl_file" {
                    "acl_file"
                } else {
                    "password_file"
                };
                let v = Value::String(needs_value(d)?.to_owned());
                self.security_line(key, v, d)
            }
            "per_listener_settings" => self.per_listener_line(d),
            _ => self.general(d),
        }
    }

    fn listener_line(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let args = d.args();
        let port = match args.first().map(|p| p.parse::<u16>()) {
            Some(Ok(p)) => p,
            _ => return Err(d.error("expected `listener PORT [ADDRESS]`, e.g. listener 1883")),
        };
        if port == 0 || args.get(1).is_some_and(|a| a.starts_with('/')) {
            return Err(d.error(
                "unix sockets are not supported: give a TCP port, e.g. listener 1883 127.0.0.1",
            ));
        }
        if args.len() > 2 {
            return Err(d.error("expected `listener PORT [ADDRESS]`, e.g. listener 1883"));
        }
        self.listeners.push(ListenerOut {
            loc: d.loc.clone(),
            keys: Vec::new(),
        });
        let i = self.listeners.len() - 1;
        self.current = Some(i);
        self.listener_set(i, "port", Value::Integer(port.into()), d);
        if let Some(bind) = args.get(1) {
            self.listener_set(i, "bind", Value::String((*bind).into()), d);
        }
        Ok(())
    }

    /// Keys of the broker as a whole.
    fn general(&mut self, d: &Directive) -> Result<(), ConfigError> {
        match d.key.as_str() {
            "persistence" => self.persistence = Some(parse_bool(d)?),
            "persistence_location" | "persistence_file" => {
                let slot = match d.key.as_str() {
                    "persistence_location" => &mut self.persistence_location,
                    _ => &mut self.persistence_file,
                };
                if let Some((_, first)) = slot {
                    // Mosquitto refuses it too ("Duplicate ... value in configuration").
                    return Err(d.error(format!(
                        "set twice (first at {}): keep one line, as Mosquitto requires",
                        first.loc
                    )));
                }
                *slot = Some((needs_value(d)?.to_owned(), d.clone()));
            }
            "autosave_interval" => {
                let secs = parse_int(d, 0, i64::MAX / 1000)?;
                if secs == 0 {
                    self.note(d, "0 (save only at shutdown) is not needed: Courtier writes every change to its write-ahead log, synced every second");
                } else {
                    self.set("persistence", "sync", Value::String("periodic".into()), d);
                    self.set("persistence", "sync_interval_ms", Value::Integer(secs * 1000), d);
                }
            }
            "max_queued_messages" => {
                let n = parse_int(d, 0, i64::MAX)?;
                self.limit("max_queued_messages", n, d);
            }
            "max_queued_bytes" => {
                let n = parse_int(d, 0, i64::MAX)?;
                self.limit("max_queued_bytes", n, d);
            }
            "max_inflight_messages" => {
                // Mosquitto's 0 (unlimited) is the protocol's largest window.
                let n = parse_int(d, 0, u16::MAX as i64)?;
                self.limit("max_inflight_messages", if n == 0 { 65_535 } else { n }, d);
            }
            "max_keepalive" => {
                let n = parse_int(d, 0, u16::MAX as i64)?;
                self.limit("max_keepalive", if n == 0 { 65_535 } else { n }, d);
            }
            "max_packet_size" => {
                let n = parse_int(d, 0, 268_435_460)?;
                if n == 1 {
                    return Err(d.error("invalid value 1: expected 0 (no limit) or 2..268435460"));
                }
                self.limit("max_packet_size", if n == 0 { 268_435_460 } else { n }, d);
            }
            "max_topic_alias" => {
                let n = parse_int(d, 0, u16::MAX as i64)?;
                self.limit("max_topic_alias", n, d);
            }
            "message_size_limit" => {
                let n = parse_int(d, 0, 268_435_455)?;
                if n > 0 {
                    self.message_size_limit = Some((n, d.clone()));
                }
            }
            "queue_qos0_messages" => {
                let v = Value::Boolean(parse_bool(d)?);
                self.set("limits", "queue_qos0_messages", v, d);
            }
            "persistent_client_expiration" => {
                self.session_expiry = Some((parse_expiration(d)?, d.clone()));
            }
            "retain_available" => {
                let v = Value::Boolean(parse_bool(d)?);
                self.set("broker", "retain_available", v, d);
            }
            "sys_interval" => {
                let n = parse_int(d, 0, i64::MAX)?;
                self.set("broker", "sys_interval_secs", Value::Integer(n), d);
            }
            "log_dest" => match d.args().first().copied() {
                Some("stdout" | "stderr") => {}
                Some("file") => self.note(d, "ignored: Courtier logs to standard error (in a container: `docker logs`); redirect it to keep a file"),
                Some("syslog" | "topic" | "dlt" | "none") => {
                    self.note(d, "ignored: Courtier logs to standard error only")
                }
                _ => return Err(d.error("expected stdout, stderr, file PATH, syslog, topic, dlt or none")),
            },
            "log_type" => {
                let level = match d.rest.as_str() {
                    "none" | "error" => 0,
                    "warning" => 1,
                    "notice" | "information" => 2,
                    "debug" | "subscribe" | "unsubscribe" | "websockets" | "all" => 3,
                    v => return Err(d.error(format!("invalid value {v:?}: expected error, warning, notice, information, debug, subscribe, unsubscribe, websockets, all or none"))),
                };
                if self.log_level.as_ref().is_none_or(|(l, _)| level > *l) {
                    self.log_level = Some((level, d.clone()));
                }
            }
            "log_timestamp" => {
                if !parse_bool(d)? {
                    self.note(d, "ignored: Courtier's log lines always start with a timestamp");
                }
            }
            _ => {
                return Err(d.error(
                    "unknown key: not a Mosquitto 2 key Courtier knows; check the spelling, \
                     or remove the line (README.md, \"Reading mosquitto.conf\", lists the keys)",
                ))
            }
        }
        Ok(())
    }
}

#[path = "mosquitto_keys.rs"]
mod keys;
#[path = "mosquitto_render.rs"]
mod render;
#[path = "mosquitto_security.rs"]
mod security;

use keys::*;
