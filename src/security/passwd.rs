//! `courtier passwd`: mosquitto_passwd's command line and behaviour, writing files Mosquitto
//! reads (and reading files it writes):
//!
//! ```text
//! courtier passwd [-H sha512-pbkdf2|sha512] [-I ITERATIONS] [-c | -D] FILE USER
//! courtier passwd [-H ...] [-I ITERATIONS] [-c] -b FILE USER PASSWORD
//! courtier passwd -U FILE
//! ```
//!
//! Lines other than the user's (other users, comments) are kept in their order; the file is
//! replaced atomically (written beside it, then renamed) with the old file's permissions, or
//! owner-only ones for a new file.

use super::hash::{Algorithm, PasswordHash, DEFAULT_ITERATIONS};
use super::password_file::{lines, render, Line};
use std::io;
use std::path::{Path, PathBuf};

/// Manage a password file in mosquitto_passwd's format (Mosquitto's password_file)
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct PasswdArgs {
    /// Create a new password file; an existing one is overwritten
    #[arg(short = 'c', conflicts_with_all = ["delete", "upgrade"])]
    pub create: bool,
    /// Batch mode: the password is given on the command line
    #[arg(short = 'b', conflicts_with = "upgrade")]
    pub batch: bool,
    /// Delete USER instead of adding or changing its password
    #[arg(short = 'D', conflicts_with = "upgrade")]
    pub delete: bool,
    /// Hash the plaintext passwords of FILE (lines already hashed are kept)
    #[arg(short = 'U')]
    pub upgrade: bool,
    /// Hash for new passwords: "sha512-pbkdf2" ($7$, recommended) or "sha512" ($6$)
    #[arg(short = 'H', value_name = "HASH", default_value = "sha512-pbkdf2",
          value_parser = ["sha512-pbkdf2", "sha512"])]
    pub hash: String,
    /// PBKDF2 iterations of new $7$ hashes (mosquitto_passwd 2.0 uses 101)
    #[arg(short = 'I', long = "iterations", value_name = "N", default_value_t = DEFAULT_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub iterations: u32,
    /// The password file
    pub file: PathBuf,
    /// The user name (not with -U)
    pub user: Option<String>,
    /// The password (only with -b)
    pub password: Option<String>,
}

impl PasswdArgs {
    fn algorithm(&self) -> Algorithm {
        match self.hash.as_str() {
            "sha512" => Algorithm::Sha512,
            _ => Algorithm::Pbkdf2Sha512 {
                iterations: self.iterations,
            },
        }
    }
}

/// Runs the command; `prompt` reads a password from the terminal without echo. Returns a
/// warning to print, if any; an error is the message to print before exiting with 1.
pub fn run(
    args: &PasswdArgs,
    prompt: &mut dyn FnMut(&str) -> io::Result<String>,
) -> Result<Option<String>, String> {
    let file = &args.file;
    if args.upgrade {
        if args.user.is_some() {
            return Err("-U takes only the password file".into());
        }
        let mut lines = read_lines(file)?;
        for line in &mut lines {
            if let Line::Entry { secret, .. } = line {
                if PasswordHash::parse(secret).is_err() {
                    let hash = PasswordHash::new(secret.as_bytes(), args.algorithm())
                        .map_err(|e| format!("cannot get random bytes for a salt: {e}"))?;
                    *secret = hash.encode();
                }
            }
        }
        return write(file, &lines).map(|()| None);
    }
    let Some(user) = args.user.as_deref() else {
        return Err("a user name is needed (see --help)".into());
    };
    if user.contains(':') {
        return Err("the user name must not contain ':'".into());
    }
    if user.is_empty() {
        return Err("the user name must not be empty".into());
    }
    if args.password.is_some() && (!args.batch || args.delete) {
        return Err("a password on the command line needs -b (and not -D)".into());
    }
    let mut lines = match args.create {
        true => Vec::new(),
        false => read_lines(file)?,
    };
    let is_user = |l: &Line| matches!(l, Line::Entry { user: u, .. } if u == user);
    if args.delete {
        let before = lines.len();
        lines.retain(|l| !is_user(l));
        if lines.len() == before {
            return Err(format!("user {user} not found in {}", file.display()));
        }
        return write(file, &lines).map(|()| None);
    }
    let password = match (&args.password, args.batch) {
        (Some(p), _) => p.clone(),
        (None, true) => return Err("-b needs the password after the user name".into()),
        (None, false) => {
            let first =
                prompt("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
            let again = prompt("Reenter password: ")
                .map_err(|e| format!("cannot read the password: {e}"))?;
            if first != again {
                return Err("Passwords do not match.".into());
            }
            first
        }
    };
    if password.is_empty() {
        return Err("the password must not be empty".into());
    }
    let secret = PasswordHash::new(password.as_bytes(), args.algorithm())
        .map_err(|e| format!("cannot get random bytes for a salt: {e}"))?
        .encode();
    match lines.iter().position(is_user) {
        Some(at) => {
            lines[at] = Line::Entry {
                user: user.to_owned(),
                secret,
            };
            // Only one entry per user remains.
            let mut seen = 0;
            lines.retain(|l| {
                !(is_user(l) && {
                    seen += 1;
                    seen > 1
                })
            });
        }
        None => lines.push(Line::Entry {
            user: user.to_owned(),
            secret,
        }),
    }
    write(file, &lines).map(|()| None)
}

fn read_lines(file: &Path) -> Result<Vec<Line>, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e} (use -c to create it)", file.display()))?;
    Ok(lines(&text))
}

/// Replaces `file` atomically with `lines`.
fn write(file: &Path, lines: &[Line]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: io::Error| format!("cannot write {}: {e}", file.display());
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
    let name = file
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", file.display()))?;
    let tmp = dir.unwrap_or(Path::new(".")).join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mode = std::fs::metadata(file).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let result = (|| {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        // Owner-only from the start: the hashes are never readable by others, even briefly.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(render(lines).as_bytes())?;
        f.sync_all()?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}
