//! SCRAM-SHA-512 (RFC 5802, with SHA-512 as RFC 7677 does with SHA-256) as an MQTT 5.0
//! enhanced authentication method, against the password file.
//!
//! A `$7$` entry holds PBKDF2-HMAC-SHA512(password, salt, iterations, 64 bytes), which is
//! exactly SCRAM's SaltedPassword = Hi(password, salt, i): ClientKey, StoredKey and ServerKey
//! derive from it, so the password file is the credential store and the password never
//! crosses the wire. The exchange over MQTT:
//!
//! 1. CONNECT, Authentication Method "SCRAM-SHA-512", Authentication Data client-first-message
//!    (`n,,n=USER,r=CNONCE`). Without data the broker answers an empty AUTH 0x18 first and
//!    takes the client-first-message in the client's AUTH 0x18.
//! 2. AUTH 0x18 with server-first-message `r=CNONCE+SNONCE,s=SALT,i=ITERATIONS` (salt and
//!    iteration count from the user's entry; the server nonce from the OS CSPRNG).
//! 3. AUTH 0x18 from the client with client-final-message `c=biws,r=NONCE,p=PROOF`.
//! 4. CONNACK 0x00 with server-final-message `v=SERVERSIGNATURE` (or CONNACK 0x87).
//!
//! Re-authentication (AUTH 0x19) carries the client-first-message and ends in AUTH 0x00.
//! Users without a `$7$` entry (`$6$` hashes hold no SaltedPassword) and unknown users get a
//! server-first-message with a salt derived from a per-process secret, so the answer does not
//! tell which users exist; they fail at the last step, and the log says why. Each step costs
//! a few HMACs (no PBKDF2 on the broker's side), about one `$6$` check, so steps answer at
//! once as cheap password checks do. Proofs are compared in constant time. User names are
//! compared as given (no SASLprep), as Mosquitto compares them.

