//! The machinery the typed property blocks decode and encode with (see `properties.rs`).
//!
//! Encoding visits a struct's present properties with one [`Sink`]-generic function, twice:
//! once to count bytes ([`Len`]), once to write them (`BytesMut`), so sizing and writing cannot
//! disagree.

use super::error::DecodeError;
use super::properties::{encode_vbi, id, vbi_len, MAX_VBI};
use super::reader::Reader;
use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;
use std::io;

type Result<T> = std::result::Result<T, DecodeError>;

/// The properties of one block, read one at a time by a struct's decoder.
pub(super) struct Props<'a> {
    r: Reader<'a>,
    packet: &'static str,
    /// Identifiers seen so far (all are below 64), for the at-most-once rule.
    seen: u64,
    /// Identifiers that may repeat in this packet (User Property always).
    repeatable: u64,
}

const fn bit(id: u8) -> u64 {
    1 << (id & 63)
}

impl<'a> Props<'a> {
    /// Reads the property length and takes that many bytes from `r`.
    pub fn read(r: &mut Reader<'a>, packet: &'static str) -> Result<Props<'a>> {
        let len = r.vbi()? as usize;
        if r.remaining() < len {
            return Err(DecodeError::PropertiesTooLong { packet });
        }
        let block = r.take(len)?;
        Ok(Props {
            r: Reader::new(block, packet),
            packet,
            seen: 0,
            repeatable: bit(id::USER_PROPERTY),
        })
    }

    /// Also lets Subscription Identifier repeat (PUBLISH, §3.3.2.3.8).
    pub fn repeating(mut self, id: u8) -> Self {
        self.repeatable |= bit(id);
        self
    }

    /// The next property's identifier, or `None` at the end of the block. A second copy of a
    /// property that may appear once is [`DecodeError::DuplicateProperty`].
    pub fn next_id(&mut self) -> Result<Option<u8>> {
        if self.r.remaining() == 0 {
            return Ok(None);
        }
        let raw = self.r.vbi()?;
        // Every identifier of Table 2-4 is below 0x80 (a one-byte Variable Byte Integer).
        let id = match u8::try_from(raw) {
            Ok(id) if id < 0x40 => id,
            _ => return Err(self.not_allowed(raw)),
        };
        if self.seen & bit(id) != 0 && self.repeatable & bit(id) == 0 {
            return Err(DecodeError::DuplicateProperty {
                id,
                packet: self.packet,
            });
        }
        self.seen |= bit(id);
        Ok(Some(id))
    }

    /// The error for an identifier this packet does not allow (or no packet does).
    pub fn not_allowed(&self, id: u32) -> DecodeError {
        DecodeError::PropertyNotAllowed {
            id,
            packet: self.packet,
        }
    }

    pub fn invalid(&self, id: u8, value: u32) -> DecodeError {
        DecodeError::InvalidPropertyValue {
            id,
            packet: self.packet,
            value,
        }
    }

    pub fn u8(&mut self) -> Result<u8> {
        self.r.u8()
    }

    pub fn u16(&mut self) -> Result<u16> {
        self.r.u16()
    }

    pub fn u32(&mut self) -> Result<u32> {
        let b = self.r.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn vbi(&mut self) -> Result<u32> {
        self.r.vbi()
    }

    /// A byte that must be 0 or 1 (Payload Format Indicator, Request Problem Information,
    /// Request Response Information, the "... Available" flags of CONNACK).
    pub fn flag(&mut self, id: u8) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(self.invalid(id, u32::from(v))),
        }
    }

    pub fn string(&mut self) -> Result<ByteString> {
        self.r.string()
    }

    pub fn binary(&mut self) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(self.r.binary()?))
    }

    /// A User Property: a UTF-8 string pair.
    pub fn pair(&mut self) -> Result<(ByteString, ByteString)> {
        Ok((self.r.string()?, self.r.string()?))
    }
}

/// Where a struct's `visit` sends each present property: [`Len`] counts, `BytesMut` writes.
pub(super) trait Sink {
    fn u8(&mut self, id: u8, v: u8);
    fn u16(&mut self, id: u8, v: u16);
    fn u32(&mut self, id: u8, v: u32);
    fn vbi(&mut self, id: u8, v: u32);
    /// A UTF-8 string or binary data: both are a two-byte length and the bytes.
    fn bytes(&mut self, id: u8, v: &[u8]);
    fn pair(&mut self, k: &str, v: &str);
}

/// Counts the bytes of a property block's content, and whether a value cannot be encoded
/// (a string longer than 65,535 bytes or a Variable Byte Integer above [`MAX_VBI`]).
#[derive(Default)]
pub(super) struct Len {
    pub n: usize,
    pub invalid: bool,
}

impl Len {
    fn field(&mut self, len: usize) {
        self.invalid |= len > usize::from(u16::MAX);
        self.n += 2 + len;
    }
}

impl Sink for Len {
    fn u8(&mut self, _: u8, _: u8) {
        self.n += 2;
    }
    fn u16(&mut self, _: u8, _: u16) {
        self.n += 3;
    }
    fn u32(&mut self, _: u8, _: u32) {
        self.n += 5;
    }
    fn vbi(&mut self, _: u8, v: u32) {
        self.invalid |= v > MAX_VBI;
        self.n += 1 + vbi_len(v as usize);
    }
    fn bytes(&mut self, _: u8, v: &[u8]) {
        self.n += 1;
        self.field(v.len());
    }
    fn pair(&mut self, k: &str, v: &str) {
        self.n += 1;
        self.field(k.len());
        self.field(v.len());
    }
}

