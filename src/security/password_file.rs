//! Password files (`[security] password_file`) in mosquitto_passwd's format: one `user:hash`
//! per line, `#` comments, blank lines ignored; user names and hashes trimmed of blanks as
//! Mosquitto trims them.
//!
//! Stricter than Mosquitto, which drops an entry it cannot read (logging an error) and starts
//! anyway, which silently locks that user out: a line that does not parse stops start-up (and
//! is refused on reload) with the file, the line and the reason.

use super::hash::PasswordHash;
use super::FileError;
use std::collections::HashMap;
use std::path::Path;

/// The users of a password file and their hashes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Passwords {
    users: HashMap<String, PasswordHash>,
}

/// One line of a password file, as `courtier passwd` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A comment, a blank line, or anything kept as it is.
    Other(String),
    /// `user:rest`, where rest is a hash, or a plaintext password before `-U`.
    Entry { user: String, secret: String },
}

/// Splits a non-comment line into user name and secret (both trimmed), as Mosquitto's
/// `pwfile__parse` does: the user name ends at the first `:`.
pub fn split_entry(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_end_matches(['\r', '\n']);
    if t.trim().is_empty() || t.starts_with('#') {
        return None;
    }
    let (user, secret) = t.split_once(':').unwrap_or((t, ""));
    Some((user.trim(), secret.trim()))
}

/// Reads a file's lines for editing: entries and everything else, in order.
pub fn lines(text: &str) -> Vec<Line> {
    text.lines()
        .map(|l| match split_entry(l) {
            Some((user, secret)) if l.contains(':') => Line::Entry {
                user: user.to_owned(),
                secret: secret.to_owned(),
            },
            _ => Line::Other(l.to_owned()),
        })
        .collect()
}

/// The file text for `lines`, one per line, ending with a newline.
pub fn render(lines: &[Line]) -> String {
    let mut out = String::new();
    for l in lines {
        match l {
            Line::Other(s) => out.push_str(s),
            Line::Entry { user, secret } => {
                out.push_str(user);
                out.push(':');
                out.push_str(secret);
            }
        }
        out.push('\n');
    }
    out
}

impl Passwords {
    /// Parses a whole file; the error names the first bad line (1-based) and why.
    pub fn parse(text: &str) -> Result<Passwords, (usize, String)> {
        let mut users = HashMap::new();
        let mut first_line = HashMap::new();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let Some((user, secret)) = split_entry(raw) else {
                continue;
            };
            if !raw.contains(':') {
                return Err((n, "expected user:hash".into()));
            }
            if user.is_empty() {
                return Err((n, "empty user name".into()));
            }
            if user.len() > 65535 {
                return Err((n, "user name longer than 65535 bytes".into()));
            }
            if secret.is_empty() {
                return Err((n, format!("no password hash for user {user:?}")));
            }
            let hash = PasswordHash::parse(secret)
                .map_err(|reason| (n, format!("user {user:?}: {reason}")))?;
            if let Some(first) = first_line.insert(user.to_owned(), n) {
                return Err((n, format!("user {user:?} is already on line {first}")));
            }
            users.insert(user.to_owned(), hash);
        }
        Ok(Passwords { users })
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Passwords, FileError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| FileError::io("password_file", path, e))?;
        Passwords::parse(&text).map_err(|(line, reason)| FileError {
            key: "password_file",
            path: path.to_owned(),
            line: Some(line),
            reason,
        })
    }

    pub fn get(&self, user: &str) -> Option<&PasswordHash> {
        self.users.get(user)
    }

    /// The user names in the file, in no order.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}
