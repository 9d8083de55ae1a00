//! Mosquitto's persistence file, `mosquitto.db`, read without Mosquitto: a pure parser of the
//! db format versions 5 (Mosquitto 1.6) and 6 (Mosquitto 2.0), as its `persist_read.c`,
//! `persist_read_v5.c` and `persist.h` define them, for importing a Mosquitto data folder
//! (`crate::mosquitto_import`).
//!
//! The file: 15 magic bytes, a 4-byte CRC (unused, 0), the version (u32 big-endian), then
//! chunks of `type: u32 BE, length: u32 BE, body`. Each chunk body starts with a fixed C
//! struct written as it is in memory (the `PF_*` structs: natural alignment, trailing
//! padding), its lengths converted to big-endian but its 64-bit fields (store ids, times) in
//! the writer's byte order: little-endian on every machine Mosquitto's images run on (amd64,
//! arm64, armv7), which is what this reader assumes.
//!
//! Bounded: every length is checked against the bytes that remain, so a damaged file is an
//! error naming the offset, never a panic, and nothing is allocated beyond the input's size.

use std::collections::HashMap;
use std::fmt;

/// The 15 bytes every mosquitto.db starts with.
pub const MAGIC: [u8; 15] = *b"\x00\xB5\x00mosquitto db";

const CHUNK_CFG: u32 = 1;
const CHUNK_MSG_STORE: u32 = 2;
const CHUNK_CLIENT_MSG: u32 = 3;
const CHUNK_RETAIN: u32 = 4;
const CHUNK_SUB: u32 = 5;
const CHUNK_CLIENT: u32 = 6;

/// A stored message (`DB_CHUNK_MSG_STORE`), referenced by retained entries and client queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMsg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    /// Unix seconds when it expires (its MQTT 5.0 Message Expiry Interval); 0 = never.
    pub expiry_time: i64,
    /// MQTT 5.0 PUBLISH properties with their length prefix, as a PUBLISH carries them;
    /// empty: none.
    pub properties: Vec<u8>,
}

/// A persistent client session (`DB_CHUNK_CLIENT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    /// Unix seconds when the session expires; 0 = not set.
    pub session_expiry_time: i64,
    /// Seconds; `u32::MAX` = never (what Mosquitto records for MQTT 3.1.1 sessions too).
    pub session_expiry_interval: u32,
    pub last_mid: u16,
}

/// A message in a client's queue (`DB_CHUNK_CLIENT_MSG`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientMsg {
    pub client_id: String,
    pub store_id: u64,
    pub mid: u16,
    pub qos: u8,
    /// Mosquitto's `mosquitto_msg_state` (11: queued; 5: QoS 2 sent, waiting for PUBREC;
    /// 6, 9: PUBREL sent, waiting for PUBCOMP; ...).
    pub state: u8,
    pub retain: bool,
    /// `true`: to the client (outgoing); `false`: from it (an incoming QoS 2 message).
    pub outgoing: bool,
}

/// A subscription of a persistent client (`DB_CHUNK_SUB`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sub {
    pub client_id: String,
    pub topic: String,
    pub qos: u8,
    /// MQTT 5.0 subscription options without the QoS bits: no-local bit 2,
    /// retain-as-published bit 3 (retain handling is not stored).
    pub options: u8,
    /// MQTT 5.0 subscription identifier; 0 = none.
    pub identifier: u32,
}

/// Everything a mosquitto.db holds, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MosquittoDb {
    pub version: u32,
    /// By store id.
    pub messages: HashMap<u64, StoredMsg>,
    /// Store ids of the retained messages.
    pub retained: Vec<u64>,
    pub clients: Vec<Client>,
    pub client_msgs: Vec<ClientMsg>,
    pub subs: Vec<Sub>,
    /// Chunks of a type this reader does not know, skipped as Mosquitto skips them.
    pub unknown_chunks: usize,
}

