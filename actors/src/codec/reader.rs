//! The field reader every packet decoder uses: bounds-checked reads from a packet body.

use super::error::DecodeError;
use super::properties::decode_vbi;
use bytestring::ByteString;

type Result<T> = std::result::Result<T, DecodeError>;

/// Reads fields from a packet body, turning every overrun into [`DecodeError::Truncated`].
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Packet name for errors.
    pub packet: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], packet: &'static str) -> Self {
        Reader {
            buf,
            pos: 0,
            packet,
        }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// For fixed-size packets: the whole Remaining Length must be exactly `len`.
    pub fn expect_len(&self, expected: u32) -> Result<()> {
        if self.buf.len() == expected as usize {
            Ok(())
        } else {
            Err(DecodeError::InvalidRemainingLength {
                packet: self.packet,
                expected,
                actual: self.buf.len() as u32,
            })
        }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                packet: self.packet,
            });
        }
        let slice = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(slice)
    }

    /// The next byte, not consumed (`None` at the end).
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A Variable Byte Integer (§1.5.5).
    pub fn vbi(&mut self) -> Result<u32> {
        match decode_vbi(&self.buf[self.pos..])? {
            Some((value, len)) => {
                self.pos += len;
                Ok(value)
            }
            None => Err(DecodeError::Truncated {
                packet: self.packet,
            }),
        }
    }

    /// A non-zero Packet Identifier [MQTT-2.3.1-1].
    pub fn pkid(&mut self) -> Result<u16> {
        match self.u16()? {
            0 => Err(DecodeError::ZeroPacketId {
                packet: self.packet,
            }),
            id => Ok(id),
        }
    }

    /// Length-prefixed binary data, borrowed: the caller copies what it keeps.
    pub fn binary(&mut self) -> Result<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// Length-prefixed UTF-8 string, validated [MQTT-1.5.3-1], [MQTT-1.5.3-2] and copied.
    pub fn string(&mut self) -> Result<ByteString> {
        let raw = self.binary()?;
        let s = std::str::from_utf8(raw).map_err(|_| DecodeError::InvalidUtf8)?;
        if raw.contains(&0) {
            return Err(DecodeError::NullCharacter);
        }
        Ok(ByteString::from(s))
    }

    /// Everything left (PUBLISH payload, SUBACK codes).
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }

    /// Rejects bytes left after the last field.
    pub fn finish(&self) -> Result<()> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::TrailingBytes {
                packet: self.packet,
                extra,
            }),
        }
    }
}
