//! Loading: the embedded defaults, then each `*.toml` of the config directory in name order,
//! then `COURTIER__SECTION__KEY` environment variables; every source checked on its own so an
//! error names the file (or variable), the key and the reason.

use super::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Loads and checks the settings: defaults, then files, then environment.
pub fn load(sources: &ConfigSources) -> Result<Settings, ConfigError> {
    load_tracked(sources).map(|(settings, _)| settings)
}

/// For each `section.key`, the last source that set it.
pub(crate) type Provenance = BTreeMap<String, Origin>;

pub(crate) fn load_tracked(sources: &ConfigSources) -> Result<(Settings, Provenance), ConfigError> {
    load_tracked_with(sources, None)
}

/// [`load_tracked`], with a converted mosquitto.conf read right after the defaults (before the
/// config directory, the environment and the options, which win over it key by key).
pub(crate) fn load_tracked_with(
    sources: &ConfigSources,
    mosquitto: Option<&mosquitto::Converted>,
) -> Result<(Settings, Provenance), ConfigError> {
    let mut provenance = Provenance::new();
    let mut listener_list = None;
    let mut bridge_list = None;

    let defaults = parse_and_check(DEFAULTS_TOML, &Origin::Defaults)?;
    record(&mut provenance, &defaults, &Origin::Defaults);
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        DEFAULTS_TOML,
        config::FileFormat::Toml,
    ));

    let converted = mosquitto.map(|m| (m.path.clone(), Ok(m.toml.clone())));
    let files = match &sources.config_dir {
        Some(dir) => toml_files(dir)?,
        None => Vec::new(),
    };
    let read = files.into_iter().map(|path| {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Io {
            path: path.clone(),
            source,
        });
        (path, text)
    });
    for (path, text) in converted.into_iter().chain(read) {
        let text = text?;
        let origin = Origin::File(path);
        let mut table = parse_and_check(&text, &origin)?;
        // The whole list comes from the last file that has one (see listeners.rs).
        if let Some(value) = table.remove("listeners") {
            listener_list = Some(listeners::check(&value, &origin)?);
            provenance.insert("listeners".into(), origin.clone());
        }
        if let Some(value) = table.remove("bridges") {
            bridge_list = Some(bridges::check(&value, &origin)?);
            provenance.insert("bridges".into(), origin.clone());
        }
        record(&mut provenance, &table, &origin);
        let rest = toml::to_string(&table).map_err(|e| ConfigError::Syntax {
            origin: origin.clone(),
            line: None,
            column: None,
            message: e.to_string(),
        })?;
        builder = builder.add_source(config::File::from_str(&rest, config::FileFormat::Toml));
    }

    for (key, value, var) in env_overrides(&sources.env)? {
        builder = builder.set_override(key.as_str(), to_config_value(value))?;
        provenance.insert(key, Origin::Env(var));
    }

    let mut settings: Settings = builder.build()?.try_deserialize()?;
    settings.listeners = listener_list.unwrap_or_default();
    settings.bridges = bridge_list.unwrap_or_default();
    settings.validate_tracked(&provenance)?;
    Ok((settings, provenance))
}

/// The `*.toml` files of `dir` (not starting with a dot), sorted by file name.
pub(super) fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::DirMissing {
                path: dir.to_owned(),
            })
        }
        Err(source) => {
            return Err(ConfigError::Io {
                path: dir.to_owned(),
                source,
            })
        }
    };
    if !meta.is_dir() {
        return Err(ConfigError::NotADirectory {
            path: dir.to_owned(),
        });
    }
    let io_err = |source| ConfigError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        let path = entry.path();
        let is_toml = path.extension().is_some_and(|ext| ext == "toml");
        let hidden = name.to_string_lossy().starts_with('.');
        // Follows symlinks, so a link to a file counts as a file.
        if is_toml && !hidden && path.is_file() {
            files.push((name, path));
        }
    }
    files.sort();
    Ok(files.into_iter().map(|(_, path)| path).collect())
}

