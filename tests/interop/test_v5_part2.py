"""MQTT 5.0 part 2 with real clients: Subscription Identifiers (paho-mqtt v5, `mosquitto_sub -V 5
-D subscribe subscription-identifier`) and topic aliases the broker assigns (MQTT.js v5 with
`topicAliasMaximum`, which resolves them; paho-mqtt v5).

Test names carry the spec's statement ids (MQTT Version 5.0, OASIS Standard) where one applies."""

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes

from helpers import TIMEOUT, Paho, mosquitto_pub, mosquitto_sub_start, props, publish_until_received, uid
from test_websocket import run_node

V5 = mqtt.MQTTv5


def v5(broker, **kw):
    return Paho(broker, protocol=V5, **kw).start()


def subscribe_with_id(c, topic, qos, sub_id):
    c.subscribed.clear()
    c.client.subscribe(topic, qos, properties=props(PacketTypes.SUBSCRIBE, {"SubscriptionIdentifier": sub_id}))
    assert c.subscribed.wait(TIMEOUT), "no SUBACK"
    return c.granted


def test_mqtt_3_3_4_4_paho_gets_every_matching_subscription_identifier(broker):
    base = uid("v5/subid")
    sub = v5(broker)
    assert not hasattr(sub.connack_properties, "SubscriptionIdentifierAvailable") or \
        sub.connack_properties.SubscriptionIdentifierAvailable == 1
    assert subscribe_with_id(sub, f"{base}/#", 1, 5) == [1]
    assert subscribe_with_id(sub, f"{base}/+/t", 0, 77) == [0]
    pub = v5(broker)
    pub.publish(f"{base}/a/t", "both", qos=1)
    msg = sub.get()
    assert msg.payload == b"both" and msg.qos == 1
    assert sorted(msg.properties.SubscriptionIdentifier) == [5, 77]
    pub.publish(f"{base}/b", "one", qos=1)
    msg = sub.get()
    assert msg.properties.SubscriptionIdentifier == [5]
    sub.stop()
    pub.stop()


def test_mosquitto_sub_d_subscribe_subscription_identifier(broker):
    topic = uid("v5/subid-cli")
    proc = mosquitto_sub_start(broker, topic, qos=1, version="5",
                               extra=["-D", "subscribe", "subscription-identifier", "42", "-F", "%t|%p|%S"])
    lines = publish_until_received(proc, lambda: mosquitto_pub(broker, topic, "cli", qos=1, version="5"))
    assert lines[0] == f"{topic}|cli|42"


def test_mqttjs_v5_with_topic_alias_maximum_resolves_the_brokers_aliases(broker):
    run_node("mqttjs_v5_aliases.mjs", f"mqtt://{broker[0]}:{broker[1]}")


def test_mqtt_3_3_2_11_paho_v5_receives_aliases_within_its_maximum(broker):
    """paho-mqtt 2.x decodes the alias but does not resolve it: the test keeps the map, as a client
    must [MQTT-3.3.2-10], and checks what paho parsed off the wire. A paho client that does not
    send a Topic Alias Maximum gets full topics."""
    base = uid("v5/alias")
    topics = [f"{base}/homeassistant/sensor/0x00158d0001a2b3c4/temperature/state",
              f"{base}/zigbee2mqtt/Living Room Motion Sensor/availability",
              f"{base}/zigbee2mqtt/Kitchen Light/state"]
    sub = v5(broker, properties={"TopicAliasMaximum": 2})
    plain = v5(broker)
    sub.subscribe(f"{base}/#", 1)
    plain.subscribe(f"{base}/#", 1)
    pub = v5(broker)
    aliases, sent = {}, []
    for r in range(3):
        for t in topics:
            pub.publish(t, str(r), qos=1)
            sent.append((t, str(r).encode()))
    got = []
    for _ in sent:
        msg = sub.get()
        alias = getattr(msg.properties, "TopicAlias", None) if msg.properties else None
        topic = msg.topic
        if alias is not None:
            assert 1 <= alias <= 2
            if topic:
                aliases[alias] = topic
            else:
                topic = aliases[alias]
        got.append((topic, msg.payload))
        m = plain.get()
        assert m.topic and not (m.properties and hasattr(m.properties, "TopicAlias"))
    assert got == sent
    assert len(aliases) == 2
    for c in (sub, plain, pub):
        c.stop()
