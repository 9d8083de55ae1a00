//! Who may use the admin API: loopback only without credentials configured; once `[admin]
//! users` or `token_file` is set, every request needs HTTP Basic (an admin user and their
//! password-file password) or a bearer token, loopback included (a reverse proxy on the same
//! host makes remote requests look local).
//!
//! Failed attempts are rate-limited per address: each failure is answered after
//! [`FAILURE_DELAY`], and another attempt from that address until [`FAILURE_DELAY`] after
//! that answer is refused with 429 before any password is checked, so each guess costs two
//! seconds.

use crate::security::SecurityFiles;
use base64::Engine;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const FAILURE_DELAY: Duration = Duration::from_secs(1);

/// Addresses remembered for rate limiting before old entries are swept.
const REMEMBERED: usize = 4096;

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; who it is, for the log of mutating calls.
    Allow(String),
    /// Not loopback and no credentials configured: 403.
    LoopbackOnly,
    /// Credentials missing or wrong: 401 (after [`FAILURE_DELAY`] when some were given).
    Unauthorized { tried: bool },
    /// Too soon after a failure from this address: 429.
    TooSoon,
}

/// Credentials a request carries (the `Authorization` header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    Basic { user: String, password: String },
    Bearer(String),
    Malformed,
}

impl Credentials {
    pub fn parse(header: Option<&str>) -> Credentials {
        let Some(h) = header else {
            return Credentials::None;
        };
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            return Credentials::Bearer(rest.to_owned());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                return Credentials::Basic {
                    user: user.to_owned(),
                    password: password.to_owned(),
                };
            }
        }
        Credentials::Malformed
    }
}

pub struct Access {
    users: Vec<String>,
    tokens: Vec<String>,
    security: SecurityFiles,
    /// Address -> until when its attempts are refused.
    failures: Mutex<HashMap<IpAddr, Instant>>,
}

/// The tokens of a token file: its non-empty lines not starting with `#`.
pub fn read_tokens(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("[admin] token_file {path:?}: cannot read it: {e}"))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// The decision before credentials are checked: `None` means check them.
pub fn precheck(
    loopback: bool,
    configured: bool,
    credentials: &Credentials,
    too_soon: bool,
) -> Option<Decision> {
    if !configured {
        return Some(match loopback {
            true => Decision::Allow("loopback".into()),
            false => Decision::LoopbackOnly,
        });
    }
    match credentials {
        Credentials::None => Some(Decision::Unauthorized { tried: false }),
        _ if too_soon => Some(Decision::TooSoon),
        _ => None,
    }
}

impl Access {
    pub fn new(users: Vec<String>, tokens: Vec<String>, security: SecurityFiles) -> Access {
        Access {
            users,
            tokens,
            security,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn configured(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    fn too_soon(&self, ip: IpAddr) -> bool {
        let failures = self.failures.lock().expect("not poisoned");
        failures
            .get(&ip)
            .is_some_and(|until| Instant::now() < *until)
    }

    fn failed(&self, ip: IpAddr) {
        let mut failures = self.failures.lock().expect("not poisoned");
        if failures.len() >= REMEMBERED {
            let now = Instant::now();
            failures.retain(|_, until| now < *until);
        }
        // The answer waits one delay, the next attempt one more.
        failures.insert(ip, Instant::now() + 2 * FAILURE_DELAY);
    }

    /// Decide on a request from `ip` carrying `credentials`. Password hashes are verified on
    /// the blocking pool, never on an HTTP worker or actor thread.
    pub async fn decide(&self, ip: IpAddr, credentials: Credentials) -> Decision {
        let loopback = ip.is_loopback()
            || matches!(ip, IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()));
        if let Some(d) = precheck(loopback, self.configured(), &credentials, self.too_soon(ip)) {
            return d;
        }
        let who = match credentials {
            Credentials::Bearer(token) => self
                .tokens
                .iter()
                .position(|t| bool::from(t.as_bytes().ct_eq(token.as_bytes())))
                .map(|i| format!("token #{} from {ip}", i + 1)),
            Credentials::Basic { user, password } if self.users.contains(&user) => {
                let settings = self.security.auth_settings();
                let hash = settings
                    .passwords
                    .as_ref()
                    .and_then(|p| p.get(&user))
                    .cloned();
                let ok = match hash {
                    Some(h) => actix_web::web::block(move || h.verify(password.as_bytes()))
                        .await
                        .unwrap_or(false),
                    None => false,
                };
                ok.then(|| format!("user {user:?} from {ip}"))
            }
            _ => None,
        };
        match who {
            Some(who) => Decision::Allow(who),
            None => {
                self.failed(ip);
                actix_rt::time::sleep(FAILURE_DELAY).await;
                Decision::Unauthorized { tried: true }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_credentials_configured_only_loopback_is_answered() {
        let none = Credentials::None;
        assert_eq!(
            precheck(true, false, &none, false),
            Some(Decision::Allow("loopback".into()))
        );
        assert_eq!(
            precheck(false, false, &none, false),
            Some(Decision::LoopbackOnly)
        );
    }

    #[test]
    fn with_credentials_configured_loopback_needs_them_too() {
        assert_eq!(
            precheck(true, true, &Credentials::None, false),
            Some(Decision::Unauthorized { tried: false })
        );
        let token = Credentials::Bearer("t".into());
        assert_eq!(precheck(true, true, &token, false), None);
        assert_eq!(precheck(false, true, &token, true), Some(Decision::TooSoon));
    }

    #[test]
    fn parses_basic_and_bearer() {
        assert_eq!(
            Credentials::parse(Some("Basic YWxpY2U6czNjcmV0")),
            Credentials::Basic {
                user: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert_eq!(
            Credentials::parse(Some("Bearer abc")),
            Credentials::Bearer("abc".into())
        );
        assert_eq!(Credentials::parse(Some("Basic !!")), Credentials::Malformed);
        assert_eq!(Credentials::parse(None), Credentials::None);
    }
}
