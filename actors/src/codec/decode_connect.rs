//! CONNECT decoding. Separate from `decode.rs` because CONNECT is the one packet that decides
//! the version instead of obeying it, and carries most of the validation rules.

use super::error::DecodeError;
use super::packet::*;
use super::properties_io::PropertySet;
use super::reader::Reader;
use bytes::Bytes;
use bytestring::ByteString;

type Result<T> = std::result::Result<T, DecodeError>;

const USERNAME: u8 = 0b1000_0000;
const PASSWORD: u8 = 0b0100_0000;
const WILL_RETAIN: u8 = 0b0010_0000;
const WILL_QOS_SHIFT: u8 = 3;
const WILL: u8 = 0b0000_0100;
const CLEAN: u8 = 0b0000_0010;
const RESERVED: u8 = 0b0000_0001;

/// Decodes a CONNECT body (everything after the fixed header).
pub(super) fn connect(body: &[u8]) -> Result<Connect> {
    let mut r = Reader::new(body, "CONNECT");
    let (protocol, bridge) = protocol_version(&mut r)?;
    let v5 = protocol == ProtocolVersion::V5;

    let flags = r.u8()?;
    check_flags(flags, v5)?;
    let keep_alive = r.u16()?;
    // 5.0: properties after the Keep Alive (§3.1.2.11).
    let properties = if v5 {
        ConnectProperties::decode(&mut r, "CONNECT")?
    } else {
        ConnectProperties::default()
    };

    // Payload, in the order the spec fixes [MQTT-3.1.3-1].
    let client_id = r.string()?;
    let will = if flags & WILL != 0 {
        // 5.0: Will Properties before the Will Topic (§3.1.3.2).
        let properties = if v5 {
            WillProperties::decode(&mut r, "CONNECT")?
        } else {
            WillProperties::default()
        };
        let topic = r.string()?;
        let payload = Bytes::copy_from_slice(r.binary()?);
        let qos =
            QoS::from_u8((flags >> WILL_QOS_SHIFT) & 0b11).ok_or(DecodeError::InvalidWillQos)?;
        Some(LastWill {
            topic,
            payload,
            qos,
            retain: flags & WILL_RETAIN != 0,
            properties,
        })
    } else {
        None
    };
    let username = if flags & USERNAME != 0 {
        Some(r.string()?)
    } else {
        None
    };
    // The password is binary data, not a string: no UTF-8 rules.
    let password = if flags & PASSWORD != 0 {
        Some(Bytes::copy_from_slice(r.binary()?))
    } else {
        None
    };
    r.finish()?;

    Ok(Connect {
        protocol,
        clean_start: flags & CLEAN != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
        bridge,
    })
}

/// Reads the protocol name and level before deciding: an unsupported level must be reported as
/// such [MQTT-3.1.2-2] (the server answers with a CONNACK refusal) whatever follows. The error
/// carries the Client Identifier when the rest can be read as the nearest version would be.
/// Also says whether a 3.x level carries Mosquitto's bridge bit (0x80, see
/// [`Connect::bridge`]).
fn protocol_version(r: &mut Reader<'_>) -> Result<(ProtocolVersion, bool)> {
    let name = r.binary()?;
    let is_mqtt = match name {
        b"MQTT" => true,
        b"MQIsdp" => false,
        _ => return Err(DecodeError::InvalidProtocolName),
    };
    let level = r.u8()?;
    let bridge = level & super::encode::BRIDGE_BIT != 0;
    match (is_mqtt, level & !super::encode::BRIDGE_BIT) {
        (false, 3) => Ok((ProtocolVersion::V31, bridge)),
        (true, 4) => Ok((ProtocolVersion::V311, bridge)),
        (true, 5) if !bridge => Ok((ProtocolVersion::V5, false)),
        _ => Err(DecodeError::UnsupportedProtocolLevel {
            level,
            client_id: client_id_after_level(r, level > 5),
        }),
    }
}

/// Best-effort Client Identifier of a CONNECT with an unsupported level, read as 5.0 (`v5`) or
/// 3.1.1 would have it; `None` if that fails.
fn client_id_after_level(r: &mut Reader<'_>, v5: bool) -> Option<ByteString> {
    r.take(3).ok()?; // flags, keep-alive
    if v5 {
        ConnectProperties::decode(r, "CONNECT").ok()?;
    }
    r.string().ok()
}

/// Connect Flags rules of 3.1.1 §3.1.2.3 to §3.1.2.9 (and 5.0 §3.1.2.3 to §3.1.2.9, where a
/// password without a user name is allowed).
fn check_flags(flags: u8, v5: bool) -> Result<()> {
    if flags & RESERVED != 0 {
        return Err(DecodeError::ConnectReservedFlag);
    }
    let will_qos = (flags >> WILL_QOS_SHIFT) & 0b11;
    if flags & WILL == 0 {
        // [MQTT-3.1.2-11]: without a will, its QoS and retain must be 0.
        if will_qos != 0 {
            return Err(DecodeError::WillQosWithoutWill);
        }
        if flags & WILL_RETAIN != 0 {
            return Err(DecodeError::WillRetainWithoutWill);
        }
    } else if will_qos == 3 {
        return Err(DecodeError::InvalidWillQos);
    }
    if !v5 && flags & PASSWORD != 0 && flags & USERNAME == 0 {
        return Err(DecodeError::PasswordWithoutUsername);
    }
    Ok(())
}
