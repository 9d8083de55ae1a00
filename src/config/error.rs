//! Configuration errors: each names where the bad value came from, the key and the reason.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The compiled-in `conf.d/00-defaults.toml`.
    Defaults,
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// A command-line option, e.g. `--port`.
    Cli(String),
    /// A [`Settings`] value of unknown origin (see [`Settings::validate`]).
    Effective,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Defaults => f.write_str("built-in defaults (conf.d/00-defaults.toml)"),
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::Cli(option) => write!(f, "command-line option {option}"),
            Origin::Effective => f.write_str("effective settings"),
        }
    }
}

/// A configuration that cannot be used; the message says where, which key and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config directory {}: does not exist", .path.display())]
    DirMissing { path: PathBuf },
    #[error("config directory {}: not a directory", .path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("TOML syntax error in {} at {}: {message}", .origin, fmt_position(.line, .column))]
    Syntax {
        origin: Origin,
        /// 1-based; `None` if the parser gave no position.
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("{origin}: unknown key \"{key}\"{}", fmt_suggestion(.suggestion))]
    UnknownKey {
        origin: Origin,
        /// `section` or `section.key`.
        key: String,
        /// The closest known key, if one is close.
        suggestion: Option<String>,
    },
    #[error("{origin}: key \"{key}\": invalid value {value}: expected {expected}")]
    InvalidValue {
        origin: Origin,
        /// `section` or `section.key`.
        key: String,
        /// The value as TOML (strings quoted).
        value: String,
        expected: String,
    },
    /// A mosquitto.conf line Courtier cannot use; `message` says what to do instead.
    #[error("{location}: {key}: {message}")]
    Mosquitto {
        /// `file:line`.
        location: String,
        key: String,
        message: String,
    },
    #[error("environment variable {var}: {reason}")]
    BadEnvName { var: String, reason: String },
    /// The `config` crate refused the merged, already checked, sources (a bug).
    #[error("merging configuration sources: {0}")]
    Merge(#[from] config::ConfigError),
}

fn fmt_position(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}"),
        (Some(line), None) => format!("line {line}"),
        _ => "unknown position".to_owned(),
    }
}

fn fmt_suggestion(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean \"{s}\"?)"),
        None => String::new(),
    }
}

impl ConfigError {
    /// The `section.key` (or `section`) the error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. } | ConfigError::InvalidValue { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }

    /// The file or variable the error is about, if any.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ConfigError::Syntax { origin, .. }
            | ConfigError::UnknownKey { origin, .. }
            | ConfigError::InvalidValue { origin, .. } => Some(origin),
            _ => None,
        }
    }
}
