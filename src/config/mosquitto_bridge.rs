//! mosquitto.conf `connection` sections onto `[[bridges]]` (README.md, "Bridges"). Every
//! bridge key after a `connection` line belongs to that bridge; the other keys go on to
//! `mosquitto_map.rs` whatever their place, as Mosquitto reads them.

use super::mosquitto::Directive;
use super::{bridges, ConfigError, Origin};
use toml::{Table, Value};

/// One `connection` section: its line and the `[[bridges]]` table built from its keys.
pub(super) struct Section {
    line: Directive,
    table: Table,
    topics: Vec<Value>,
}

/// The keys of a `connection` section, besides every `bridge_*` key.
const BRIDGE_KEYS: &[&str] = &[
    "connection",
    "address",
    "addresses",
    "topic",
    "cleansession",
    "clientid",
    "keepalive_interval",
    "idle_timeout",
    "local_clientid",
    "local_password",
    "local_username",
    "notifications",
    "notifications_local_only",
    "notification_topic",
    "remote_clientid",
    "remote_password",
    "remote_username",
    "restart_timeout",
    "round_robin",
    "start_type",
    "threshold",
    "try_private",
];

fn is_bridge_key(key: &str) -> bool {
    BRIDGE_KEYS.contains(&key) || key.starts_with("bridge_")
}

/// Take the bridge sections out of `directives`; what is left is mapped as before.
pub(super) fn split(
    directives: Vec<Directive>,
    notes: &mut Vec<String>,
) -> Result<(Vec<Directive>, Vec<Section>), ConfigError> {
    let mut rest = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    for d in directives {
        if !is_bridge_key(&d.key) {
            rest.push(d);
            continue;
        }
        if d.key == "connection" {
            let name = d.rest.clone();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(d.error("needs one name (connection <name>)"));
            }
            let mut table = Table::new();
            table.insert("name".into(), Value::String(name));
            sections.push(Section {
                line: d,
                table,
                topics: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(d.error("a bridge key before any `connection <name>` line"));
        };
        bridge_key(section, &d, notes)?;
    }
    Ok((rest, sections))
}

fn boolean(d: &Directive) -> Result<Value, ConfigError> {
    match d.rest.as_str() {
        "true" => Ok(Value::Boolean(true)),
        "false" => Ok(Value::Boolean(false)),
        v => Err(d.error(format!("invalid value {v:?}: expected true or false"))),
    }
}

fn number(d: &Directive, word: &str) -> Result<f64, ConfigError> {
    word.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| d.error(format!("invalid value {word:?}: expected seconds")))
}

/// `""` in a topic line is Mosquitto's empty prefix (or pattern).
fn word(w: &str) -> String {
    if w == "\"\"" {
        String::new()
    } else {
        w.to_owned()
    }
}

