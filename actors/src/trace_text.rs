//! [`Text`]: a trace record's client id or topic, copied into the record (no reference count
//! of the message's or the session's strings is touched when a record is made, nor when the
//! ring overwrites it), inline up to [`INLINE`] bytes, which most client ids and many topics
//! are.

use serde::{Serialize, Serializer};
use std::fmt;
use std::ops::Deref;

/// The longest string kept inline.
pub const INLINE: usize = 22;

/// A string, inline up to [`INLINE`] bytes, else boxed. 24 bytes, like a `String`.
#[derive(Clone)]
pub enum Text {
    /// `bytes[..len]`, valid UTF-8 (copied from a `&str`).
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl Text {
    pub const EMPTY: Text = Text::Inline {
        len: 0,
        bytes: [0; INLINE],
    };

    pub fn new(s: &str) -> Text {
        let mut text = Text::EMPTY;
        text.set(s);
        text
    }

    /// Makes this text `s`, in the space it has when `s` fits inline: the bytes are copied
    /// where they stay (a record's place in a ring), not into a value moved there after.
    #[inline(always)]
    pub fn set(&mut self, s: &str) {
        if s.len() > INLINE {
            *self = Text::Heap(s.into());
            return;
        }
        if let Text::Heap(_) = self {
            *self = Text::EMPTY;
        }
        if let Text::Inline { len, bytes } = self {
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            *len = s.len() as u8;
        }
    }

    /// Appends `s`.
    pub fn push_str(&mut self, s: &str) {
        let old = self.len();
        if old + s.len() <= INLINE {
            if let Text::Inline { len, bytes } = self {
                bytes[old..old + s.len()].copy_from_slice(s.as_bytes());
                *len = (old + s.len()) as u8;
            }
        } else {
            *self = Text::Heap([&**self, s].concat().into());
        }
    }
}

/// Equal as strings: the inline bytes past `len` are left over from earlier contents.
impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new(s)
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::EMPTY
    }
}

impl Deref for Text {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        match self {
            // SAFETY: `bytes[..len]` were copied from a `&str` whole (`set`, `push_str`).
            Text::Inline { len, bytes } => unsafe {
                std::str::from_utf8_unchecked(&bytes[..*len as usize])
            },
            Text::Heap(s) => s,
        }
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_its_string_inline_or_boxed_and_takes_24_bytes() {
        assert_eq!(std::mem::size_of::<Text>(), 24);
        assert_eq!(std::mem::size_of::<Option<Text>>(), 24);
        let fits = "a".repeat(INLINE);
        let long = "b".repeat(INLINE + 1);
        for s in ["", "lamp", "héllo/wörld", &fits, &long] {
            assert_eq!(&*Text::new(s), s);
        }
        assert!(matches!(Text::new(&fits), Text::Inline { .. }));
        assert!(matches!(Text::new(&long), Text::Heap(_)));
        // Overwritten in place, from inline to boxed and back.
        let mut t = Text::new("sensor/1");
        for s in [&*long, "x", &fits, "", "tv"] {
            t.set(s);
            assert_eq!(&*t, s);
        }
        // Equal as strings, whatever an overwritten text's bytes past its end hold.
        let mut reused = Text::new("abcdef");
        reused.set("ab");
        assert_eq!(reused, Text::new("ab"));
        assert_ne!(reused, Text::new("abc"));
        let mut list = Text::new("lamp");
        list.push_str("\0");
        list.push_str(&fits);
        assert_eq!(&*list, format!("lamp\0{fits}"));
        assert_eq!(format!("{:?}", Text::new("a\"b")), format!("{:?}", "a\"b"));
    }
}
