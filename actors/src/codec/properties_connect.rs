//! The typed property blocks of CONNECT (§3.1.2.11), the Will (§3.1.3.2) and CONNACK
//! (§3.2.2.3).

use super::error::DecodeError;
use super::packet::QoS;
use super::properties::{id, UserProperties};
use super::properties_io::{property_set_api, LenOnly, PropertySet, Props, Sink};
use super::properties_types::{visit_user, PublishProperties};
use bytes::Bytes;
use bytestring::ByteString;
use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};

type Result<T> = std::result::Result<T, DecodeError>;

/// Receive Maximum: 0 is a Protocol Error (§3.1.2.11.3, §3.2.2.3.3).
fn receive_maximum(p: &mut Props<'_>) -> Result<NonZeroU16> {
    let v = p.u16()?;
    NonZeroU16::new(v).ok_or_else(|| p.invalid(id::RECEIVE_MAXIMUM, u32::from(v)))
}

/// Maximum Packet Size: 0 is a Protocol Error (§3.1.2.11.4, §3.2.2.3.6).
fn maximum_packet_size(p: &mut Props<'_>) -> Result<NonZeroU32> {
    let v = p.u32()?;
    NonZeroU32::new(v).ok_or_else(|| p.invalid(id::MAXIMUM_PACKET_SIZE, v))
}

fn put_opt_bool<S: Sink>(s: &mut S, id: u8, v: Option<bool>) {
    if let Some(v) = v {
        s.u8(id, u8::from(v));
    }
}

/// CONNECT properties (§3.1.2.11).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnectProperties {
    /// Seconds; absent means 0 (the session ends with the connection).
    pub session_expiry_interval: Option<u32>,
    pub receive_maximum: Option<NonZeroU16>,
    pub maximum_packet_size: Option<NonZeroU32>,
    pub topic_alias_maximum: Option<u16>,
    pub request_response_information: Option<bool>,
    pub request_problem_information: Option<bool>,
    pub user_properties: UserProperties,
    pub authentication_method: Option<ByteString>,
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnectProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::SESSION_EXPIRY_INTERVAL => self.session_expiry_interval = Some(p.u32()?),
            id::AUTHENTICATION_METHOD => self.authentication_method = Some(p.string()?),
            id::AUTHENTICATION_DATA => self.authentication_data = Some(p.binary()?),
            id::REQUEST_PROBLEM_INFORMATION => self.request_problem_information = Some(p.flag(id)?),
            id::REQUEST_RESPONSE_INFORMATION => {
                self.request_response_information = Some(p.flag(id)?)
            }
            id::RECEIVE_MAXIMUM => self.receive_maximum = Some(receive_maximum(p)?),
            id::TOPIC_ALIAS_MAXIMUM => self.topic_alias_maximum = Some(p.u16()?),
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            id::MAXIMUM_PACKET_SIZE => self.maximum_packet_size = Some(maximum_packet_size(p)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.session_expiry_interval {
            s.u32(id::SESSION_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = &self.authentication_method {
            s.bytes(id::AUTHENTICATION_METHOD, v.as_bytes());
        }
        if let Some(v) = &self.authentication_data {
            s.bytes(id::AUTHENTICATION_DATA, v);
        }
        put_opt_bool(
            s,
            id::REQUEST_PROBLEM_INFORMATION,
            self.request_problem_information,
        );
        put_opt_bool(
            s,
            id::REQUEST_RESPONSE_INFORMATION,
            self.request_response_information,
        );
        if let Some(v) = self.receive_maximum {
            s.u16(id::RECEIVE_MAXIMUM, v.get());
        }
        if let Some(v) = self.topic_alias_maximum {
            s.u16(id::TOPIC_ALIAS_MAXIMUM, v);
        }
        visit_user(&self.user_properties, s);
        if let Some(v) = self.maximum_packet_size {
            s.u32(id::MAXIMUM_PACKET_SIZE, v.get());
        }
    }
}

impl fmt::Debug for ConnectProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectProperties")
            .field("session_expiry_interval", &self.session_expiry_interval)
            .field("receive_maximum", &self.receive_maximum)
            .field("maximum_packet_size", &self.maximum_packet_size)
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field(
                "request_response_information",
                &self.request_response_information,
            )
            .field(
                "request_problem_information",
                &self.request_problem_information,
            )
            .field("user_properties", &self.user_properties)
            .field("authentication_method", &self.authentication_method)
            .field("authentication_data", &LenOnly(&self.authentication_data))
            .finish()
    }
}

