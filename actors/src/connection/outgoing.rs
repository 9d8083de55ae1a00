//! What goes into a connection's outbox, and how the writer encodes each item: deliveries and
//! acknowledgements inline in a 16-byte slot, everything else boxed; topic aliases and the
//! client's Maximum Packet Size applied here.

use super::aliases_out::{Aliased, OutAliases};
use crate::codec::{Ack, MqttCodec, Packet, ProtocolVersion};
use crate::delivery::Delivery;
use bytes::BytesMut;
use std::io;
use std::num::NonZeroU32;
use tokio_util::codec::Encoder;

/// One item of an outbox: 16 bytes, so a queue of them stays small (every connection that
/// queued anything pays for its slots: docs/PERFORMANCE.md "Memory per idle connection"). The packets written all the time, deliveries and acknowledgements, are stored
/// inline, so they cost no allocation; anything else (CONNACK, SUBACK, ...) is boxed.
#[derive(Debug)]
pub struct Outgoing(Repr);

#[derive(Debug)]
enum Repr {
    /// A delivery, encoded from the shared message (16 bytes, the size of every slot).
    Publish(Delivery),
    /// PUBACK, PUBREC, PUBREL, PUBCOMP (3.x: a packet id only) or PINGRESP.
    Ack {
        kind: AckKind,
        pkid: u16,
    },
    Other(Box<Item>),
}

#[derive(Debug, Clone, Copy)]
enum AckKind {
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    PingResp,
}

#[derive(Debug)]
enum Item {
    Packet(Packet),
    /// A 5.0 delivery with the Subscription Identifiers of the subscriptions it matched
    /// (session/sub_ids.rs); out of line, so deliveries without them stay in the slot.
    PublishWithIds(Delivery, Box<[NonZeroU32]>),
    /// From now on encode for this protocol version, and send no packet larger than this
    /// (the client's MQTT 5.0 Maximum Packet Size), set after CONNECT.
    Peer(ProtocolVersion, Option<NonZeroU32>),
    /// Write what came before, then shut the socket down.
    Close,
    /// From now on assign topic aliases, up to this many (a 5.0 client that takes them).
    TopicAliases(u16),
}

impl Outgoing {
    pub fn packet(p: Packet) -> Outgoing {
        let ack = |kind, a: &Ack| Outgoing(Repr::Ack { kind, pkid: a.pkid });
        match &p {
            Packet::PubAck(a) if a.is_plain() => ack(AckKind::PubAck, a),
            Packet::PubRec(a) if a.is_plain() => ack(AckKind::PubRec, a),
            Packet::PubRel(a) if a.is_plain() => ack(AckKind::PubRel, a),
            Packet::PubComp(a) if a.is_plain() => ack(AckKind::PubComp, a),
            Packet::PingResp => Outgoing(Repr::Ack {
                kind: AckKind::PingResp,
                pkid: 0,
            }),
            _ => Outgoing(Repr::Other(Box::new(Item::Packet(p)))),
        }
    }

    pub fn publish(d: Delivery) -> Outgoing {
        Outgoing(Repr::Publish(d))
    }

    /// A delivery that carries Subscription Identifiers [MQTT-3.3.4-3].
    pub fn publish_with_ids(d: Delivery, ids: Box<[NonZeroU32]>) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::PublishWithIds(d, ids))))
    }

    /// From now on encode for this protocol version, and within the client's Maximum Packet
    /// Size (sent after CONNECT).
    pub fn peer(v: ProtocolVersion, max_packet_size: Option<NonZeroU32>) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::Peer(v, max_packet_size))))
    }

    /// From now on assign up to `max` topic aliases to the topics sent (aliases_out.rs); sent
    /// after CONNECT for a 5.0 client whose Topic Alias Maximum and the broker's
    /// `max_topic_alias_out` are both above 0.
    pub fn topic_aliases(max: u16) -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::TopicAliases(max))))
    }

    /// Write what came before, then shut the socket down.
    pub fn close() -> Outgoing {
        Outgoing(Repr::Other(Box::new(Item::Close)))
    }
}

/// What encoding one item did.
pub(super) enum Encoded {
    Packet,
    Nothing,
    Close,
}

