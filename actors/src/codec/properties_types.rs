//! The typed property blocks of PUBLISH, the acks, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT and AUTH
//! (CONNECT, the Will and CONNACK are in `properties_connect.rs`). Which identifiers each
//! allows is Table 2-4 of §2.2.2.2; invalid values are named in each packet's section of §3.

use super::error::DecodeError;
use super::properties::{id, UserProperties};
use super::properties_io::{property_set_api, LenOnly, PropertySet, Props, Sink};
use super::reader::Reader;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};

type Result<T> = std::result::Result<T, DecodeError>;

/// Sends the User Properties to `s`.
pub(super) fn visit_user<S: Sink>(user: &UserProperties, s: &mut S) {
    for (k, v) in user {
        s.pair(k, v);
    }
}

/// A non-zero Variable Byte Integer Subscription Identifier: 0 is a Protocol Error
/// (§3.3.2.3.8, §3.8.2.1.2).
fn subscription_identifier(p: &mut Props<'_>) -> Result<NonZeroU32> {
    let v = p.vbi()?;
    NonZeroU32::new(v).ok_or_else(|| p.invalid(id::SUBSCRIPTION_IDENTIFIER, v))
}

/// PUBLISH properties (§3.3.2.3).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PublishProperties {
    /// `true`: the payload is UTF-8 (0x01).
    pub payload_format_indicator: Option<bool>,
    /// Seconds (0x02).
    pub message_expiry_interval: Option<u32>,
    /// 0x23; 0 is not permitted [MQTT-3.3.2-8].
    pub topic_alias: Option<NonZeroU16>,
    pub response_topic: Option<ByteString>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: UserProperties,
    /// 0x0B, may repeat. Only a server sends it (a client's is a Protocol Error at session
    /// level, [MQTT-3.3.4-6]); the codec decodes it for the client side.
    pub subscription_identifiers: Vec<NonZeroU32>,
    pub content_type: Option<ByteString>,
}

impl PropertySet for PublishProperties {
    const REPEATABLE: Option<u8> = Some(id::SUBSCRIPTION_IDENTIFIER);

    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::PAYLOAD_FORMAT_INDICATOR => self.payload_format_indicator = Some(p.flag(id)?),
            id::MESSAGE_EXPIRY_INTERVAL => self.message_expiry_interval = Some(p.u32()?),
            id::CONTENT_TYPE => self.content_type = Some(p.string()?),
            id::RESPONSE_TOPIC => self.response_topic = Some(p.string()?),
            id::CORRELATION_DATA => self.correlation_data = Some(p.binary()?),
            id::SUBSCRIPTION_IDENTIFIER => {
                let sid = subscription_identifier(p)?;
                self.subscription_identifiers.push(sid);
            }
            id::TOPIC_ALIAS => {
                let alias = NonZeroU16::new(p.u16()?).ok_or(DecodeError::ZeroTopicAlias)?;
                self.topic_alias = Some(alias);
            }
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        visit_publish(self, None, &[], None, s);
    }
}

/// Sends PUBLISH properties to `s`, with the per-delivery values of a `PublishRef` replacing
/// the message's own: `expiry` (the remaining lifetime), `sids` (when not empty) and `alias`.
pub(super) fn visit_publish<S: Sink>(
    p: &PublishProperties,
    expiry: Option<u32>,
    sids: &[NonZeroU32],
    alias: Option<NonZeroU16>,
    s: &mut S,
) {
    if let Some(v) = p.payload_format_indicator {
        s.u8(id::PAYLOAD_FORMAT_INDICATOR, u8::from(v));
    }
    if let Some(v) = expiry.or(p.message_expiry_interval) {
        s.u32(id::MESSAGE_EXPIRY_INTERVAL, v);
    }
    if let Some(v) = &p.content_type {
        s.bytes(id::CONTENT_TYPE, v.as_bytes());
    }
    if let Some(v) = &p.response_topic {
        s.bytes(id::RESPONSE_TOPIC, v.as_bytes());
    }
    if let Some(v) = &p.correlation_data {
        s.bytes(id::CORRELATION_DATA, v);
    }
    let sids = if sids.is_empty() {
        &p.subscription_identifiers[..]
    } else {
        sids
    };
    for sid in sids {
        s.vbi(id::SUBSCRIPTION_IDENTIFIER, sid.get());
    }
    if let Some(v) = alias.or(p.topic_alias) {
        s.u16(id::TOPIC_ALIAS, v.get());
    }
    visit_user(&p.user_properties, s);
}

