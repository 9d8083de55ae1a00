//! Which connected clients a reload of `[security]` disconnects: a user the old password file
//! held and the new settings no longer admit (deleted from the file, or the file removed with
//! `allow_anonymous = false`), and anonymous clients once `allow_anonymous` turns false.
//!
//! Passwords are not checked again (the broker does not keep them): a user whose password
//! changed stays connected until it reconnects. A user the old file did not hold (one named by
//! a client certificate, or any user name while there was no password file) is left alone.

use super::authn::AuthSettings;
use courtier_actors::session::messages::RevokedBy;
use std::sync::Arc;

/// The test connected clients are put to after a reload from `old` to `new`, or `None` when
/// the reload withdraws nothing (then no session is asked).
pub fn revoked_by(old: &AuthSettings, new: &Arc<AuthSettings>) -> Option<RevokedBy> {
    let anonymous_withdrawn = old.allow_anonymous && !new.allow_anonymous;
    let users_withdrawn = match (&old.passwords, &new.passwords) {
        (None, _) => false,
        (Some(_), None) => !new.allow_anonymous,
        (Some(o), Some(n)) => o.users().any(|u| n.get(u).is_none()),
    };
    if !anonymous_withdrawn && !users_withdrawn {
        return None;
    }
    let old_users: Option<std::collections::HashSet<String>> = old
        .passwords
        .as_ref()
        .map(|p| p.users().map(str::to_owned).collect());
    let new = new.clone();
    Some(Arc::new(move |username: Option<&str>| match username {
        None => (!new.allow_anonymous).then(|| "anonymous access turned off".to_owned()),
        Some(user) => {
            let was_in_file = old_users.as_ref().is_some_and(|u| u.contains(user));
            let admitted = match &new.passwords {
                Some(p) => p.get(user).is_some(),
                None => new.allow_anonymous,
            };
            (was_in_file && !admitted).then(|| "user removed from the password file".to_owned())
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::hash::{Algorithm, PasswordHash, SALT_LEN};
    use crate::security::password_file::Passwords;

    fn settings(anonymous: bool, users: Option<&[&str]>) -> AuthSettings {
        AuthSettings {
            allow_anonymous: anonymous,
            passwords: users.map(|u| {
                let hash = PasswordHash::with_salt(b"pw", [7; SALT_LEN], Algorithm::Sha512);
                let line = |n: &&str| format!("{n}:{}\n", hash.encode());
                let text: String = u.iter().map(line).collect();
                Passwords::parse(&text).unwrap()
            }),
            ..AuthSettings::default()
        }
    }

    fn check(old: AuthSettings, new: AuthSettings, who: Option<&str>) -> Option<String> {
        revoked_by(&old, &Arc::new(new)).and_then(|f| f(who))
    }

    #[test]
    fn a_user_deleted_from_the_file_is_revoked_and_the_others_stay() {
        let old = || settings(false, Some(&["alice", "bob"]));
        let new = || settings(false, Some(&["alice"]));
        assert!(check(old(), new(), Some("bob")).is_some());
        assert_eq!(check(old(), new(), Some("alice")), None);
        // A user the old file never held (a client certificate's name) is not touched.
        assert_eq!(check(old(), new(), Some("device-7")), None);
    }

    #[test]
    fn nothing_withdrawn_asks_no_session() {
        let same = revoked_by(
            &settings(false, Some(&["alice"])),
            &Arc::new(settings(false, Some(&["alice", "bob"]))),
        );
        assert!(same.is_none());
        let no_files = revoked_by(&settings(true, None), &Arc::new(settings(true, None)));
        assert!(no_files.is_none());
    }

    #[test]
    fn anonymous_clients_go_when_allow_anonymous_turns_false() {
        let old = || settings(true, Some(&["alice"]));
        let new = || settings(false, Some(&["alice"]));
        assert!(check(old(), new(), None).is_some());
        assert_eq!(check(old(), new(), Some("alice")), None);
    }

    #[test]
    fn removing_the_file_with_anonymous_off_revokes_its_users() {
        let old = || settings(false, Some(&["alice"]));
        assert!(check(old(), settings(false, None), Some("alice")).is_some());
        assert_eq!(check(old(), settings(true, None), Some("alice")), None);
    }
}
