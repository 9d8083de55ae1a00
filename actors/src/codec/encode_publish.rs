//! PUBLISH encoding, from borrowed parts ([`PublishRef`]): the broker's hottest path, kept
//! apart from the other packets so its cost stays visible. For 3.x it is what it was before
//! 5.0: one sizing pass, one `reserve`, the fields written straight into the output buffer.

use super::decode::MAX_REMAINING_LENGTH;
use super::encode::{field_len, framed, invalid, nonzero, put_field};
use super::packet::*;
use super::properties::{encode_vbi, vbi_len};
use super::properties_io::{block_len, Len, Sink};
use super::properties_types::visit_publish;
use bytes::{BufMut, BytesMut};
use std::io;
use std::num::{NonZeroU16, NonZeroU32};

type Result<T> = io::Result<T>;

/// A PUBLISH to encode from borrowed parts: the broker writes the topic and payload of a shared
/// message straight into the socket buffer, without cloning them into a [`Publish`] first (the
/// clones cost ~10 % of the broker's CPU in fan-out, measured; docs/PERFORMANCE.md).
///
/// The last four fields are for a 5.0 peer only and are ignored for 3.x. The per-delivery ones
/// replace the message's own properties: `message_expiry_interval` (the remaining lifetime at
/// delivery, §3.3.2.3.3), `subscription_identifiers` (when not empty: those of the matching
/// subscriptions, §3.3.2.3.8) and `topic_alias` (§3.3.2.3.4; with an alias the topic may be
/// empty).
#[derive(Debug, Clone, Copy)]
pub struct PublishRef<'a> {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    pub pkid: Option<u16>,
    pub payload: &'a [u8],
    pub properties: Option<&'a PublishProperties>,
    pub message_expiry_interval: Option<u32>,
    pub subscription_identifiers: &'a [NonZeroU32],
    pub topic_alias: Option<NonZeroU16>,
}

impl<'a> From<&'a Publish> for PublishRef<'a> {
    fn from(p: &'a Publish) -> Self {
        PublishRef {
            dup: p.dup,
            qos: p.qos,
            retain: p.retain,
            topic: &p.topic,
            pkid: p.pkid,
            payload: &p.payload,
            properties: p.properties.as_deref(),
            message_expiry_interval: None,
            subscription_identifiers: &[],
            topic_alias: None,
        }
    }
}

impl PublishRef<'_> {
    /// Sends the 5.0 properties to `s`: the message's, with the per-delivery values replacing
    /// theirs.
    fn visit_properties<S: Sink>(&self, s: &mut S) {
        let empty = PublishProperties::default();
        visit_publish(
            self.properties.unwrap_or(&empty),
            self.message_expiry_interval,
            self.subscription_identifiers,
            self.topic_alias,
            s,
        );
    }

    /// Content length of the 5.0 property block.
    fn properties_len(&self) -> Result<usize> {
        let mut len = Len::default();
        self.visit_properties(&mut len);
        if len.invalid || len.n > MAX_REMAINING_LENGTH as usize {
            return Err(invalid("PUBLISH property value too long"));
        }
        Ok(len.n)
    }
}

/// Encodes a PUBLISH from parts. For 3.x (the broker's hottest path) the 5.0 fields are not
/// looked at: no property sizing, no extra pass.
pub(super) fn publish(
    p: &PublishRef<'_>,
    version: Option<ProtocolVersion>,
    dst: &mut BytesMut,
) -> Result<()> {
    let (first, remaining, props) = publish_header(p, version.unwrap_or_default())?;
    framed(dst, first, remaining, |dst| put_publish_body(dst, p, props))
}

/// Size of the whole PUBLISH (fixed header included) as [`publish`] would write it for
/// `version`, to check a client's Maximum Packet Size (§3.1.2.11.4) before writing. Sizing only:
/// what the encoder would refuse (e.g. QoS 0 with a packet id) is sized as if it were valid.
pub fn publish_encoded_len(p: &PublishRef<'_>, version: ProtocolVersion) -> usize {
    let mut len = 2 + p.topic.len() + p.payload.len();
    if p.pkid.is_some() {
        len += 2;
    }
    if version == ProtocolVersion::V5 {
        let mut props = Len::default();
        p.visit_properties(&mut props);
        len += block_len(props.n);
    }
    1 + vbi_len(len) + len
}

fn put_publish_body(dst: &mut BytesMut, p: &PublishRef<'_>, props: Option<usize>) {
    put_field(dst, p.topic.as_bytes());
    if let Some(pkid) = p.pkid {
        dst.put_u16(pkid);
    }
    if let Some(n) = props {
        encode_vbi(n as u32, dst);
        p.visit_properties(dst);
    }
    dst.put_slice(p.payload);
}

/// Validates a PUBLISH and returns its first byte, Remaining Length and, for 5.0, the content
/// length of its property block.
pub(super) fn publish_header(
    p: &PublishRef<'_>,
    v: ProtocolVersion,
) -> Result<(u8, usize, Option<usize>)> {
    let pkid_len = match (p.qos, p.pkid) {
        (QoS::AtMostOnce, None) => 0,
        (QoS::AtMostOnce, Some(_)) => return Err(invalid("QoS 0 PUBLISH with a packet id")),
        (_, Some(pkid)) => {
            nonzero(pkid)?;
            2
        }
        (_, None) => return Err(invalid("QoS > 0 PUBLISH without a packet id")),
    };
    if p.dup && p.qos == QoS::AtMostOnce {
        return Err(invalid("QoS 0 PUBLISH with DUP [MQTT-3.3.1-2]"));
    }
    let first = 0x30 | u8::from(p.dup) << 3 | (p.qos as u8) << 1 | u8::from(p.retain);
    let mut remaining = field_len(p.topic.as_bytes())? + pkid_len + p.payload.len();
    let mut props = None;
    if v == ProtocolVersion::V5 {
        let n = p.properties_len()?;
        remaining += block_len(n);
        props = Some(n);
    }
    Ok((first, remaining, props))
}
