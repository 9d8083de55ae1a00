//! `[security]`: the password file and the ACL file behind the broker's authentication and
//! authorization seam (`courtier_actors::auth`), and reloading them (SIGHUP).
//!
//! - [`hash`]: `$6$`/`$7$` hashes as mosquitto_passwd writes them;
//! - [`password_file`]: the password file format; [`authn`]: who may connect;
//! - [`scram`]: SCRAM-SHA-512 enhanced authentication against the password file;
//! - [`acl`]: the ACL file format and its checks; [`authz`]: what a client may do;
//! - [`passwd`]: the `courtier passwd` command; [`revoke`]: whom a reload disconnects;
//! - [`throttle`]: repeated failed logins from one address answered late.
//!
//! Reload is all or nothing: both files are read and parsed first, and only if both are good
//! are they swapped in (each with one atomic pointer store); otherwise the old settings stay.

pub mod acl;
mod acl_index;
pub mod authn;
pub mod authz;
pub mod hash;
pub mod passwd;
pub mod password_file;
pub mod revoke;
pub mod scram;
pub mod throttle;

#[cfg(test)]
mod acl_tests;
#[cfg(test)]
mod password_tests;

use crate::config::SecuritySettings;
use acl::Acl;
use authn::{AuthSettings, FileAuthenticator};
use authz::AclAuthorizer;
use courtier_actors::auth::Security;
use courtier_actors::session::messages::RevokedBy;
use password_file::Passwords;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use throttle::{FailedLogins, Throttled};

/// A security file that cannot be used: which key, which file, which line, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} {path:?}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct FileError {
    /// `password_file` or `acl_file`.
    pub key: &'static str,
    pub path: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

impl FileError {
    fn io(key: &'static str, path: &Path, e: std::io::Error) -> FileError {
        FileError {
            key,
            path: path.to_owned(),
            line: None,
            reason: format!("cannot read it: {e}: {}", crate::hints::path(&e, path)),
        }
    }
}

/// `None` for an empty path (the key's "not set").
fn configured(path: &Path) -> Option<&Path> {
    (!path.as_os_str().is_empty()).then_some(path)
}

/// The files `settings` name, read and parsed.
pub fn read(settings: &SecuritySettings) -> Result<(AuthSettings, Option<Acl>), FileError> {
    let passwords = configured(&settings.password_file)
        .map(Passwords::load)
        .transpose()?;
    let acl = configured(&settings.acl_file).map(Acl::load).transpose()?;
    Ok((
        AuthSettings {
            allow_anonymous: settings.allow_anonymous,
            passwords,
            auth_methods: settings.auth_methods.clone(),
        },
        acl,
    ))
}

/// The authenticator and authorizer the broker consults, which [`SecurityFiles::reload`]
/// updates in place (so the broker's `Security` handles stay the same).
#[derive(Clone)]
pub struct SecurityFiles {
    authn: Arc<FileAuthenticator>,
    authz: Arc<AclAuthorizer>,
    failed_logins: Arc<FailedLogins>,
}

impl SecurityFiles {
    /// Reads the files `settings` name; at start-up an error stops the broker.
    pub fn load(settings: &SecuritySettings) -> Result<SecurityFiles, FileError> {
        let (auth, acl) = read(settings)?;
        let files = SecurityFiles {
            authn: Arc::new(FileAuthenticator::new(AuthSettings::default())),
            authz: Arc::new(AclAuthorizer::new(None)),
            failed_logins: FailedLogins::new(0, 0),
        };
        files.install(settings, auth, acl);
        Ok(files)
    }

    /// What the broker is started with.
    pub fn security(&self) -> Security {
        Security {
            authenticator: Arc::new(Throttled {
                inner: self.authn.clone(),
                failures: self.failed_logins.clone(),
            }),
            authorizer: self.authz.clone(),
        }
    }

    /// The password file and anonymous setting in force (the admin API checks its users'
    /// passwords against them).
    pub fn auth_settings(&self) -> Arc<AuthSettings> {
        self.authn.current()
    }

    /// Re-reads the files `settings` name and swaps them in, or keeps everything as it is and
    /// returns why not. Connected clients' next checks use the new ACL; on success, the answer
    /// says which of them lost the right to be connected ([`revoke`]), if any may have.
    pub fn reload(&self, settings: &SecuritySettings) -> Result<Option<RevokedBy>, FileError> {
        let (auth, acl) = read(settings)?;
        let old = self.authn.current();
        self.install(settings, auth, acl);
        Ok(revoke::revoked_by(&old, &self.authn.current()))
    }

    fn install(&self, settings: &SecuritySettings, auth: AuthSettings, acl: Option<Acl>) {
        let users = auth.passwords.as_ref().map(Passwords::len);
        if !auth.auth_methods.is_empty() && users.is_none() {
            log::warn!(
                "security: auth_methods {:?} check users against password_file, which is not \
                 set: every such login is refused",
                auth.auth_methods
            );
        }
        let rules = acl.as_ref().map(Acl::rule_count);
        self.authn.replace(auth);
        self.authz.replace(acl);
        self.failed_logins.configure(
            settings.failed_auth_delay_ms,
            settings.failed_auth_delay_max_ms,
        );
        log::info!(
            "security: allow_anonymous = {}, password_file = {}, acl_file = {}",
            settings.allow_anonymous,
            match users {
                Some(n) => format!("{:?} ({n} users)", settings.password_file),
                None => "none".into(),
            },
            match rules {
                Some(n) => format!("{:?} ({n} rules)", settings.acl_file),
                None => "none".into(),
            },
        );
    }
}