/// Why a file is not a mosquitto.db this reader can use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbError {
    NotMosquittoDb,
    /// A version other than 5 and 6.
    Version(u32),
    /// Damaged at this byte offset.
    Damaged {
        offset: usize,
        what: &'static str,
    },
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::NotMosquittoDb => write!(f, "not a Mosquitto persistence file (no magic)"),
            DbError::Version(v) if *v < 5 => write!(
                f,
                "db format version {v} (Mosquitto 1.5 or older): start Mosquitto 2 on it once \
                 to rewrite it as version 6"
            ),
            DbError::Version(v) => write!(f, "db format version {v} is not 5 or 6"),
            DbError::Damaged { offset, what } => write!(f, "damaged at byte {offset}: {what}"),
        }
    }
}

impl std::error::Error for DbError {}

/// Reads the bytes of a mosquitto.db. An empty file is an empty db (Mosquitto warns and
/// starts empty too).
pub fn parse(bytes: &[u8]) -> Result<MosquittoDb, DbError> {
    if bytes.is_empty() {
        return Ok(MosquittoDb::default());
    }
    if bytes.len() < MAGIC.len() || bytes[..MAGIC.len()] != MAGIC {
        return Err(DbError::NotMosquittoDb);
    }
    let mut r = Reader {
        bytes,
        pos: MAGIC.len(),
    };
    r.take(4, "header CRC")?;
    let version = r.u32_be("header version")?;
    if version != 5 && version != 6 {
        return Err(DbError::Version(version));
    }
    let mut db = MosquittoDb {
        version,
        ..MosquittoDb::default()
    };
    // As Mosquitto: chunks until the file ends. As Mosquitto too, a known chunk is read field
    // by field from the file (some writers put 0 in a retain chunk's length); only the
    // properties at the end of a message's chunks are measured by its length.
    while r.remaining() >= 8 {
        let kind = r.u32_be("chunk type")?;
        let length = r.u32_be("chunk length")? as usize;
        let c = &mut r;
        match kind {
            CHUNK_CFG => {
                c.u64_le("cfg last_db_id")?;
                c.take(1, "cfg shutdown")?;
                if c.u8("cfg dbid_size")? != 8 {
                    return Err(c.damaged("cfg: store ids are not 8 bytes"));
                }
                c.take(6, "cfg padding")?;
            }
            CHUNK_MSG_STORE => {
                let (id, msg) = msg_store(c, length)?;
                db.messages.insert(id, msg);
            }
            CHUNK_CLIENT_MSG => db.client_msgs.push(client_msg(c, length)?),
            CHUNK_RETAIN => db.retained.push(c.u64_le("retain store_id")?),
            CHUNK_SUB => db.subs.push(sub(c)?),
            CHUNK_CLIENT => db.clients.push(client(c, version)?),
            _ => {
                c.take(length, "chunk longer than the file")?;
                db.unknown_chunks += 1;
            }
        }
    }
    if r.remaining() > 0 {
        return Err(r.damaged("a partial chunk header at the end"));
    }
    Ok(db)
}

/// `PF_msg_store` (32 bytes), source id, source username, topic, payload, properties (what
/// remains of the chunk's `length`).
fn msg_store(c: &mut Reader<'_>, length: usize) -> Result<(u64, StoredMsg), DbError> {
    let start = c.pos;
    let store_id = c.u64_le("msg store_id")?;
    let expiry_time = c.u64_le("msg expiry_time")? as i64;
    let payload_len = c.u32_be("msg payloadlen")? as usize;
    c.u16_be("msg source_mid")?;
    let source_id_len = c.u16_be("msg source_id_len")?;
    let source_username_len = c.u16_be("msg source_username_len")?;
    let topic_len = c.u16_be("msg topic_len")?;
    c.u16_be("msg source_port")?;
    let qos = c.u8("msg qos")?;
    let retain = c.u8("msg retain")? != 0;
    c.take(source_id_len.into(), "msg source id")?;
    c.take(source_username_len.into(), "msg source username")?;
    let topic = c.string(topic_len, "msg topic")?;
    let payload = c.take(payload_len, "msg payload")?.to_vec();
    let properties = c.properties(start, length)?;
    if qos > 2 {
        return Err(c.damaged("msg qos above 2"));
    }
    let msg = StoredMsg {
        topic,
        payload,
        qos,
        retain,
        expiry_time,
        properties,
    };
    Ok((store_id, msg))
}

