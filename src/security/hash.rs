//! Mosquitto's password hashes, as `mosquitto_passwd` writes them and Mosquitto 2.0 reads them
//! (`unpwd__decode_passwords` in its `src/security_default.c`):
//!
//! - `$6$SALT$HASH`: HASH = SHA-512(password ‖ salt);
//! - `$7$ITERATIONS$SALT$HASH`: HASH = PBKDF2-HMAC-SHA512(password, salt, ITERATIONS, 64 bytes).
//!
//! SALT is 12 bytes and HASH 64 bytes, both in standard base64 with padding (OpenSSL's).
//! Anything else (plaintext included) is refused: Mosquitto 2.0 refuses it too.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// mosquitto_passwd 2.0's default iteration count for `$7$` (`PW_DEFAULT_ITERATIONS`).
pub const DEFAULT_ITERATIONS: u32 = 101;
pub const SALT_LEN: usize = 12;
pub const HASH_LEN: usize = 64;

/// A stored password hash. `Debug` prints the kind only: hashes are never logged.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordHash {
    Sha512 {
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
    Pbkdf2Sha512 {
        iterations: u32,
        salt: [u8; SALT_LEN],
        hash: [u8; HASH_LEN],
    },
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PasswordHash::Sha512 { .. } => f.write_str("$6$<redacted>"),
            PasswordHash::Pbkdf2Sha512 { iterations, .. } => {
                write!(f, "$7${iterations}$<redacted>")
            }
        }
    }
}

/// Hash algorithm for new entries (mosquitto_passwd's `-H`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha512,
    Pbkdf2Sha512 { iterations: u32 },
}

fn decode<const N: usize>(what: &str, text: &str) -> Result<[u8; N], String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| format!("the {what} is not valid base64"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("the {what} is {} bytes, expected {N}", b.len()))
}

impl PasswordHash {
    /// Reads the part after `user:`. Errors say why, without repeating the text.
    pub fn parse(text: &str) -> Result<PasswordHash, String> {
        let Some(rest) = text.strip_prefix('$') else {
            return Err(
                "not a $6$ or $7$ hash (plaintext passwords are not accepted, as in \
                 Mosquitto 2; convert the file with `courtier passwd -U FILE`)"
                    .into(),
            );
        };
        let fields: Vec<&str> = rest.split('$').collect();
        match fields.as_slice() {
            ["6", salt, hash] => Ok(PasswordHash::Sha512 {
                salt: decode("salt", salt)?,
                hash: decode("hash", hash)?,
            }),
            ["7", iterations, salt, hash] => {
                let iterations = iterations
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or("the iteration count is not a whole number of at least 1")?;
                Ok(PasswordHash::Pbkdf2Sha512 {
                    iterations,
                    salt: decode("salt", salt)?,
                    hash: decode("hash", hash)?,
                })
            }
            ["6" | "7", ..] => Err("wrong number of $-separated fields".into()),
            _ => Err("unknown hash type (expected $6$ or $7$)".into()),
        }
    }

    /// The text after `user:` in a password file.
    pub fn encode(&self) -> String {
        match self {
            PasswordHash::Sha512 { salt, hash } => {
                format!("$6${}${}", STANDARD.encode(salt), STANDARD.encode(hash))
            }
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => format!(
                "$7${iterations}${}${}",
                STANDARD.encode(salt),
                STANDARD.encode(hash)
            ),
        }
    }

    /// A new hash of `password` with `salt`.
    pub fn with_salt(password: &[u8], salt: [u8; SALT_LEN], algorithm: Algorithm) -> PasswordHash {
        match algorithm {
            Algorithm::Sha512 => PasswordHash::Sha512 {
                salt,
                hash: sha512(password, &salt),
            },
            Algorithm::Pbkdf2Sha512 { iterations } => PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash: pbkdf2(password, &salt, iterations),
            },
        }
    }

    /// A new hash of `password` with a random salt from the operating system.
    pub fn new(password: &[u8], algorithm: Algorithm) -> std::io::Result<PasswordHash> {
        let mut salt = [0u8; SALT_LEN];
        getrandom::getrandom(&mut salt).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(PasswordHash::with_salt(password, salt, algorithm))
    }

    /// Whether `password` is the one hashed, compared in constant time.
    pub fn verify(&self, password: &[u8]) -> bool {
        let (computed, stored) = match self {
            PasswordHash::Sha512 { salt, hash } => (sha512(password, salt), hash),
            PasswordHash::Pbkdf2Sha512 {
                iterations,
                salt,
                hash,
            } => (pbkdf2(password, salt, *iterations), hash),
        };
        computed.ct_eq(stored).into()
    }

    /// Whether verifying costs enough to be kept off the actor threads: PBKDF2 is (101
    /// iterations is ~200 HMACs; files may ask for many more), one SHA-512 is not.
    pub fn is_expensive(&self) -> bool {
        matches!(self, PasswordHash::Pbkdf2Sha512 { .. })
    }
}

fn sha512(password: &[u8], salt: &[u8]) -> [u8; HASH_LEN] {
    let mut h = Sha512::new();
    h.update(password);
    h.update(salt);
    h.finalize().into()
}

fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
    out
}
