//! mosquitto.conf, read as Mosquitto reads it: one `key value...` per line, `#` comments,
//! `include_dir` files in name order. [`read`] turns it into the equivalent `conf.d` TOML
//! (see `mosquitto_map.rs` for what each key becomes), which the loader then reads like a
//! `conf.d` file placed right after the built-in defaults.

use super::ConfigError;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A mosquitto.conf turned into Courtier's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The file given on the command line.
    pub path: PathBuf,
    /// The equivalent `conf.d` TOML; each key's comment names the line it comes from.
    pub toml: String,
    /// Keys accepted but ignored or approximated: `file:line: key: what Courtier does`.
    pub notes: Vec<String>,
}

/// Where a directive was read: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<PathBuf>,
    pub line: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// One `key value...` line.
#[derive(Debug, Clone)]
pub struct Directive {
    pub loc: Loc,
    pub key: String,
    /// Everything after the key, trimmed (a path may contain spaces).
    pub rest: String,
}

impl Directive {
    /// The value's words.
    pub fn args(&self) -> Vec<&str> {
        self.rest.split_whitespace().collect()
    }

    /// An error about this line: `file:line: key: message`.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::Mosquitto {
            location: self.loc.to_string(),
            key: self.key.clone(),
            message: message.into(),
        }
    }
}

/// `include_dir` nesting allowed before the reader assumes a loop.
const MAX_INCLUDE_DEPTH: usize = 8;

/// Reads `path` (and the files its `include_dir` lines name) and converts it.
pub fn read(path: &Path) -> Result<Converted, ConfigError> {
    let text = read_file(path, None)?;
    convert_text(&text, path)
}

/// Converts the text of a mosquitto.conf read from `path`; `include_dir` lines are read from
/// the file system (relative to the working directory, as Mosquitto does).
pub fn convert_text(text: &str, path: &Path) -> Result<Converted, ConfigError> {
    let mut directives = Vec::new();
    parse_into(text, &Arc::new(path.to_owned()), 0, &mut directives)?;
    let mut notes = Vec::new();
    let (directives, bridges) = super::mosquitto_bridge::split(directives, &mut notes)?;
    let (mut toml, mapped_notes) = super::mosquitto_map::map(&directives)?;
    notes.splice(0..0, mapped_notes);
    super::mosquitto_bridge::render(bridges, &mut toml)?;
    Ok(Converted {
        path: path.to_owned(),
        toml,
        notes,
    })
}

fn read_file(path: &Path, from: Option<&Directive>) -> Result<String, ConfigError> {
    std::fs::read(path)
        .map_err(|source| match from {
            Some(d) => d.error(format!("cannot read {}: {source}", path.display())),
            None => ConfigError::Io {
                path: path.to_owned(),
                source,
            },
        })
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn parse_into(
    text: &str,
    file: &Arc<PathBuf>,
    depth: usize,
    out: &mut Vec<Directive>,
) -> Result<(), ConfigError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        // As Mosquitto: a `#` starts a comment only at the start of a line.
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, rest) = line
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((line, ""));
        let directive = Directive {
            loc: Loc {
                file: file.clone(),
                line: i + 1,
            },
            key: key.to_owned(),
            rest: rest.trim().to_owned(),
        };
        if directive.key == "include_dir" {
            include_dir(&directive, depth, out)?;
        } else {
            out.push(directive);
        }
    }
    Ok(())
}

/// `include_dir DIR`: every `*.conf` file of DIR, in Mosquitto's name order ([`mosquitto_order`]).
fn include_dir(d: &Directive, depth: usize, out: &mut Vec<Directive>) -> Result<(), ConfigError> {
    if d.rest.is_empty() {
        return Err(d.error("needs a directory"));
    }
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(d.error(format!(
            "include_dir nested more than {MAX_INCLUDE_DEPTH} deep (a directory that includes \
             itself?)"
        )));
    }
    let dir = Path::new(&d.rest);
    let entries = std::fs::read_dir(dir).map_err(|e| {
        d.error(format!(
            "cannot read directory {}: {e}; create it or remove the line",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
        .collect();
    files.sort_by(|a, b| mosquitto_order(a.as_os_str().as_bytes(), b.as_os_str().as_bytes()));
    for path in files {
        let text = read_file(&path, Some(d))?;
        parse_into(&text, &Arc::new(path), depth + 1, out)?;
    }
    Ok(())
}

/// Mosquitto's order of `include_dir` files (`scmp_p` in its conf_includedir.c): letters
/// compared without case first, so `a.conf` comes before `B.conf`, then with case (`B` before
/// `b`), a shorter name before a longer one it starts.
fn mosquitto_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    for (x, y) in a.iter().zip(b) {
        let by_letter = x.to_ascii_uppercase().cmp(&y.to_ascii_uppercase());
        match by_letter.then(x.cmp(y)) {
            std::cmp::Ordering::Equal => {}
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
#[path = "mosquitto_tests.rs"]
mod tests;
