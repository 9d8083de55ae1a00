//! The 5.0 parts of encoding shared by several packets: property blocks (or their absence),
//! the reason codes a packet type may carry, and the short forms of acks, DISCONNECT and AUTH.

use super::encode::invalid;
use super::packet::{ReasonCode, SUBACK_FAILURE};
use super::properties_io::{block_len, put_block, Len, PropertySet};
use bytes::{BufMut, BytesMut};
use std::io;

type Result<T> = io::Result<T>;

/// A property block's size with its length prefix (a 5.0 packet that must have one writes
/// property length 0 for `None`).
pub(super) fn props_len<P: PropertySet>(p: Option<&P>) -> Result<usize> {
    Ok(block_len(match p {
        Some(p) => p.checked_len()?,
        None => 0,
    }))
}

pub(super) fn put_props<P: PropertySet>(p: Option<&P>, dst: &mut BytesMut) {
    match p {
        Some(p) => {
            let mut len = Len::default();
            p.visit(&mut len);
            put_block(p, len.n, dst);
        }
        None => dst.put_u8(0),
    }
}

/// Present and not empty: what decides the short forms of acks, DISCONNECT and AUTH.
pub(super) fn has_props<P: PropertySet>(p: &Option<Box<P>>) -> bool {
    p.as_deref().is_some_and(|p| *p != P::default())
}

/// A reason code that packet type `t` may carry (§2.4).
pub(super) fn allowed(code: ReasonCode, t: u8) -> Result<()> {
    if code.allowed_in(t) {
        Ok(())
    } else {
        Err(invalid(
            "reason code not allowed in this packet type (§2.4)",
        ))
    }
}

/// The 3.x SUBACK byte for a reason code: granted QoS or 0x80.
pub(super) fn suback_v3(code: ReasonCode) -> Result<u8> {
    match code {
        ReasonCode::Success | ReasonCode::GrantedQos1 | ReasonCode::GrantedQos2 => Ok(code.code()),
        c if c.is_error() => Ok(SUBACK_FAILURE),
        _ => Err(invalid("SUBACK reason code with no 3.x equivalent")),
    }
}

/// 5.0 DISCONNECT and AUTH: nothing for Success without properties (§3.14.2.1, §3.15.2.1),
/// else the reason code and a property block. DISCONNECT (`short`) may also leave out the
/// property length when there are no properties (§3.14.2.2.1); AUTH may not.
pub(super) fn reason_and_props_len<P: PropertySet>(
    reason: ReasonCode,
    p: &Option<Box<P>>,
    short: bool,
) -> Result<usize> {
    Ok(match (reason == ReasonCode::Success, has_props(p)) {
        (true, false) => 0,
        (false, false) if short => 1,
        _ => 1 + props_len(p.as_deref())?,
    })
}

/// Writes what [`reason_and_props_len`] sized.
pub(super) fn put_reason_and_props<P: PropertySet>(
    reason: ReasonCode,
    p: &Option<Box<P>>,
    short: bool,
    dst: &mut BytesMut,
) {
    let props = has_props(p);
    if reason != ReasonCode::Success || props {
        dst.put_u8(reason.code());
        if props || !short {
            put_props(p.as_deref(), dst);
        }
    }
}
