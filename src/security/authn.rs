//! The authenticator behind `[security]`: `allow_anonymous` and the password file, swapped as
//! a whole on reload.
//!
//! Mosquitto's rules (`mosquitto_unpwd_check_default`): a client without a user name is
//! admitted or not by `allow_anonymous`; with a password file, a client that gives a user name
//! must be in the file and give its password, whatever `allow_anonymous` says. Without a
//! password file, user names prove nothing: admitted with `allow_anonymous = true`, refused
//! otherwise.

use super::hash::PasswordHash;
use super::password_file::Passwords;
use super::scram;
use arc_swap::ArcSwap;
use courtier_actors::auth::{
    AuthCheck, AuthFailure, AuthMethod, AuthOutcome, Authenticator, ConnectRequest, Identity,
};
use sha2::{Digest, Sha512};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// Most users whose last successful password is remembered; when full the cache starts over,
/// which costs one verification per user again, never a wrong answer.
pub const CACHE_CAPACITY: usize = 65_536;

/// What the authenticator decides with; replaced as a whole on reload.
#[derive(Debug, Default)]
pub struct AuthSettings {
    pub allow_anonymous: bool,
    pub passwords: Option<Passwords>,
    /// Enhanced authentication methods offered (`auth_methods`, scram.rs).
    pub auth_methods: Vec<String>,
}

/// Successful verifications of expensive (`$7$`) hashes, so that clients reconnecting with the
/// same password do not each pay for PBKDF2 again. Keyed by user; the value is a digest of a
/// per-process secret, the stored hash and the password, so neither the password nor anything
/// that could be attacked offline without the secret is kept, and a changed password or hash
/// (after a reload) no longer matches.
#[derive(Default)]
struct VerifiedCache {
    secret: [u8; 32],
    entries: Mutex<HashMap<String, [u8; 64]>>,
}

impl VerifiedCache {
    fn new() -> VerifiedCache {
        let mut secret = [0u8; 32];
        // Without OS randomness the cache still works; its digests are only less secret.
        let _ = getrandom::getrandom(&mut secret);
        VerifiedCache {
            secret,
            entries: Mutex::default(),
        }
    }

    fn key(&self, hash: &PasswordHash, password: &[u8]) -> [u8; 64] {
        let mut h = Sha512::new();
        h.update(self.secret);
        h.update(hash.encode().as_bytes());
        h.update([0]);
        h.update(password);
        h.finalize().into()
    }

    fn contains(&self, user: &str, key: &[u8; 64]) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(user)
            .is_some_and(|k| bool::from(k.as_slice().ct_eq(key.as_slice())))
    }

    fn insert(&self, user: &str, key: [u8; 64]) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CACHE_CAPACITY && !entries.contains_key(user) {
            entries.clear();
        }
        entries.insert(user.to_owned(), key);
    }
}

/// `allow_anonymous` plus the password file.
pub struct FileAuthenticator {
    settings: ArcSwap<AuthSettings>,
    cache: Arc<VerifiedCache>,
}

impl FileAuthenticator {
    pub fn new(settings: AuthSettings) -> FileAuthenticator {
        FileAuthenticator {
            settings: ArcSwap::from_pointee(settings),
            cache: Arc::new(VerifiedCache::new()),
        }
    }

    /// New connections are checked against `settings` from now on.
    pub fn replace(&self, settings: AuthSettings) {
        self.settings.store(Arc::new(settings));
    }

    /// The settings in force.
    pub fn current(&self) -> Arc<AuthSettings> {
        self.settings.load_full()
    }
}

fn allow(user: &str) -> AuthOutcome {
    AuthOutcome::Allow(Identity {
        username: Some(user.into()),
    })
}

const BAD: AuthOutcome = AuthOutcome::Deny(AuthFailure::BadUserNameOrPassword);

impl Authenticator for FileAuthenticator {
    fn method(&self, name: &str) -> Option<Arc<dyn AuthMethod>> {
        scram::offer(self.current(), name)
    }

    fn authenticate(&self, req: &ConnectRequest) -> AuthCheck {
        if req.auth_method.is_some() {
            return AuthCheck::Done(AuthOutcome::Deny(AuthFailure::BadAuthenticationMethod));
        }
        let settings = self.settings.load();
        let Some(user) = req.username.as_deref() else {
            return AuthCheck::Done(match settings.allow_anonymous {
                true => AuthOutcome::Allow(Identity { username: None }),
                false => AuthOutcome::Deny(AuthFailure::NotAuthorized),
            });
        };
        let Some(passwords) = &settings.passwords else {
            return AuthCheck::Done(match settings.allow_anonymous {
                true => allow(user),
                // Nothing to check a password against: no user name is accepted.
                false => BAD,
            });
        };
        // Unknown user and missing password are refused alike (5.0: 0x86, 3.1.1: 5), so a
        // client cannot tell which user names exist from the answer.
        let (Some(hash), Some(password)) = (passwords.get(user), req.password.as_ref()) else {
            return AuthCheck::Done(BAD);
        };
        if !hash.is_expensive() {
            return AuthCheck::Done(match hash.verify(password) {
                true => allow(user),
                false => BAD,
            });
        }
        let key = self.cache.key(hash, password);
        if self.cache.contains(user, &key) {
            return AuthCheck::Done(allow(user));
        }
        let (hash, password, user) = (hash.clone(), password.clone(), user.to_owned());
        let cache = self.cache.clone();
        // PBKDF2 runs on tokio's blocking pool, never on an actor thread; the connection
        // awaits the answer.
        AuthCheck::Pending(Box::pin(async move {
            let ok = tokio::task::spawn_blocking(move || hash.verify(&password))
                .await
                .unwrap_or(false);
            if ok {
                cache.insert(&user, key);
                allow(&user)
            } else {
                BAD
            }
        }))
    }
}