pub(super) fn encode_item(
    item: Outgoing,
    codec: &mut MqttCodec,
    aliases: &mut Option<Box<OutAliases>>,
    buf: &mut BytesMut,
) -> io::Result<Encoded> {
    match item.0 {
        Repr::Publish(d) => match aliases {
            None => codec.encode_publish(&d.as_publish(), buf)?,
            Some(a) => encode_delivery(&d, &[], codec, a, buf)?,
        },
        Repr::Ack { kind, pkid } => {
            let p = match kind {
                AckKind::PubAck => Packet::PubAck(Ack::new(pkid)),
                AckKind::PubRec => Packet::PubRec(Ack::new(pkid)),
                AckKind::PubRel => Packet::PubRel(Ack::new(pkid)),
                AckKind::PubComp => Packet::PubComp(Ack::new(pkid)),
                AckKind::PingResp => Packet::PingResp,
            };
            codec.encode(&p, buf)?;
        }
        Repr::Other(item) => match *item {
            Item::Packet(p) => return encode_within_limit(p, codec, buf),
            Item::PublishWithIds(d, ids) => match aliases {
                None => {
                    let mut p = d.as_publish();
                    p.subscription_identifiers = &ids;
                    codec.encode_publish(&p, buf)?
                }
                Some(a) => encode_delivery(&d, &ids, codec, a, buf)?,
            },
            Item::Peer(v, max) => {
                codec.set_version(v);
                codec.set_max_packet_size(max.map_or(u32::MAX, NonZeroU32::get));
                return Ok(Encoded::Nothing);
            }
            Item::Close => return Ok(Encoded::Close),
            Item::TopicAliases(max) => {
                *aliases = OutAliases::new(max, max).map(Box::new);
                return Ok(Encoded::Nothing);
            }
        },
    }
    Ok(Encoded::Packet)
}

/// A delivery to a client that takes topic aliases: with the alias `aliases` decides, unless a
/// new alias (3 bytes more) would take it over the client's Maximum Packet Size.
fn encode_delivery(
    d: &Delivery,
    ids: &[NonZeroU32],
    codec: &MqttCodec,
    aliases: &mut OutAliases,
    buf: &mut BytesMut,
) -> io::Result<()> {
    let mut p = d.as_publish();
    p.subscription_identifiers = ids;
    let max = codec.max_packet_size();
    if max == u32::MAX || codec.publish_encoded_len(&p) + 3 <= max as usize {
        match aliases.alias(&d.msg.topic) {
            Aliased::Topic => {}
            Aliased::Set(n) => p.topic_alias = Some(n),
            Aliased::Use(n) => {
                p.topic_alias = Some(n);
                p.topic = "";
            }
        }
    }
    codec.encode_publish(&p, buf)
}

/// A control packet within the client's Maximum Packet Size [MQTT-3.1.2-24]: without its
/// Reason String and User Properties if that makes it fit (they go first, [MQTT-3.1.2-25]),
/// otherwise not at all. Deliveries were sized by the session before they took a packet id.
fn encode_within_limit(
    mut p: Packet,
    codec: &mut MqttCodec,
    buf: &mut BytesMut,
) -> io::Result<Encoded> {
    let max = codec.max_packet_size() as usize;
    if max != u32::MAX as usize && codec.packet_encoded_len(&p)? > max {
        strip_diagnostics(&mut p);
        if codec.packet_encoded_len(&p)? > max {
            log::debug!(
                "{} larger than the client's maximum packet size: not sent",
                p.kind()
            );
            return Ok(Encoded::Nothing);
        }
    }
    codec.encode(&p, buf)?;
    Ok(Encoded::Packet)
}

/// Drops the Reason String and User Properties of a packet the broker wrote (acks, SUBACK,
/// UNSUBACK, DISCONNECT, CONNACK): information for people, never needed by the protocol.
fn strip_diagnostics(p: &mut Packet) {
    match p {
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.properties = None
        }
        Packet::SubAck(s) => s.properties = None,
        Packet::UnsubAck(u) => u.properties = None,
        Packet::Disconnect(d) => d.properties = None,
        Packet::ConnAck(c) => {
            if let Some(props) = &mut c.properties {
                props.reason_string = None;
                props.user_properties.clear();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    /// Outbox slots are paid by every connection that queued anything (docs/PERFORMANCE.md,
    /// "Memory per idle connection"). 16 bytes keep deliveries and acks unboxed and the queues
    /// small.
    #[test]
    fn outgoing_stays_two_words() {
        assert_eq!(std::mem::size_of::<super::Outgoing>(), 16);
    }
}