use super::authn::AuthSettings;
use super::hash::{PasswordHash, DEFAULT_ITERATIONS, HASH_LEN, SALT_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use bytestring::ByteString;
use courtier_actors::auth::{
    AuthFailure, AuthMethod, ConnectRequest, Exchange, ExchangeCheck, ExchangeStep, Identity,
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha512};
use std::sync::{Arc, OnceLock};
use subtle::ConstantTimeEq;

/// The method's name in CONNECT and AUTH, and in `[security] auth_methods`.
pub const METHOD: &str = "SCRAM-SHA-512";
/// Random bytes in the server's part of the nonce.
const NONCE_BYTES: usize = 18;

type Key = [u8; HASH_LEN];

pub fn hmac(key: &[u8], msg: &[u8]) -> Key {
    let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

pub fn sha512(data: &[u8]) -> Key {
    Sha512::digest(data).into()
}

/// What the server keeps of a user's SaltedPassword (RFC 5802 §3).
#[derive(Clone)]
pub struct ServerKeys {
    pub stored_key: Key,
    pub server_key: Key,
}

impl ServerKeys {
    pub fn from_salted_password(salted: &Key) -> ServerKeys {
        ServerKeys {
            stored_key: sha512(&hmac(salted, b"Client Key")),
            server_key: hmac(salted, b"Server Key"),
        }
    }
}

/// The method, offered when `auth_methods` names it; one per exchange start, with the
/// password file in force then.
pub struct ScramSha512 {
    settings: Arc<AuthSettings>,
}

/// The method `name` if the settings offer it (authn.rs asks on every CONNECT with a method).
pub fn offer(settings: Arc<AuthSettings>, name: &str) -> Option<Arc<dyn AuthMethod>> {
    (name == METHOD && settings.auth_methods.iter().any(|m| m == METHOD))
        .then(|| Arc::new(ScramSha512 { settings }) as Arc<dyn AuthMethod>)
}

impl AuthMethod for ScramSha512 {
    fn start(&self, req: &ConnectRequest) -> ExchangeCheck {
        let first = AwaitClientFirst {
            settings: self.settings.clone(),
            connect_user: req.username.clone(),
            peer: req.peer.clone(),
        };
        ExchangeCheck::Done(match &req.auth_data {
            Some(data) => first.on_client_first(data),
            // The client left the first word to the server: an empty challenge.
            None => ExchangeStep::Continue {
                data: None,
                next: Box::new(first),
            },
        })
    }
}

/// Waiting for client-first-message.
struct AwaitClientFirst {
    settings: Arc<AuthSettings>,
    /// The CONNECT's User Name, if any: SCRAM's user must be the same.
    connect_user: Option<ByteString>,
    peer: String,
}

/// Waiting for client-final-message.
struct AwaitClientFinal {
    user: String,
    peer: String,
    /// `None` when the user cannot log in with SCRAM (the reason is in `why_not`).
    keys: Option<ServerKeys>,
    why_not: &'static str,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

impl Exchange for AwaitClientFirst {
    fn step(self: Box<Self>, data: Option<Bytes>) -> ExchangeCheck {
        ExchangeCheck::Done(self.on_client_first(data.as_deref().unwrap_or_default()))
    }
}

impl Exchange for AwaitClientFinal {
    fn step(self: Box<Self>, data: Option<Bytes>) -> ExchangeCheck {
        ExchangeCheck::Done(self.on_client_final(data.as_deref().unwrap_or_default()))
    }
}

fn refuse(peer: &str, user: &str, why: &str) -> ExchangeStep {
    log::warn!("SCRAM-SHA-512 login refused: addr={peer} user={user:?} reason={why}");
    ExchangeStep::Failure(AuthFailure::NotAuthorized)
}

impl AwaitClientFirst {
    fn on_client_first(self, data: &[u8]) -> ExchangeStep {
        let first = match std::str::from_utf8(data)
            .map_err(|_| "client-first-message is not UTF-8")
            .and_then(ClientFirst::parse)
        {
            Ok(first) => first,
            Err(why) => return refuse(&self.peer, "", why),
        };
        if let Some(u) = &self.connect_user {
            if **u != first.user {
                return refuse(&self.peer, &first.user, "not the CONNECT's User Name");
            }
        }
        let entry = self
            .settings
            .passwords
            .as_ref()
            .and_then(|p| p.get(&first.user));
        let (salt, iterations, keys, why_not) = match entry {
            Some(PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            }) => (
                *salt,
                *iterations,
                Some(ServerKeys::from_salted_password(hash)),
                "",
            ),
            Some(PasswordHash::Sha512 { .. }) => (
                fake_salt(&first.user),
                DEFAULT_ITERATIONS,
                None,
                "the user's entry is a $6$ hash, which SCRAM cannot use: set the password \
                 again with `courtier passwd` or mosquitto_passwd to store a $7$ (PBKDF2) hash",
            ),
            None if self.settings.passwords.is_none() => (
                fake_salt(&first.user),
                DEFAULT_ITERATIONS,
                None,
                "no password_file is configured",
            ),
            None => (
                fake_salt(&first.user),
                DEFAULT_ITERATIONS,
                None,
                "unknown user",
            ),
        };
        let nonce = format!("{}{}", first.nonce, server_nonce());
        let server_first = format!("r={nonce},s={},i={iterations}", STANDARD.encode(salt));
        ExchangeStep::Continue {
            data: Some(Bytes::copy_from_slice(server_first.as_bytes())),
            next: Box::new(AwaitClientFinal {
                user: first.user,
                peer: self.peer,
                keys,
                why_not,
                gs2_header: first.gs2_header,
                client_first_bare: first.bare,
                server_first,
                nonce,
            }),
        }
    }
}

impl AwaitClientFinal {
    fn on_client_final(self, data: &[u8]) -> ExchangeStep {
        let Ok(text) = std::str::from_utf8(data) else {
            return refuse(&self.peer, &self.user, "client-final-message is not UTF-8");
        };
        match self.verify(text) {
            Ok(server_final) => ExchangeStep::Success {
                identity: Identity {
                    username: Some(self.user.as_str().into()),
                },
                data: Some(Bytes::from(server_final)),
            },
            Err(why) => refuse(&self.peer, &self.user, why),
        }
    }

    /// Checks client-final-message; the server-final-message if the proof is right.
    fn verify(&self, text: &str) -> Result<String, &'static str> {
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or("client-final-message has no proof")?;
        let mut attrs = without_proof.split(',');
        let binding = attrs.next().and_then(|a| a.strip_prefix("c="));
        if binding != Some(STANDARD.encode(&self.gs2_header).as_str()) {
            return Err("channel binding data does not match the GS2 header");
        }
        if attrs.next().and_then(|a| a.strip_prefix("r=")) != Some(self.nonce.as_str()) {
            return Err("nonce does not match");
        }
        let proof: Key = STANDARD
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or("proof is not 64 bytes of base64")?;
        let Some(keys) = &self.keys else {
            return Err(self.why_not);
        };
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let signature = hmac(&keys.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        for (k, s) in client_key.iter_mut().zip(signature) {
            *k ^= s;
        }
        if !bool::from(sha512(&client_key).ct_eq(&keys.stored_key)) {
            return Err("wrong password (invalid proof)");
        }
        let server_signature = hmac(&keys.server_key, auth_message.as_bytes());
        Ok(format!("v={}", STANDARD.encode(server_signature)))
    }
}

/// A parsed client-first-message (RFC 5802 §7).
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFirst {
    /// `n,,` (or `y,,`, or with an authzid): repeated base64-encoded in client-final.
    pub gs2_header: String,
    /// client-first-message-bare, part of the AuthMessage.
    pub bare: String,
    pub user: String,
    pub nonce: String,
}

impl ClientFirst {
    pub fn parse(msg: &str) -> Result<ClientFirst, &'static str> {
        let mut parts = msg.splitn(3, ',');
        let (Some(cbind), Some(authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err("client-first-message has no GS2 header");
        };
        match cbind {
            // "y": the client could bind to the channel but thinks the server cannot; the
            // broker offers no -PLUS variant, so that is right.
            "n" | "y" => {}
            c if c.starts_with("p=") => return Err("channel binding is not supported"),
            _ => return Err("bad GS2 channel binding flag"),
        }
        let mut attrs = bare.split(',');
        let user = match attrs.next().and_then(|a| a.strip_prefix("n=")) {
            Some(name) => sasl_name(name)?,
            None if bare.starts_with("m=") => return Err("mandatory extension not supported"),
            None => return Err("client-first-message has no user name"),
        };
        let nonce = attrs
            .next()
            .and_then(|a| a.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b)))
            .ok_or("client-first-message has no valid nonce")?;
        if let Some(authz) = authzid.strip_prefix("a=") {
            if sasl_name(authz)? != user {
                return Err("authorization identity differs from the user name");
            }
        } else if !authzid.is_empty() {
            return Err("bad GS2 authorization identity");
        }
        Ok(ClientFirst {
            gs2_header: format!("{cbind},{authzid},"),
            bare: bare.to_owned(),
            user,
            nonce: nonce.to_owned(),
        })
    }
}

/// A saslname: `=2C` is `,` and `=3D` is `=`; any other `=` is malformed.
fn sasl_name(s: &str) -> Result<String, &'static str> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err("malformed user name (bad = escape)"),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err("empty user name");
    }
    Ok(out)
}

/// The server's part of the nonce: random bytes from the OS CSPRNG, in base64.
fn server_nonce() -> String {
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::getrandom(&mut bytes).expect("the operating system's random number generator");
    STANDARD.encode(bytes)
}

/// A salt for a user who cannot log in with SCRAM, the same on every attempt (as a real
/// entry's would be) and not guessable without the per-process secret.
fn fake_salt(user: &str) -> [u8; SALT_LEN] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    let secret = SECRET.get_or_init(|| {
        let mut s = [0u8; 32];
        let _ = getrandom::getrandom(&mut s);
        s
    });
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&hmac(secret, user.as_bytes())[..SALT_LEN]);
    salt
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
