//! Password hashes and files: vectors from the real mosquitto_passwd
//! (tests/fixtures/mosquitto_passwd/README.md), good and bad lines, and the authenticator's
//! decisions with Mosquitto's rules.

use super::authn::{AuthSettings, FileAuthenticator};
use super::hash::{Algorithm, PasswordHash, DEFAULT_ITERATIONS};
use super::password_file::{lines, render, Passwords};
use bytes::Bytes;
use courtier_actors::auth::{
    AuthCheck, AuthFailure, AuthOutcome, Authenticator, ConnectRequest, Identity,
};
use courtier_actors::codec::ProtocolVersion;
use courtier_actors::message::ClientId;

const MOSQUITTO_FILE: &str = include_str!("../../tests/fixtures/mosquitto_passwd/passwd");
const UPGRADED: &str = include_str!("../../tests/fixtures/mosquitto_passwd/upgraded");

#[test]
fn pbkdf2_hashes_written_by_mosquitto_passwd_verify_their_passwords_only() {
    let file = Passwords::parse(MOSQUITTO_FILE).unwrap();
    assert_eq!(file.len(), 3);
    let alice = file.get("alice").unwrap();
    assert!(matches!(
        alice,
        PasswordHash::Pbkdf2Sha512 {
            iterations: 101,
            ..
        }
    ));
    assert!(alice.verify(b"alice-secret"));
    assert!(!alice.verify(b"alice-secreT"));
    assert!(!alice.verify(b""));
    assert!(file.get("bob").unwrap().verify(b"b0b pass"));
    let dave = Passwords::parse(UPGRADED).unwrap();
    assert!(dave.get("dave").unwrap().verify(b"plainpw"));
}

#[test]
fn salted_sha512_hashes_written_by_mosquitto_passwd_verify() {
    let file = Passwords::parse(MOSQUITTO_FILE).unwrap();
    let carol = file.get("carol").unwrap();
    assert!(matches!(carol, PasswordHash::Sha512 { .. }));
    assert!(!carol.is_expensive());
    assert!(carol.verify(b"carol6"));
    assert!(!carol.verify(b"carol7"));
}

#[test]
fn hashes_are_written_back_exactly_as_read() {
    for line in MOSQUITTO_FILE.lines() {
        let (_, secret) = line.split_once(':').unwrap();
        assert_eq!(PasswordHash::parse(secret).unwrap().encode(), secret);
    }
}

#[test]
fn new_hashes_use_mosquitto_passwd_defaults_and_verify() {
    let algorithm = Algorithm::Pbkdf2Sha512 {
        iterations: DEFAULT_ITERATIONS,
    };
    let h = PasswordHash::new(b"pw", algorithm).unwrap();
    let text = h.encode();
    assert!(text.starts_with("$7$101$"), "{text}");
    // 12-byte salt = 16 base64 characters, 64-byte hash = 88.
    let fields: Vec<&str> = text.split('$').collect();
    assert_eq!((fields[3].len(), fields[4].len()), (16, 88));
    assert!(PasswordHash::parse(&text).unwrap().verify(b"pw"));
    let other = PasswordHash::new(b"pw", algorithm).unwrap();
    assert_ne!(other, h, "a new salt each time");
    let six = PasswordHash::new(b"pw", Algorithm::Sha512).unwrap();
    assert!(six.encode().starts_with("$6$") && six.verify(b"pw"));
}

#[test]
fn any_iteration_count_is_read() {
    let h = PasswordHash::with_salt(b"x", [7; 12], Algorithm::Pbkdf2Sha512 { iterations: 3 });
    let back = PasswordHash::parse(&h.encode()).unwrap();
    assert!(matches!(
        back,
        PasswordHash::Pbkdf2Sha512 { iterations: 3, .. }
    ));
    assert!(back.verify(b"x"));
}

#[test]
fn comments_blank_lines_and_blanks_around_fields_are_accepted() {
    let alice = MOSQUITTO_FILE.lines().next().unwrap();
    let (user, secret) = alice.split_once(':').unwrap();
    let text = format!("# users\n\n  {user} : {secret}  \r\n");
    let file = Passwords::parse(&text).unwrap();
    assert!(file.get("alice").unwrap().verify(b"alice-secret"));
}

#[test]
fn bad_lines_are_refused_with_their_line_number_and_reason() {
    let good = MOSQUITTO_FILE.lines().next().unwrap();
    let cases: &[(&str, &str)] = &[
        ("plain:secret", "plaintext passwords are not accepted"),
        ("nocolon", "expected user:hash"),
        (":$6$x$y", "empty user name"),
        ("u:", "no password hash"),
        ("u:$5$abc$def", "unknown hash type"),
        ("u:$7$0$lXNDQ5w0Ca7z5HCS$aGFzaA==", "iteration count"),
        ("u:$7$x$lXNDQ5w0Ca7z5HCS$aGFzaA==", "iteration count"),
        ("u:$6$bm90MTI=$aGFzaA==", "salt is 5 bytes, expected 12"),
        (
            "u:$6$lXNDQ5w0Ca7z5HCS$aGFzaA==",
            "hash is 4 bytes, expected 64",
        ),
        ("u:$6$!!!!$aGFzaA==", "salt is not valid base64"),
        ("u:$6$lXNDQ5w0Ca7z5HCS", "wrong number"),
        (good, "already on line 1"),
    ];
    for (line, reason) in cases {
        let text = format!("{good}\n{line}\n");
        let (n, why) = Passwords::parse(&text).unwrap_err();
        assert_eq!(n, 2, "{line}");
        assert!(why.contains(reason), "{line}: {why}");
        assert!(!why.contains("lXNDQ5w0"), "never repeats hashes: {why}");
    }
}

