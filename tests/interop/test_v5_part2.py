"""MQTT 5.0 part 2 with real clients: Subscription Identifiers (paho-mqtt v5, `mosquitto_sub -V 5
-D subscribe subscription-identifier`) and topic aliases the broker assigns (paho-mqtt v5).

Test names carry the spec's statement ids (MQTT Version 5.0, OASIS Standard) where one applies."""

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes

from helpers import TIMEOUT, Paho, mosquitto_pub, mosquitto_sub_start, props, publish_until_received, uid

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