fn bridge_key(s: &mut Section, d: &Directive, notes: &mut Vec<String>) -> Result<(), ConfigError> {
    let mut note = |text: &str| notes.push(format!("{}: {}: {text}", d.loc, d.key));
    let mut set = |k: &str, v: Value| {
        s.table.insert(k.into(), v);
    };
    let args = d.args();
    match d.key.as_str() {
        "address" | "addresses" => {
            if args.is_empty() {
                return Err(d.error("needs at least one host[:port]"));
            }
            let list = args
                .iter()
                .map(|a| match a.rsplit_once(':') {
                    Some((_, p)) if p.parse::<u16>().is_ok() => Value::String((*a).to_owned()),
                    _ => Value::String(format!("{a}:1883")),
                })
                .collect();
            set("addresses", Value::Array(list));
        }
        "topic" => {
            let [pattern, rest @ ..] = args.as_slice() else {
                return Err(
                    d.error("needs a pattern: topic <pattern> [out|in|both [qos [local remote]]]")
                );
            };
            let mut t = Table::new();
            t.insert("pattern".into(), Value::String(word(pattern)));
            if let Some(dir) = rest.first() {
                if !["in", "out", "both"].contains(dir) {
                    return Err(d.error(format!(
                        "invalid direction {dir:?}: expected in, out or both"
                    )));
                }
                t.insert("direction".into(), Value::String((*dir).to_owned()));
            }
            if let Some(q) = rest.get(1) {
                let qos = q
                    .parse::<i64>()
                    .ok()
                    .filter(|q| (0..=2).contains(q))
                    .ok_or_else(|| d.error(format!("invalid QoS {q:?}: expected 0, 1 or 2")))?;
                t.insert("qos".into(), Value::Integer(qos));
            }
            if let Some(l) = rest.get(2) {
                t.insert("local_prefix".into(), Value::String(word(l)));
            }
            if let Some(r) = rest.get(3) {
                t.insert("remote_prefix".into(), Value::String(word(r)));
            }
            s.topics.push(Value::Table(t));
        }
        "remote_clientid" | "clientid" => set("remote_clientid", Value::String(d.rest.clone())),
        "remote_username" => set("remote_username", Value::String(d.rest.clone())),
        "remote_password" => set("remote_password", Value::String(d.rest.clone())),
        "cleansession" => set("cleansession", boolean(d)?),
        "notifications" => set("notifications", boolean(d)?),
        "round_robin" => set("round_robin", boolean(d)?),
        "try_private" => set("try_private", boolean(d)?),
        "keepalive_interval" => {
            let secs = d
                .rest
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=65535).contains(v))
                .ok_or_else(|| {
                    d.error(format!(
                        "invalid value {:?}: expected 0..=65535 seconds",
                        d.rest
                    ))
                })?;
            set("keepalive", Value::Integer(secs));
        }
        "bridge_protocol_version" => {
            let v = match d.rest.as_str() {
                "mqttv311" => "3.1.1",
                "mqttv50" => "5.0",
                "mqttv31" => {
                    note("mapped to 3.1.1: Courtier's bridges speak MQTT 3.1.1 or 5.0");
                    "3.1.1"
                }
                v => {
                    return Err(
                        d.error(format!("invalid value {v:?}: expected mqttv311 or mqttv50"))
                    )
                }
            };
            set("protocol", Value::String(v.into()));
        }
        "bridge_cafile" => set("cafile", Value::String(d.rest.clone())),
        "bridge_certfile" => set("certfile", Value::String(d.rest.clone())),
        "bridge_keyfile" => set("keyfile", Value::String(d.rest.clone())),
        "bridge_capath" => {
            note("mapped to tls = true with the system's CAs (/etc/ssl/certs/ca-certificates.crt); use bridge_cafile for another CA");
            set("tls", Value::Boolean(true));
        }
        "bridge_insecure" if d.rest == "true" => {
            return Err(d.error("Courtier's bridges always verify the remote's certificate: give its CA with bridge_cafile"));
        }
        "bridge_identity" | "bridge_psk" => {
            return Err(d.error("TLS-PSK is not supported: use certificates (bridge_cafile, bridge_certfile, bridge_keyfile)"));
        }
        "restart_timeout" => {
            let t = match args.as_slice() {
                [constant] => {
                    let v = number(d, constant)?;
                    (v, v, false)
                }
                [base, cap] => (number(d, base)?, number(d, cap)?, true),
                _ => return Err(d.error("expected <seconds> or <base> <cap>")),
            };
            let mut r = Table::new();
            r.insert("start".into(), Value::Float(t.0));
            r.insert("max".into(), Value::Float(t.1));
            r.insert("jitter".into(), Value::Boolean(t.2));
            set("restart_timeout", Value::Table(r));
        }
        "start_type" => match d.rest.as_str() {
            "automatic" => {}
            v => {
                return Err(d.error(format!(
                    "start_type {v} is not supported: Courtier's bridges always start automatically"
                )))
            }
        },
        "notifications_local_only" => {
            note("ignored: Courtier publishes the bridge state locally only")
        }
        "notification_topic" => {
            note("ignored: Courtier's state topic is $SYS/broker/connection/<name>/state")
        }
        _ => note("ignored: not used by Courtier's bridges"),
    }
    Ok(())
}

/// Append the sections as `[[bridges]]` tables to `toml`; an invalid one is an error naming
/// its `connection` line.
pub(super) fn render(sections: Vec<Section>, toml_out: &mut String) -> Result<(), ConfigError> {
    if sections.is_empty() {
        return Ok(());
    }
    let mut list = Vec::new();
    let mut lines = Vec::new();
    for mut s in sections {
        if !s.topics.is_empty() {
            s.table.insert("topics".into(), Value::Array(s.topics));
        }
        lines.push(s.line);
        list.push(Value::Table(s.table));
    }
    let value = Value::Array(list);
    let origin = Origin::Effective;
    if let Err(e) = bridges::check(&value, &origin) {
        let key = e.key().unwrap_or("bridges").to_owned();
        let index = key
            .strip_prefix("bridges[")
            .and_then(|k| k.split(']').next())
            .and_then(|i| i.parse::<usize>().ok())
            .unwrap_or(0);
        let line = &lines[index.min(lines.len() - 1)];
        let message = match &e {
            ConfigError::InvalidValue { expected, .. } => {
                format!("as [[bridges]] {key}: {expected}")
            }
            _ => e.to_string(),
        };
        return Err(line.error(message));
    }
    let mut table = Table::new();
    table.insert("bridges".into(), value);
    let text = toml::to_string(&table).map_err(|e| lines[0].error(e.to_string()))?;
    let from: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                "# [[bridges]] {:?} from {}: connection {}",
                l.rest, l.loc, l.rest
            )
        })
        .collect();
    toml_out.push_str(&format!("\n{}\n{text}", from.join("\n")));
    Ok(())
}

#[cfg(test)]
#[path = "mosquitto_bridge_tests.rs"]
mod tests;