#[test]
fn editing_keeps_every_other_line_in_order() {
    let text = "# header\nalice:$6$a$b\n\nbob:x\n";
    assert_eq!(render(&lines(text)), text);
}

fn req(user: Option<&str>, password: Option<&str>) -> ConnectRequest {
    ConnectRequest {
        client_id: ClientId::from("c"),
        username: user.map(Into::into),
        password: password.map(|p| Bytes::copy_from_slice(p.as_bytes())),
        peer: "127.0.0.1:1".into(),
        transport: "tcp",
        protocol: ProtocolVersion::V311,
        auth_method: None,
        auth_data: None,
    }
}

fn decide(a: &FileAuthenticator, user: Option<&str>, password: Option<&str>) -> AuthOutcome {
    match a.authenticate(&req(user, password)) {
        AuthCheck::Done(o) => o,
        AuthCheck::Pending(f) => tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f),
    }
}

fn with_file(allow_anonymous: bool) -> FileAuthenticator {
    FileAuthenticator::new(AuthSettings {
        allow_anonymous,
        passwords: Some(Passwords::parse(MOSQUITTO_FILE).unwrap()),
        ..AuthSettings::default()
    })
}

const BAD: AuthOutcome = AuthOutcome::Deny(AuthFailure::BadUserNameOrPassword);

fn allowed(user: Option<&str>) -> AuthOutcome {
    AuthOutcome::Allow(Identity {
        username: user.map(Into::into),
    })
}

#[test]
fn anonymous_off_with_a_password_file_needs_a_known_user_and_its_password() {
    let a = with_file(false);
    assert_eq!(
        decide(&a, None, None),
        AuthOutcome::Deny(AuthFailure::NotAuthorized)
    );
    assert_eq!(
        decide(&a, Some("alice"), Some("alice-secret")),
        allowed(Some("alice"))
    );
    assert_eq!(
        decide(&a, Some("carol"), Some("carol6")),
        allowed(Some("carol"))
    );
    assert_eq!(decide(&a, Some("alice"), Some("wrong")), BAD);
    assert_eq!(decide(&a, Some("alice"), None), BAD);
    assert_eq!(decide(&a, Some("mallory"), Some("alice-secret")), BAD);
}

#[test]
fn anonymous_on_with_a_password_file_still_checks_clients_that_give_a_user_name() {
    let a = with_file(true);
    assert_eq!(decide(&a, None, None), allowed(None));
    assert_eq!(
        decide(&a, Some("bob"), Some("b0b pass")),
        allowed(Some("bob"))
    );
    assert_eq!(decide(&a, Some("bob"), Some("b0b")), BAD);
    assert_eq!(decide(&a, Some("mallory"), None), BAD);
}

#[test]
fn pbkdf2_runs_off_the_caller_once_then_comes_from_the_cache() {
    let a = with_file(false);
    assert!(matches!(
        a.authenticate(&req(Some("alice"), Some("alice-secret"))),
        AuthCheck::Pending(_)
    ));
    assert_eq!(
        decide(&a, Some("alice"), Some("alice-secret")),
        allowed(Some("alice"))
    );
    assert!(matches!(
        a.authenticate(&req(Some("alice"), Some("alice-secret"))),
        AuthCheck::Done(AuthOutcome::Allow(_))
    ));
    // Another password is not a cache hit: it is verified (and refused).
    assert!(matches!(
        a.authenticate(&req(Some("alice"), Some("x"))),
        AuthCheck::Pending(_)
    ));
    assert_eq!(decide(&a, Some("alice"), Some("x")), BAD);
    // A changed file (reload) invalidates what was cached for the old hash.
    let h = PasswordHash::new(b"new", Algorithm::Pbkdf2Sha512 { iterations: 2 }).unwrap();
    a.replace(AuthSettings {
        allow_anonymous: false,
        passwords: Some(Passwords::parse(&format!("alice:{}\n", h.encode())).unwrap()),
        ..AuthSettings::default()
    });
    assert_eq!(decide(&a, Some("alice"), Some("alice-secret")), BAD);
    assert_eq!(
        decide(&a, Some("alice"), Some("new")),
        allowed(Some("alice"))
    );
}

#[test]
fn without_a_password_file_user_names_are_admitted_only_with_anonymous_on() {
    let on = FileAuthenticator::new(AuthSettings {
        allow_anonymous: true,
        passwords: None,
        ..AuthSettings::default()
    });
    assert_eq!(
        decide(&on, Some("anyone"), Some("x")),
        allowed(Some("anyone"))
    );
    let off = FileAuthenticator::new(AuthSettings::default());
    assert_eq!(decide(&off, Some("anyone"), Some("x")), BAD);
    assert_eq!(
        decide(&off, None, None),
        AuthOutcome::Deny(AuthFailure::NotAuthorized)
    );
}
