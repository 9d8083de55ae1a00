//! Record encoding: a 4-byte header (magic 'C' + version as u16 LE + reserved 0) followed by
//! bincode (standard configuration) of the serde record. A record of a newer version is a typed
//! error (`StoreError::NewerSchema`), never a panic and never silently misread.
//!
//! Every record type says since which version its layout is unchanged ([`Versioned`]): a record
//! written by an older broker whose layout did not change since is read as is, an older layout
//! is corruption unless a migration reads it explicitly (`decode_version`). Version 3 changed
//! every record type that has a value, so today only version-3 records are read as they are.

use crate::records::{MessageBody, QueuedRef, RetainedRecord, SessionMeta};
use crate::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::ops::RangeInclusive;

/// Version of the record layouts in `records.rs`.
/// 1: each queued message stored whole per session (`QueuedRecord`).
/// 2: queued messages as one `MessageBody` plus a `QueuedRef` per session.
/// 3: the MQTT 5.0 state: session expiry interval, subscription options and identifier,
///    message properties and expiry (in bodies, inline bodies and retained messages).
pub const SCHEMA_VERSION: u16 = 3;
const MAGIC: u8 = b'C';

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![MAGIC, 0, 0, 0];
    out[1..3].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
    bincode::serde::encode_into_std_write(value, &mut out, bincode::config::standard())
        .expect("writing into a Vec cannot fail");
    out
}

/// A record type and the first schema version with its current layout.
pub trait Versioned: DeserializeOwned {
    const SINCE: u16;
}

impl Versioned for SessionMeta {
    const SINCE: u16 = 3;
}
impl Versioned for RetainedRecord {
    const SINCE: u16 = 3;
}
impl Versioned for MessageBody {
    const SINCE: u16 = 3;
}
/// Holds a `MessageBody` (inline), so it changed with it.
impl Versioned for QueuedRef {
    const SINCE: u16 = 3;
}

/// Decode a record of the current layout.
pub fn decode<T: Versioned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    decode_version(bytes, T::SINCE..=SCHEMA_VERSION, what)
}

/// The largest record the broker writes is a message body: a payload of at most 256 MiB (MQTT's
/// largest packet) plus its topic and properties. Decoding is bounded by this, so a corrupt
/// length prefix is a `Corrupt` error rather than an allocation of its declared size (an
/// allocation that fails aborts the process; found by the `store_records` fuzz target).
const MAX_RECORD_BYTES: usize = 1 << 29;

const DECODE_CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<MAX_RECORD_BYTES>,
> = bincode::config::standard().with_limit::<MAX_RECORD_BYTES>();

/// Decode a record whose header version is in `accepted` (a migration reading an old layout).
pub fn decode_version<T: DeserializeOwned>(
    bytes: &[u8],
    accepted: RangeInclusive<u16>,
    what: &str,
) -> Result<T, StoreError> {
    if bytes.len() < 4 || bytes[0] != MAGIC {
        return Err(StoreError::Corrupt(format!("{what}: bad record header")));
    }
    let version = u16::from_le_bytes([bytes[1], bytes[2]]);
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            found: version as u32,
            supported: SCHEMA_VERSION as u32,
        });
    }
    if !accepted.contains(&version) {
        return Err(StoreError::Corrupt(format!(
            "{what}: unexpected schema version {version}"
        )));
    }
    let (value, used) = bincode::serde::decode_from_slice(&bytes[4..], DECODE_CONFIG)
        .map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?;
    if used != bytes.len() - 4 {
        return Err(StoreError::Corrupt(format!("{what}: trailing bytes")));
    }
    Ok(value)
}

/// Key of a body: its id, big-endian (keys sort by id).
pub fn body_key(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

pub fn parse_body_key(key: &[u8]) -> Result<u64, StoreError> {
    Ok(u64::from_be_bytes(key.try_into().map_err(|_| {
        StoreError::Corrupt("body key is not 8 bytes".into())
    })?))
}

/// Key of a session's message: client id, 0x00, sequence (big-endian, so keys sort in order).
/// Client ids never contain U+0000 (the codec rejects it), so 0x00 cannot be part of an id.
pub fn message_key(client_id: &str, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 9);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub fn inbound_key(client_id: &str, pkid: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 3);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&pkid.to_be_bytes());
    k
}

/// The key range holding every message (or inbound id) of one client: [id 0x00, id 0x01).
pub fn client_range(client_id: &str) -> (Vec<u8>, Vec<u8>) {
    let mut from = client_id.as_bytes().to_vec();
    let mut to = from.clone();
    from.push(0);
    to.push(1);
    (from, to)
}