/// `PF_client_msg` (16 bytes), client id, properties (skipped: the stored message has them).
fn client_msg(c: &mut Reader<'_>, length: usize) -> Result<ClientMsg, DbError> {
    let start = c.pos;
    let store_id = c.u64_le("client msg store_id")?;
    let mid = c.u16_be("client msg mid")?;
    let id_len = c.u16_be("client msg id_len")?;
    let qos = c.u8("client msg qos")?;
    let state = c.u8("client msg state")?;
    let retain_dup = c.u8("client msg retain_dup")?;
    let direction = c.u8("client msg direction")?;
    let client_id = c.string(id_len, "client msg client id")?;
    c.properties(start, length)?;
    Ok(ClientMsg {
        client_id,
        store_id,
        mid,
        qos,
        state,
        retain: retain_dup & 0xF0 != 0,
        outgoing: direction == 1,
    })
}

/// `PF_sub` (12 bytes with padding), client id, topic.
fn sub(c: &mut Reader<'_>) -> Result<Sub, DbError> {
    let identifier = c.u32_be("sub identifier")?;
    let id_len = c.u16_be("sub id_len")?;
    let topic_len = c.u16_be("sub topic_len")?;
    let qos = c.u8("sub qos")?;
    let options = c.u8("sub options")?;
    c.take(2, "sub padding")?;
    let client_id = c.string(id_len, "sub client id")?;
    let topic = c.string(topic_len, "sub topic")?;
    Ok(Sub {
        client_id,
        topic,
        qos,
        options: options & 0b1100,
        identifier,
    })
}

/// `PF_client` (24 bytes with padding; version 5: 16, without port and username), client id,
/// username.
fn client(c: &mut Reader<'_>, version: u32) -> Result<Client, DbError> {
    let session_expiry_time = c.u64_le("client session_expiry_time")? as i64;
    let session_expiry_interval = c.u32_be("client session_expiry_interval")?;
    let last_mid = c.u16_be("client last_mid")?;
    let id_len = c.u16_be("client id_len")?;
    let mut username_len = 0;
    if version == 6 {
        c.u16_be("client listener_port")?;
        username_len = c.u16_be("client username_len")?;
        c.take(4, "client padding")?;
    }
    let id = c.string(id_len, "client id")?;
    c.take(username_len.into(), "client username")?;
    Ok(Client {
        id,
        session_expiry_time,
        session_expiry_interval,
        last_mid,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn damaged(&self, what: &'static str) -> DbError {
        DbError::Damaged {
            offset: self.pos,
            what,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DbError> {
        if n > self.remaining() {
            return Err(self.damaged(what));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The end of a chunk that began at `start` and is `length` long: what the fixed part and
    /// strings left of it.
    fn properties(&mut self, start: usize, length: usize) -> Result<Vec<u8>, DbError> {
        let used = self.pos - start;
        let left = length
            .checked_sub(used)
            .ok_or_else(|| self.damaged("a chunk shorter than its fields"))?;
        Ok(self.take(left, "properties beyond the file")?.to_vec())
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DbError> {
        Ok(self.take(N, what)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DbError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16_be(&mut self, what: &'static str) -> Result<u16, DbError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32_be(&mut self, what: &'static str) -> Result<u32, DbError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64_le(&mut self, what: &'static str) -> Result<u64, DbError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// `len` bytes of UTF-8 (client ids and topics are UTF-8 in MQTT).
    fn string(&mut self, len: u16, what: &'static str) -> Result<String, DbError> {
        let at = self.pos;
        let bytes = self.take(len.into(), what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DbError::Damaged {
            offset: at,
            what: "a client id or topic that is not UTF-8",
        })
    }
}

#[cfg(test)]
#[path = "mosquitto_db_tests.rs"]
mod tests;