/// Will properties, in the CONNECT payload before the Will Topic (§3.1.3.2).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct WillProperties {
    /// Seconds to wait before publishing the Will.
    pub will_delay_interval: Option<u32>,
    pub payload_format_indicator: Option<bool>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<ByteString>,
    pub response_topic: Option<ByteString>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: UserProperties,
}

impl PropertySet for WillProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::PAYLOAD_FORMAT_INDICATOR => self.payload_format_indicator = Some(p.flag(id)?),
            id::MESSAGE_EXPIRY_INTERVAL => self.message_expiry_interval = Some(p.u32()?),
            id::CONTENT_TYPE => self.content_type = Some(p.string()?),
            id::RESPONSE_TOPIC => self.response_topic = Some(p.string()?),
            id::CORRELATION_DATA => self.correlation_data = Some(p.binary()?),
            id::WILL_DELAY_INTERVAL => self.will_delay_interval = Some(p.u32()?),
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        put_opt_bool(
            s,
            id::PAYLOAD_FORMAT_INDICATOR,
            self.payload_format_indicator,
        );
        if let Some(v) = self.message_expiry_interval {
            s.u32(id::MESSAGE_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = &self.content_type {
            s.bytes(id::CONTENT_TYPE, v.as_bytes());
        }
        if let Some(v) = &self.response_topic {
            s.bytes(id::RESPONSE_TOPIC, v.as_bytes());
        }
        if let Some(v) = &self.correlation_data {
            s.bytes(id::CORRELATION_DATA, v);
        }
        if let Some(v) = self.will_delay_interval {
            s.u32(id::WILL_DELAY_INTERVAL, v);
        }
        visit_user(&self.user_properties, s);
    }
}

impl WillProperties {
    /// The properties the Will message is published with (§3.1.3.2: all but the Will Delay
    /// Interval are sent on with it); `None` when there are none.
    pub fn into_publish(self) -> Option<Box<PublishProperties>> {
        let p = PublishProperties {
            payload_format_indicator: self.payload_format_indicator,
            message_expiry_interval: self.message_expiry_interval,
            content_type: self.content_type,
            response_topic: self.response_topic,
            correlation_data: self.correlation_data,
            user_properties: self.user_properties,
            ..PublishProperties::default()
        };
        (!p.is_empty()).then(|| Box::new(p))
    }
}

impl fmt::Debug for WillProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WillProperties")
            .field("will_delay_interval", &self.will_delay_interval)
            .field("payload_format_indicator", &self.payload_format_indicator)
            .field("message_expiry_interval", &self.message_expiry_interval)
            .field("content_type", &self.content_type)
            .field("response_topic", &self.response_topic)
            .field("correlation_data", &LenOnly(&self.correlation_data))
            .field("user_properties", &self.user_properties)
            .finish()
    }
}

/// CONNACK properties (§3.2.2.3).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnAckProperties {
    pub session_expiry_interval: Option<u32>,
    pub receive_maximum: Option<NonZeroU16>,
    /// Only QoS 0 or 1 may be sent (§3.2.2.3.4); `Some(ExactlyOnce)` is written as absent,
    /// which means the same.
    pub maximum_qos: Option<QoS>,
    pub retain_available: Option<bool>,
    pub maximum_packet_size: Option<NonZeroU32>,
    pub assigned_client_identifier: Option<ByteString>,
    pub topic_alias_maximum: Option<u16>,
    pub reason_string: Option<ByteString>,
    pub user_properties: UserProperties,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
    pub server_keep_alive: Option<u16>,
    pub response_information: Option<ByteString>,
    pub server_reference: Option<ByteString>,
    pub authentication_method: Option<ByteString>,
    pub authentication_data: Option<Bytes>,
}

