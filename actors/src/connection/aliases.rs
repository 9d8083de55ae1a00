//! Topic aliases a 5.0 client sets for the broker (client to broker, MQTT 5.0 §3.3.2.3.4): per
//! connection, up to the Topic Alias Maximum the broker announced in CONNACK. Pure; used by the
//! channel, which resolves every PUBLISH before the session sees it, so an alias never leaves
//! the connection it belongs to.

use crate::close::CloseReason;
use crate::codec::Publish;
use bytestring::ByteString;

/// The aliases of one connection: slot `n - 1` holds alias `n`'s topic. Made at the first
/// alias a client uses, so a client that uses none pays nothing.
#[derive(Debug, Default)]
pub struct TopicAliases {
    topics: Vec<Option<ByteString>>,
}

impl TopicAliases {
    /// Resolves `p`'s Topic Alias in place: a topic with an alias sets (or re-maps) it, an
    /// empty topic with an alias takes the alias's topic [MQTT-3.3.2-12]; the alias property is
    /// then removed, as it means nothing beyond this connection. `max` is the broker's Topic
    /// Alias Maximum; 0 means none are accepted.
    pub fn resolve(
        aliases: &mut Option<Box<TopicAliases>>,
        max: u16,
        p: &mut Publish,
    ) -> Result<(), CloseReason> {
        let alias = p.properties.as_ref().and_then(|pr| pr.topic_alias);
        let Some(alias) = alias else {
            if p.topic.is_empty() {
                // A zero-length topic needs an alias to stand for it (§3.3.2.1).
                return Err(CloseReason::Protocol(
                    "MQTT-3.3.2-1",
                    "PUBLISH with an empty topic and no topic alias".into(),
                ));
            }
            return Ok(());
        };
        if alias.get() > max {
            // [MQTT-3.3.2-9]: 0 or above the broker's maximum.
            return Err(CloseReason::TopicAliasInvalid(format!(
                "alias {alias} sent, the broker's Topic Alias Maximum is {max}"
            )));
        }
        let slot = usize::from(alias.get() - 1);
        let map = aliases.get_or_insert_with(Box::default);
        if map.topics.len() <= slot {
            map.topics.resize(slot + 1, None);
        }
        if p.topic.is_empty() {
            match &map.topics[slot] {
                Some(topic) => p.topic = topic.clone(),
                None => {
                    return Err(CloseReason::Protocol(
                        "MQTT-3.3.2-12",
                        format!("topic alias {alias} used before it was set"),
                    ))
                }
            }
        } else {
            map.topics[slot] = Some(p.topic.clone());
        }
        if let Some(props) = &mut p.properties {
            props.topic_alias = None;
            if props.is_empty() {
                p.properties = None;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{PublishProperties, QoS, ReasonCode};
    use bytes::Bytes;
    use std::num::NonZeroU16;

    fn publish(topic: &str, alias: Option<u16>) -> Publish {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: topic.into(),
            pkid: None,
            payload: Bytes::new(),
            properties: alias.map(|a| {
                Box::new(PublishProperties {
                    topic_alias: NonZeroU16::new(a),
                    ..PublishProperties::default()
                })
            }),
        }
    }

    #[test]
    fn mqtt_3_3_2_12_an_alias_is_set_used_and_re_mapped() {
        let mut map = None;
        let mut set = publish("home/hall/light", Some(1));
        TopicAliases::resolve(&mut map, 10, &mut set).unwrap();
        assert_eq!(set.properties, None, "the alias does not travel on");
        let mut used = publish("", Some(1));
        TopicAliases::resolve(&mut map, 10, &mut used).unwrap();
        assert_eq!(&*used.topic, "home/hall/light");
        let mut remap = publish("home/hall/heat", Some(1));
        TopicAliases::resolve(&mut map, 10, &mut remap).unwrap();
        let mut again = publish("", Some(1));
        TopicAliases::resolve(&mut map, 10, &mut again).unwrap();
        assert_eq!(&*again.topic, "home/hall/heat");
    }

    #[test]
    fn mqtt_3_3_2_9_an_alias_above_the_maximum_is_invalid() {
        let mut map = None;
        let err = TopicAliases::resolve(&mut map, 10, &mut publish("t", Some(11))).unwrap_err();
        assert_eq!(err.disconnect_code(), Some(ReasonCode::TopicAliasInvalid));
        let err = TopicAliases::resolve(&mut map, 0, &mut publish("t", Some(1))).unwrap_err();
        assert_eq!(err.disconnect_code(), Some(ReasonCode::TopicAliasInvalid));
        assert!(map.is_none(), "nothing is allocated for a refused alias");
    }

    #[test]
    fn an_unset_alias_or_an_empty_topic_without_one_is_a_protocol_error() {
        let mut map = None;
        let err = TopicAliases::resolve(&mut map, 10, &mut publish("", Some(2))).unwrap_err();
        assert_eq!(err.disconnect_code(), Some(ReasonCode::ProtocolError));
        let err = TopicAliases::resolve(&mut map, 10, &mut publish("", None)).unwrap_err();
        assert_eq!(err.disconnect_code(), Some(ReasonCode::ProtocolError));
    }

    #[test]
    fn other_properties_stay() {
        let mut map = None;
        let mut p = publish("t", Some(1));
        p.properties.as_mut().unwrap().content_type = Some("text/plain".into());
        TopicAliases::resolve(&mut map, 10, &mut p).unwrap();
        let props = p.properties.unwrap();
        assert_eq!(
            (props.topic_alias, props.content_type.as_deref()),
            (None, Some("text/plain"))
        );
    }
}
