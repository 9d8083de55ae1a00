//! The record layouts of schema versions 1 and 2 that version 3 changed, as the migration
//! (`migrate.rs`) reads them, and the version-3 record each one becomes: the MQTT 5.0 fields
//! at their "absent" values, which is what they mean for state an MQTT 3.1/3.1.1 broker wrote.
//! bincode stores fields in order without names, so these must stay exactly as those versions
//! declared them (names may differ, types and order may not).

use crate::records::{
    DeliveryState, MessageBody, QueuedRef, RetainedRecord, SessionMeta, StoredMessage,
    SubscriptionRecord,
};
use serde::{Deserialize, Serialize};

/// `SubscriptionRecord` of versions 1 and 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubscriptionRecordV2 {
    pub filter: String,
    pub qos: u8,
}

/// `SessionMeta` of versions 1 and 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionMetaV2 {
    pub client_id: String,
    pub protocol_level: u8,
    pub subscriptions: Vec<SubscriptionRecordV2>,
    pub last_seen_ms: u64,
}

/// `StoredMessage` of versions 1 and 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMessageV2 {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
}

/// `RetainedRecord` of versions 1 and 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RetainedRecordV2 {
    pub message: StoredMessageV2,
}

/// `MessageBody` of version 2 (version 1 had none).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageBodyV2 {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// `QueuedRef` of version 2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueuedRefV2 {
    pub qos: u8,
    pub state: DeliveryState,
    pub inline: Option<MessageBodyV2>,
}

/// A queued message as schema version 1 stored it, once per session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueuedRecordV1 {
    /// `qos` is the delivery QoS, `retain` the flag of the delivery.
    pub message: StoredMessageV2,
    pub state: DeliveryState,
}

impl From<SubscriptionRecordV2> for SubscriptionRecord {
    fn from(old: SubscriptionRecordV2) -> Self {
        SubscriptionRecord {
            filter: old.filter,
            qos: old.qos,
            options: 0,
            subscription_id: None,
        }
    }
}

impl From<SessionMetaV2> for SessionMeta {
    fn from(old: SessionMetaV2) -> Self {
        SessionMeta {
            client_id: old.client_id,
            protocol_level: old.protocol_level,
            subscriptions: old.subscriptions.into_iter().map(Into::into).collect(),
            last_seen_ms: old.last_seen_ms,
            expiry_interval_secs: None,
        }
    }
}

impl From<RetainedRecordV2> for RetainedRecord {
    fn from(old: RetainedRecordV2) -> Self {
        let m = old.message;
        RetainedRecord {
            message: StoredMessage {
                topic: m.topic,
                payload: m.payload,
                qos: m.qos,
                retain: m.retain,
                properties: Vec::new(),
                expires_at_ms: None,
            },
        }
    }
}

impl From<MessageBodyV2> for MessageBody {
    fn from(old: MessageBodyV2) -> Self {
        MessageBody {
            topic: old.topic,
            payload: old.payload,
            retain: old.retain,
            properties: Vec::new(),
            expires_at_ms: None,
        }
    }
}

impl From<QueuedRefV2> for QueuedRef {
    fn from(old: QueuedRefV2) -> Self {
        QueuedRef {
            qos: old.qos,
            state: old.state,
            inline: old.inline.map(Into::into),
        }
    }
}

impl QueuedRecordV1 {
    /// The message's body, delivery QoS and state (version 1 had no bodies of their own).
    pub fn into_parts(self) -> (MessageBody, u8, DeliveryState) {
        let m = self.message;
        let body = MessageBodyV2 {
            topic: m.topic,
            payload: m.payload,
            retain: m.retain,
        };
        (body.into(), m.qos, self.state)
    }
}