/// Split a message key into (client id, sequence).
pub fn parse_message_key(key: &[u8]) -> Result<(String, u64), StoreError> {
    let (client, suffix) = split_key(key)?;
    let seq = u64::from_be_bytes(
        suffix
            .try_into()
            .map_err(|_| StoreError::Corrupt("message key".into()))?,
    );
    Ok((client, seq))
}

/// Split an inbound key into (client id, packet id).
pub fn parse_inbound_key(key: &[u8]) -> Result<(String, u16), StoreError> {
    let (client, suffix) = split_key(key)?;
    let pkid = u16::from_be_bytes(
        suffix
            .try_into()
            .map_err(|_| StoreError::Corrupt("inbound key".into()))?,
    );
    Ok((client, pkid))
}

/// Split a message or inbound key into (client id, suffix).
pub fn split_key(key: &[u8]) -> Result<(String, &[u8]), StoreError> {
    let pos = key
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| StoreError::Corrupt("key without separator".into()))?;
    let id = std::str::from_utf8(&key[..pos])
        .map_err(|_| StoreError::Corrupt("key with a non-UTF-8 client id".into()))?;
    Ok((id.to_string(), &key[pos + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{RetainedRecord, StoredMessage};

    fn rec() -> RetainedRecord {
        RetainedRecord {
            message: StoredMessage {
                topic: "a/b".into(),
                payload: vec![1, 2, 3],
                qos: 1,
                retain: true,
                properties: vec![0x01, 0x01],
                expires_at_ms: Some(1_700_000_000_000),
            },
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(&rec());
        assert_eq!(decode::<RetainedRecord>(&bytes, "t").unwrap(), rec());
    }

    #[test]
    fn newer_schema_is_a_typed_error() {
        let mut bytes = encode(&rec());
        bytes[1..3].copy_from_slice(&(SCHEMA_VERSION + 1).to_le_bytes());
        assert!(matches!(
            decode::<RetainedRecord>(&bytes, "t"),
            Err(StoreError::NewerSchema { .. })
        ));
    }

    /// A record type whose layout has not changed since version 1.
    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Unchanged(String);
    impl Versioned for Unchanged {
        const SINCE: u16 = 1;
    }

    fn with_version(mut bytes: Vec<u8>, version: u16) -> Vec<u8> {
        bytes[1..3].copy_from_slice(&version.to_le_bytes());
        bytes
    }

    #[test]
    fn an_older_record_is_read_only_if_its_layout_did_not_change_since() {
        let old = with_version(encode(&Unchanged("a".into())), 1);
        assert_eq!(
            decode::<Unchanged>(&old, "t").unwrap(),
            Unchanged("a".into())
        );
        for version in [1, 2] {
            let old = with_version(encode(&rec()), version);
            assert!(matches!(
                decode::<RetainedRecord>(&old, "t"),
                Err(StoreError::Corrupt(_))
            ));
        }
        let body = MessageBody {
            topic: "a".into(),
            payload: vec![1],
            retain: false,
            properties: Vec::new(),
            expires_at_ms: None,
        };
        let old = with_version(encode(&body), 2);
        assert!(matches!(
            decode::<MessageBody>(&old, "t"),
            Err(StoreError::Corrupt(_))
        ));
    }

    /// A corrupt length prefix (2^52 bytes of string in a 13-byte record) is an error, not an
    /// allocation that aborts the process (fuzz/regressions/store_records).
    #[test]
    fn a_huge_length_prefix_is_corrupt_not_an_abort() {
        let bytes = [0x43, 0x03, 0x00, 0x00, 0xfd, 0, 0, 0, 0, 0, 0, 0x10, 0x00];
        assert!(matches!(
            decode::<RetainedRecord>(&bytes, "retained"),
            Err(StoreError::Corrupt(_))
        ));
        // Above isize::MAX: a capacity-overflow panic before the bound.
        let bytes = [0x43, 0x03, 0x00, 0x00, 0xfd, 0, 0, 0, 0, 0, 0, 0x00, 0x80];
        assert!(matches!(
            decode::<RetainedRecord>(&bytes, "retained"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        for bytes in [
            &b""[..],
            b"xyz",
            b"C\x01\x00\x00\xff\xff\xff",
            b"C\x00\x00\x00",
        ] {
            assert!(matches!(
                decode::<RetainedRecord>(bytes, "t"),
                Err(StoreError::Corrupt(_))
            ));
        }
        let mut truncated = encode(&rec());
        truncated.truncate(truncated.len() - 1);
        assert!(decode::<RetainedRecord>(&truncated, "t").is_err());
    }

    #[test]
    fn message_keys_sort_by_client_then_sequence() {
        let a = message_key("c", 2);
        let b = message_key("c", 256);
        let other = message_key("c2", 1);
        assert!(a < b && b < other);
        let (from, to) = client_range("c");
        assert!(from <= a && b < to && other >= to);
        assert_eq!(split_key(&b).unwrap().0, "c");
    }
}
