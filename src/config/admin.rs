//! `[admin]`: who may use the admin API and dashboard (see `crate::http::api`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[admin]`: with neither key set the API answers only loopback clients, without
/// credentials; once either is set, every request needs credentials, loopback included.
#[derive(Deserialize, Serialize, Debug, Clone, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Users of `[security] password_file` who may use the API (HTTP Basic).
    pub users: Vec<String>,
    /// A file whose non-empty lines are bearer tokens; empty = none.
    pub token_file: PathBuf,
}

impl AdminSettings {
    pub fn credentials_configured(&self) -> bool {
        !self.users.is_empty() || !self.token_file.as_os_str().is_empty()
    }
}