impl Sink for BytesMut {
    fn u8(&mut self, id: u8, v: u8) {
        self.put_u8(id);
        self.put_u8(v);
    }
    fn u16(&mut self, id: u8, v: u16) {
        self.put_u8(id);
        self.put_u16(v);
    }
    fn u32(&mut self, id: u8, v: u32) {
        self.put_u8(id);
        self.put_u32(v);
    }
    fn vbi(&mut self, id: u8, v: u32) {
        self.put_u8(id);
        encode_vbi(v, self);
    }
    fn bytes(&mut self, id: u8, v: &[u8]) {
        self.put_u8(id);
        self.put_u16(v.len() as u16);
        self.put_slice(v);
    }
    fn pair(&mut self, k: &str, v: &str) {
        self.put_u8(id::USER_PROPERTY);
        self.put_u16(k.len() as u16);
        self.put_slice(k.as_bytes());
        self.put_u16(v.len() as u16);
        self.put_slice(v.as_bytes());
    }
}

/// A typed property block: how to visit its present properties and decode it.
pub(super) trait PropertySet: Default + PartialEq {
    /// An identifier besides User Property that may repeat in this block.
    const REPEATABLE: Option<u8> = None;

    /// Stores property `id`, reading its value from `p`; `Ok(false)` if this block does not
    /// allow `id` (then the packet is malformed, §2.2.2.2).
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool>;

    /// Reads a property block (length prefix included) from `r`.
    fn decode(r: &mut Reader<'_>, packet: &'static str) -> Result<Self> {
        let mut p = Props::read(r, packet)?;
        if let Some(id) = Self::REPEATABLE {
            p = p.repeating(id);
        }
        let mut out = Self::default();
        while let Some(id) = p.next_id()? {
            if !out.set(id, &mut p)? {
                return Err(p.not_allowed(u32::from(id)));
            }
        }
        Ok(out)
    }

    /// As [`PropertySet::decode`], `None` for an empty block (how the packets hold them).
    fn decode_boxed(r: &mut Reader<'_>, packet: &'static str) -> Result<Option<Box<Self>>> {
        // An empty block, the usual case (a PUBLISH without properties), is its length byte 0:
        // nothing to decode, build or compare with the default.
        if r.peek() == Some(0) {
            r.u8()?;
            return Ok(None);
        }
        let p = Self::decode(r, packet)?;
        Ok((p != Self::default()).then(|| Box::new(p)))
    }

    /// Sends every present property to `s`, in identifier order.
    fn visit<S: Sink>(&self, s: &mut S);

    /// Content length (without the length prefix), or an error if a value cannot be encoded.
    fn checked_len(&self) -> io::Result<usize> {
        let mut len = Len::default();
        self.visit(&mut len);
        if len.invalid || len.n > MAX_VBI as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "property value too long (a string over 65,535 bytes or a Variable Byte \
                 Integer over 268,435,455)",
            ));
        }
        Ok(len.n)
    }
}

/// Size of a property block with its length prefix, given its content length.
pub(super) const fn block_len(content: usize) -> usize {
    vbi_len(content) + content
}

/// Writes a property block whose content length is `content` (from [`PropertySet::checked_len`]).
pub(super) fn put_block<P: PropertySet>(p: &P, content: usize, dst: &mut BytesMut) {
    encode_vbi(content as u32, dst);
    let start = dst.len();
    p.visit(dst);
    debug_assert_eq!(dst.len() - start, content, "property size mismatch");
}

/// The public `encoded_len` / `encode` / `is_empty` of a property struct.
macro_rules! property_set_api {
    ($($t:ty),* $(,)?) => {$(
        impl $t {
            /// Bytes of the property block: the property length and the properties.
            pub fn encoded_len(&self) -> usize {
                let mut len = $crate::codec::properties_io::Len::default();
                $crate::codec::properties_io::PropertySet::visit(self, &mut len);
                $crate::codec::properties_io::block_len(len.n)
            }

            /// Writes the property block: the property length and the properties. Strings
            /// must fit their two-byte length (the packet encoder checks that and refuses the
            /// packet otherwise).
            pub fn encode(&self, dst: &mut bytes::BytesMut) {
                let mut len = $crate::codec::properties_io::Len::default();
                $crate::codec::properties_io::PropertySet::visit(self, &mut len);
                dst.reserve($crate::codec::properties_io::block_len(len.n));
                $crate::codec::properties_io::put_block(self, len.n, dst);
            }

            /// No property is present.
            pub fn is_empty(&self) -> bool {
                *self == Self::default()
            }
        }
    )*};
}
pub(super) use property_set_api;

/// Debug output of optional binary data (Correlation Data, Authentication Data): its length
/// only, since it may hold secrets.
pub(super) struct LenOnly<'a>(pub &'a Option<Bytes>);

impl std::fmt::Debug for LenOnly<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(b) => write!(f, "Some(<{} bytes>)", b.len()),
            None => f.write_str("None"),
        }
    }
}
