//! The end of a mosquitto.conf: defaults that differ from Courtier's (persistence, session
//! expiry, anonymous clients), then the TOML, checked listener by listener.

use super::{Mapper, Set};
use crate::config::{listeners, ConfigError, Origin};
use toml::Value;

impl Mapper {
    pub(super) fn finish(mut self) -> Result<(String, Vec<String>), ConfigError> {
        self.resolve_security()?;
        self.resolve_persistence();
        if let Some((level, d)) = self.log_level.take() {
            let name = ["error", "warn", "info", "debug"][level];
            self.set("log", "level", Value::String(name.into()), &d);
        }
        if let Some((n, d)) = self.message_size_limit.take() {
            // Payload limit -> packet limit: add the largest MQTT 3.1.1 PUBLISH header (fixed
            // header 5, topic 2 + 65,535, packet id 2), so no payload under the limit is refused.
            let packet = (n + 65_544).min(268_435_460);
            let current = self
                .sections
                .iter()
                .find(|(s, set)| *s == "limits" && set.key == "max_packet_size")
                .and_then(|(_, set)| set.value.as_integer());
            if current.is_none_or(|c| packet < c) {
                self.limit("max_packet_size", packet, &d);
            }
            self.note(&d, &format!("mapped to max_packet_size {packet}: Courtier limits whole packets (payload + up to 65,544 bytes of header) and closes the connection of a client that sends a larger one, where Mosquitto drops the message"));
        }
        let toml = self.render()?;
        Ok((toml, self.notes))
    }

    fn resolve_persistence(&mut self) {
        let enabled = self.persistence.take().unwrap_or(false);
        self.sections.push((
            "persistence",
            Set {
                key: "enabled",
                value: Value::Boolean(enabled),
                from: "persistence (Mosquitto's default: false)".into(),
            },
        ));
        if enabled {
            // Where Mosquitto keeps its file: imported once into Courtier's empty store.
            let (loc, file) = (&self.persistence_location, &self.persistence_file);
            let name = file.as_ref().map_or("mosquitto.db", |(f, _)| f.as_str());
            let path = match loc {
                Some((loc, _)) if !loc.is_empty() => std::path::Path::new(loc).join(name),
                _ => std::path::PathBuf::from(name),
            };
            self.sections.push((
                "persistence",
                Set {
                    key: "import_mosquitto_db",
                    value: Value::String(path.to_string_lossy().into_owned()),
                    from: "persistence_location + persistence_file (Mosquitto's mosquitto.db, \
                           imported once into an empty store)"
                        .into(),
                },
            ));
        }
        if let Some((loc, _)) = self.persistence_location.take() {
            let dir = std::path::Path::new(&loc).join("courtier");
            self.sections.push((
                "persistence",
                Set {
                    key: "data_dir",
                    value: Value::String(dir.to_string_lossy().into_owned()),
                    from: format!(
                        "persistence_location {loc} (a folder of its own beside mosquitto.db)"
                    ),
                },
            ));
        }
        let (secs, from) = match self.session_expiry.take() {
            Some((secs, d)) => (secs, format!("{}: {} {}", d.loc, d.key, d.rest)),
            None => (
                0,
                "persistent_client_expiration (Mosquitto's default: never)".into(),
            ),
        };
        self.sections.push((
            "persistence",
            Set {
                key: "session_expiry_secs",
                value: Value::Integer(secs.min(i64::MAX as u64) as i64),
                from,
            },
        ));
    }

    fn render(&self) -> Result<String, ConfigError> {
        let mut out = String::from(
            "# Converted from mosquitto.conf by Courtier; each key names the line it comes from.\n",
        );
        for section in [
            "listener",
            "security",
            "limits",
            "broker",
            "persistence",
            "log",
        ] {
            let keys: Vec<&Set> = self
                .sections
                .iter()
                .filter(|(s, _)| *s == section)
                .map(|(_, set)| set)
                .collect();
            if keys.is_empty() {
                continue;
            }
            out.push_str(&format!("\n[{section}]\n"));
            for set in keys {
                out.push_str(&entry(set));
            }
        }
        out.push_str(
            "\n[http]\n# Mosquitto has no HTTP listener (health checks and /metrics): enable \
             [http] or [metrics] in a conf.d file to get one.\nenabled = false\n",
        );
        for l in &self.listeners {
            out.push_str("\n[[listeners]]\n");
            for set in &l.keys {
                out.push_str(&entry(set));
            }
        }
        // The rules between listener keys, reported at the listener's line.
        let table: toml::Table = toml::from_str(&out).expect("rendered TOML parses");
        if let Some(list) = table.get("listeners") {
            let origin = Origin::File("mosquitto.conf".into());
            if let Err(e) = listeners::check(list, &origin) {
                let key = e.key().unwrap_or("listeners").to_owned();
                let index: usize = key
                    .strip_prefix("listeners[")
                    .and_then(|k| k.split(']').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let l = &self.listeners[index.min(self.listeners.len() - 1)];
                let message = e.to_string();
                let message = message.strip_prefix("mosquitto.conf: ").unwrap_or(&message);
                return Err(ConfigError::Mosquitto {
                    location: l.loc.to_string(),
                    key: "listener".into(),
                    message: message.to_owned(),
                });
            }
        }
        Ok(out)
    }
}

/// `# where it comes from` and `key = value`. The comment's control characters (a NUL or a
/// carriage return read from the file) are escaped: TOML comments cannot hold them.
pub(super) fn entry(set: &Set) -> String {
    let from: String = set
        .from
        .chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect();
    format!("# {from}\n{} = {}\n", set.key, set.value)
}
