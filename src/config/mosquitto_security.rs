//! `allow_anonymous`, `password_file` and `acl_file`, global or per listener
//! (`per_listener_settings true`). Courtier has one `[security]` for every listener, so per
//! listener settings are honoured when every listener has the same ones, and refused otherwise.

use super::{Mapper, Set};
use crate::config::ConfigError;
use toml::Value;

const KEYS: [&str; 3] = ["allow_anonymous", "password_file", "acl_file"];

impl Mapper {
    pub(super) fn resolve_security(&mut self) -> Result<(), ConfigError> {
        // Mosquitto 2 refuses anonymous clients once a listener is configured; with none it
        // listens on the loopback interface only and lets anyone in.
        let anonymous_default = Value::Boolean(self.listeners.is_empty());
        let default = |key: &str| match key {
            "allow_anonymous" => anonymous_default.clone(),
            _ => Value::String(String::new()),
        };
        // The last line of `key` for listener `scope`; lines before any listener apply to all.
        let last = |key: &str, scope: Option<usize>| {
            let lines: Vec<_> = self.security.iter().rev().filter(|l| l.0 == key).collect();
            match scope {
                None => lines.first().copied(),
                Some(i) => lines
                    .iter()
                    .find(|l| l.3 == Some(i))
                    .or_else(|| lines.iter().find(|l| l.3.is_none()))
                    .copied(),
            }
        };
        if self.per_listener_settings && self.listeners.len() > 1 {
            let first = &self.listeners[0];
            for key in KEYS {
                let want = last(key, Some(0));
                for (i, l) in self.listeners.iter().enumerate().skip(1) {
                    let got = last(key, Some(i));
                    let value = |x: Option<&(&str, Value, _, _)>| {
                        x.map(|x| x.1.clone()).unwrap_or_else(|| default(key))
                    };
                    if value(want) != value(got) {
                        return Err(ConfigError::Mosquitto {
                            location: l.loc.to_string(),
                            key: "per_listener_settings".into(),
                            message: format!(
                                "this listener's {key} ({}) differs from that of the listener at \
                                 {} ({}): Courtier applies one allow_anonymous, password_file \
                                 and acl_file to every listener; give each listener the same, \
                                 or run a second Courtier for the other listener",
                                value(got),
                                first.loc,
                                value(want)
                            ),
                        });
                    }
                }
            }
        }
        let scope = (self.per_listener_settings && !self.listeners.is_empty()).then_some(0);
        for key in KEYS {
            let (value, from) = match last(key, scope) {
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