/// Parses one TOML document and checks its keys, types and ranges.
pub(super) fn parse_and_check(text: &str, origin: &Origin) -> Result<toml::Table, ConfigError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                (Some(line), Some(column))
            }
            None => (None, None),
        };
        ConfigError::Syntax {
            origin: origin.clone(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    for (section, value) in &table {
        if section == "listeners" {
            listeners::check(value, origin)?;
            continue;
        }
        if section == "bridges" {
            bridges::check(value, origin)?;
            continue;
        }
        if !SCHEMA.iter().any(|s| s.section == section) {
            return Err(unknown_key(origin, section.clone()));
        }
        let Some(keys) = value.as_table() else {
            return Err(ConfigError::InvalidValue {
                origin: origin.clone(),
                key: section.clone(),
                value: value.to_string(),
                expected: format!("a table (a [{section}] section)"),
            });
        };
        for (name, value) in keys {
            let key = format!("{section}.{name}");
            let Some(spec) = spec(section, name) else {
                return Err(unknown_key(origin, key));
            };
            if !spec.kind.accepts(value) {
                return Err(ConfigError::InvalidValue {
                    origin: origin.clone(),
                    key,
                    value: value.to_string(),
                    expected: spec.kind.expected_for(value),
                });
            }
        }
    }
    Ok(table)
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn record(provenance: &mut Provenance, table: &toml::Table, origin: &Origin) {
    for (section, keys) in table {
        for name in keys.as_table().into_iter().flat_map(|t| t.keys()) {
            provenance.insert(format!("{section}.{name}"), origin.clone());
        }
    }
}

/// Checked `(section.key, value, variable name)` for each `COURTIER__` variable.
fn env_overrides(
    env: &[(String, String)],
) -> Result<Vec<(String, toml::Value, String)>, ConfigError> {
    let mut out: Vec<(String, toml::Value, String)> = Vec::new();
    for (var, raw) in env {
        let Some(prefix) = var.get(..ENV_PREFIX.len()) else {
            continue;
        };
        if !prefix.eq_ignore_ascii_case(ENV_PREFIX) {
            continue;
        }
        let rest = &var[ENV_PREFIX.len()..];
        let (section, name) = match rest.split_once("__") {
            Some((s, n)) if !s.is_empty() && !n.is_empty() && !n.contains("__") => {
                (s.to_ascii_lowercase(), n.to_ascii_lowercase())
            }
            _ => {
                return Err(ConfigError::BadEnvName {
                    var: var.clone(),
                    reason: "expected the form COURTIER__SECTION__KEY, \
                             e.g. COURTIER__LISTENER__PORT"
                        .to_owned(),
                })
            }
        };
        let origin = Origin::Env(var.clone());
        let key = format!("{section}.{name}");
        let Some(spec) = spec(&section, &name) else {
            return Err(unknown_key(&origin, key));
        };
        if let Some((_, _, other)) = out.iter().find(|(k, _, _)| *k == key) {
            return Err(ConfigError::BadEnvName {
                var: var.clone(),
                reason: format!("sets \"{key}\", already set by environment variable {other}"),
            });
        }
        let value = spec.kind.parse_env(raw);
        if !spec.kind.accepts(&value) {
            return Err(ConfigError::InvalidValue {
                origin,
                key,
                value: value.to_string(),
                expected: spec.kind.expected_for(&value),
            });
        }
        out.push((key, value, var.clone()));
    }
    Ok(out)
}

/// A TOML scalar as a `config` value (only checked scalars get here).
fn to_config_value(value: toml::Value) -> config::Value {
    match value {
        toml::Value::Integer(i) => i.into(),
        toml::Value::Boolean(b) => b.into(),
        toml::Value::Float(f) => f.into(),
        toml::Value::String(s) => s.into(),
        toml::Value::Array(items) => items
            .into_iter()
            .map(to_config_value)
            .collect::<Vec<_>>()
            .into(),
        other => other.to_string().into(),
    }
}

/// Parses `raw` as one TOML value, if it is one.
pub(super) fn parse_toml_value(raw: &str) -> Option<toml::Value> {
    let mut table: toml::Table = toml::from_str(&format!("v = {raw}")).ok()?;
    if table.len() != 1 {
        return None;
    }
    table.remove("v")
}