impl PropertySet for ConnAckProperties {
    fn set(&mut self, id: u8, p: &mut Props<'_>) -> Result<bool> {
        match id {
            id::SESSION_EXPIRY_INTERVAL => self.session_expiry_interval = Some(p.u32()?),
            id::ASSIGNED_CLIENT_IDENTIFIER => self.assigned_client_identifier = Some(p.string()?),
            id::SERVER_KEEP_ALIVE => self.server_keep_alive = Some(p.u16()?),
            id::AUTHENTICATION_METHOD => self.authentication_method = Some(p.string()?),
            id::AUTHENTICATION_DATA => self.authentication_data = Some(p.binary()?),
            id::RESPONSE_INFORMATION => self.response_information = Some(p.string()?),
            id::SERVER_REFERENCE => self.server_reference = Some(p.string()?),
            id::REASON_STRING => self.reason_string = Some(p.string()?),
            id::RECEIVE_MAXIMUM => self.receive_maximum = Some(receive_maximum(p)?),
            id::TOPIC_ALIAS_MAXIMUM => self.topic_alias_maximum = Some(p.u16()?),
            id::MAXIMUM_QOS => {
                self.maximum_qos = Some(match p.u8()? {
                    0 => QoS::AtMostOnce,
                    1 => QoS::AtLeastOnce,
                    v => return Err(p.invalid(id, u32::from(v))),
                })
            }
            id::RETAIN_AVAILABLE => self.retain_available = Some(p.flag(id)?),
            id::USER_PROPERTY => self.user_properties.push(p.pair()?),
            id::MAXIMUM_PACKET_SIZE => self.maximum_packet_size = Some(maximum_packet_size(p)?),
            id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                self.wildcard_subscription_available = Some(p.flag(id)?)
            }
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                self.subscription_identifiers_available = Some(p.flag(id)?)
            }
            id::SHARED_SUBSCRIPTION_AVAILABLE => {
                self.shared_subscription_available = Some(p.flag(id)?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(v) = self.session_expiry_interval {
            s.u32(id::SESSION_EXPIRY_INTERVAL, v);
        }
        if let Some(v) = &self.assigned_client_identifier {
            s.bytes(id::ASSIGNED_CLIENT_IDENTIFIER, v.as_bytes());
        }
        if let Some(v) = self.server_keep_alive {
            s.u16(id::SERVER_KEEP_ALIVE, v);
        }
        if let Some(v) = &self.authentication_method {
            s.bytes(id::AUTHENTICATION_METHOD, v.as_bytes());
        }
        if let Some(v) = &self.authentication_data {
            s.bytes(id::AUTHENTICATION_DATA, v);
        }
        if let Some(v) = &self.response_information {
            s.bytes(id::RESPONSE_INFORMATION, v.as_bytes());
        }
        if let Some(v) = &self.server_reference {
            s.bytes(id::SERVER_REFERENCE, v.as_bytes());
        }
        if let Some(v) = &self.reason_string {
            s.bytes(id::REASON_STRING, v.as_bytes());
        }
        if let Some(v) = self.receive_maximum {
            s.u16(id::RECEIVE_MAXIMUM, v.get());
        }
        if let Some(v) = self.topic_alias_maximum {
            s.u16(id::TOPIC_ALIAS_MAXIMUM, v);
        }
        if let Some(q) = self.maximum_qos.filter(|&q| q != QoS::ExactlyOnce) {
            s.u8(id::MAXIMUM_QOS, q as u8);
        }
        put_opt_bool(s, id::RETAIN_AVAILABLE, self.retain_available);
        visit_user(&self.user_properties, s);
        if let Some(v) = self.maximum_packet_size {
            s.u32(id::MAXIMUM_PACKET_SIZE, v.get());
        }
        put_opt_bool(
            s,
            id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            self.wildcard_subscription_available,
        );
        put_opt_bool(
            s,
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            self.subscription_identifiers_available,
        );
        put_opt_bool(
            s,
            id::SHARED_SUBSCRIPTION_AVAILABLE,
            self.shared_subscription_available,
        );
    }
}

impl fmt::Debug for ConnAckProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ConnAckProperties");
        d.field("session_expiry_interval", &self.session_expiry_interval)
            .field("receive_maximum", &self.receive_maximum)
            .field("maximum_qos", &self.maximum_qos)
            .field("retain_available", &self.retain_available)
            .field("maximum_packet_size", &self.maximum_packet_size)
            .field(
                "assigned_client_identifier",
                &self.assigned_client_identifier,
            )
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field("reason_string", &self.reason_string)
            .field("user_properties", &self.user_properties)
            .field(
                "wildcard_subscription_available",
                &self.wildcard_subscription_available,
            )
            .field(
                "subscription_identifiers_available",
                &self.subscription_identifiers_available,
            )
            .field(
                "shared_subscription_available",
                &self.shared_subscription_available,
            )
            .field("server_keep_alive", &self.server_keep_alive)
            .field("response_information", &self.response_information)
            .field("server_reference", &self.server_reference)
            .field("authentication_method", &self.authentication_method)
            .field("authentication_data", &LenOnly(&self.authentication_data));
        d.finish()
    }
}

property_set_api!(ConnectProperties, WillProperties, ConnAckProperties);
