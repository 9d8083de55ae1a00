//! `allow_anonymous`, `password_file` and `acl_file`, global or per listener
//! (`per_listener_settings true`). Courtier has one `[security]` for every listener, so per
//! listener settings are honoured when every listener has the same ones, and refused otherwise.
//! Where Mosquitto 2 refuses a file (a file set twice, `per_listener_settings` after a
//! security setting), so does Courtier, with Mosquitto's reason.

use super::{Mapper, Set};
use crate::config::mosquitto::Directive;
use crate::config::ConfigError;
use toml::Value;

const KEYS: [&str; 3] = ["allow_anonymous", "password_file", "acl_file"];

/// (key, value, line, listener the line was under: `None` before any `listener`).
pub(super) type SecurityLine = (&'static str, Value, Directive, Option<usize>);

impl Mapper {
    /// `allow_anonymous`, `password_file` or `acl_file` on line `d`.
    pub(super) fn security_line(
        &mut self,
        key: &'static str,
        value: Value,
        d: &Directive,
    ) -> Result<(), ConfigError> {
        if self.per_listener_settings && self.current.is_none() && key == "password_file" {
            // Mosquitto makes its default listener (port 1883) for a password file before any
            // `listener` line when per_listener_settings is on.
            self.default_listener(d);
        }
        let scope = self.current;
        let global = !self.per_listener_settings;
        if key != "allow_anonymous" {
            let twice = self
                .security
                .iter()
                .find(|l| l.0 == key && (global || l.3 == scope));
            if let Some(first) = twice {
                // Mosquitto: "Duplicate password_file value in configuration".
                return Err(d.error(format!(
                    "set twice for the same {} (first at {}): keep one line, as Mosquitto \
                     requires",
                    if global { "broker" } else { "listener" },
                    first.2.loc
                )));
            }
        }
        self.security.push((key, value, d.clone(), scope));
        Ok(())
    }

    pub(super) fn per_listener_line(&mut self, d: &Directive) -> Result<(), ConfigError> {
        let on = super::keys::parse_bool(d)?;
        if on {
            if let Some(first) = self.security.first() {
                return Err(d.error(format!(
                    "must come before any other security setting (Mosquitto refuses it too): \
                     move it above {}",
                    first.2.loc
                )));
            }
        }
        self.per_listener_settings = on;
        Ok(())
    }

    /// The last line of `key` that applies to listener `i` with per_listener_settings: its
    /// own, or for the default listener (`port`, `bind_address`) the lines before any
    /// `listener`.
    fn security_for(&self, key: &str, i: usize) -> Option<&SecurityLine> {
        let default = self.default_listener == Some(i);
        self.security
            .iter()
            .rev()
            .find(|l| l.0 == key && (l.3 == Some(i) || (default && l.3.is_none())))
    }

    pub(super) fn resolve_security(&mut self) -> Result<(), ConfigError> {
        // Mosquitto 2 refuses anonymous clients once a listener is configured; with none it
        // listens on the loopback interface only and lets anyone in.
        let anonymous_default = Value::Boolean(self.listeners.is_empty());
        let default = |key: &str| match key {
            "allow_anonymous" => anonymous_default.clone(),
            _ => Value::String(String::new()),
        };
        let per_listener = self.per_listener_settings && !self.listeners.is_empty();
        if per_listener && self.default_listener.is_none() {
            // Before any `listener`, with no default listener: Mosquitto applies these lines
            // to no listener; say so rather than ignore them silently.
            let orphans: Vec<String> = self
                .security
                .iter()
                .filter(|l| l.3.is_none())
                .map(|l| format!("{}: {}: ignored: with per_listener_settings true a security setting before the first `listener` line applies to the default listener (port, bind_address), and there is none (Mosquitto ignores it too); move it under a listener", l.2.loc, l.0))
                .collect();
            self.notes.extend(orphans);
        }
        let value = |x: Option<&SecurityLine>, key: &str| {
            x.map(|x| x.1.clone()).unwrap_or_else(|| default(key))
        };
        if per_listener {
            let first = &self.listeners[0];
            for key in KEYS {
                let want = value(self.security_for(key, 0), key);
                for (i, l) in self.listeners.iter().enumerate().skip(1) {
                    let got = value(self.security_for(key, i), key);
                    if want != got {
                        return Err(ConfigError::Mosquitto {
                            location: l.loc.to_string(),
                            key: "per_listener_settings".into(),
                            message: format!(
                                "this listener's {key} ({got}) differs from that of the listener \
                                 at {} ({want}): Courtier applies one allow_anonymous, \
                                 password_file and acl_file to every listener; give each \
                                 listener the same, or run a second Courtier for the other \
                                 listener",
                                first.loc,
                            ),
                        });
                    }
                }
            }
        }
        for key in KEYS {
            let line = match per_listener {
                true => self.security_for(key, 0),
                false => self.security.iter().rev().find(|l| l.0 == key),
            };
            let (value, from) = match line {
                Some((_, v, d, _)) => (v.clone(), format!("{}: {} {}", d.loc, d.key, d.rest)),
                None if key == "allow_anonymous" => (
                    default(key),
                    "allow_anonymous (Mosquitto 2's default: false once a listener is set)".into(),
                ),
                None => continue,
            };
            self.sections.push(("security", Set { key, value, from }));
        }
        Ok(())
    }
}