impl PublishProperties {
    /// The property block (length prefix included), as the broker stores it with a message.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(&mut buf);
        buf.freeze()
    }

    /// Reads a block written by [`PublishProperties::to_bytes`] (or taken from a PUBLISH);
    /// bytes after the block are refused.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "PUBLISH");
        let p = Self::decode(&mut r, "PUBLISH")?;
        r.finish()?;
        Ok(p)
    }
}

impl fmt::Debug for PublishProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishProperties")
            .field("payload_format_indicator", &self.payload_format_indicator)
            .field("message_expiry_interval", &self.message_expiry_interval)
            .field("topic_alias", &self.topic_alias)
            .field("response_topic", &self.response_topic)
            .field("correlation_data", &LenOnly(&self.correlation_data))
            .field("user_properties", &self.user_properties)
            .field("subscription_identifiers", &self.subscription_identifiers)
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4.2.2 ...), SUBACK and UNSUBACK.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AckProperties {
    pub reason_string: Option<ByteString>,
    pub user_properties: UserProperties,
}

impl PropertySet for AckProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::REASON_STRING => self.reason_string = Some(p.string()?),
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = &self.reason_string {
            s.bytes(id::REASON_STRING, v.as_bytes());
        }
        visit_user(&self.user_properties, s);
    }
}

/// SUBSCRIBE properties (§3.8.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SubscribeProperties {
    pub subscription_identifier: Option<NonZeroU32>,
    pub user_properties: UserProperties,
}

impl PropertySet for SubscribeProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::SUBSCRIPTION_IDENTIFIER => {
                self.subscription_identifier = Some(subscription_identifier(p)?)
            }
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.subscription_identifier {
            s.vbi(id::SUBSCRIPTION_IDENTIFIER, v.get());
        }
        visit_user(&self.user_properties, s);
    }
}

/// UNSUBSCRIBE properties (§3.10.2.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UnsubscribeProperties {
    pub user_properties: UserProperties,
}

impl PropertySet for UnsubscribeProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        visit_user(&self.user_properties, s);
    }
}

/// DISCONNECT properties (§3.14.2.2).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DisconnectProperties {
    pub session_expiry_interval: Option<u32>,
    pub reason_string: Option<ByteString>,
    pub user_properties: UserProperties,
    pub server_reference: Option<ByteString>,
}

impl PropertySet for DisconnectProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::SESSION_EXPIRY_INTERVAL => self.session_expiry_interval = Some(p.u32()?),
            id::SERVER_REFERENCE => self.server_reference = Some(p.string()?),
            id::REASON_STRING => self.reason_string = Some(p.string()?),
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.session_expiry_interval {
            s.u32(id::SESSION_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = &self.server_reference {
            s.bytes(id::SERVER_REFERENCE, v.as_bytes());
        }
        if let Some(v) = &self.reason_string {
            s.bytes(id::REASON_STRING, v.as_bytes());
        }
        visit_user(&self.user_properties, s);
    }
}

/// AUTH properties (§3.15.2.2).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthProperties {
    pub authentication_method: Option<ByteString>,
    pub authentication_data: Option<Bytes>,
    pub reason_string: Option<ByteString>,
    pub user_properties: UserProperties,
}

impl PropertySet for AuthProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::AUTHENTICATION_METHOD => self.authentication_method = Some(p.string()?),
            id::AUTHENTICATION_DATA => self.authentication_data = Some(p.binary()?),
            id::REASON_STRING => self.reason_string = Some(p.string()?),
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = &self.authentication_method {
            s.bytes(id::AUTHENTICATION_METHOD, v.as_bytes());
        }
        if let Some(v) = &self.authentication_data {
            s.bytes(id::AUTHENTICATION_DATA, v);
        }
        if let Some(v) = &self.reason_string {
            s.bytes(id::REASON_STRING, v.as_bytes());
        }
        visit_user(&self.user_properties, s);
    }
}

impl fmt::Debug for AuthProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthProperties")
            .field("authentication_method", &self.authentication_method)
            .field("authentication_data", &LenOnly(&self.authentication_data))
            .field("reason_string", &self.reason_string)
            .field("user_properties", &self.user_properties)
            .finish()
    }
}

property_set_api!(
    PublishProperties,
    AckProperties,
    SubscribeProperties,
    UnsubscribeProperties,
    DisconnectProperties,
    AuthProperties,
);
