"""MQTT 5.0 with paho-mqtt MQTTv5: Message Expiry Interval (retained and queued messages), Session
Expiry Interval (CONNECT and DISCONNECT), and Will Messages (DISCONNECT 0x04, will properties).

The expiry tests wait 2.5 s for a 1 s expiry: the only sleeps of the suite."""

import time

import paho.mqtt.client as mqtt

from helpers import Paho, props, uid
from paho.mqtt.packettypes import PacketTypes

V5 = mqtt.MQTTv5


def v5(broker, **kw):
    return Paho(broker, protocol=V5, **kw).start()


def forget(broker, cid):
    """End a session left on the broker: Clean Start with Session Expiry 0."""
    v5(broker, client_id=cid, clean_session=True).stop()


# ---- Message Expiry Interval -------------------------------------------------------------------

def test_mqtt_3_3_2_5_expired_retained_message_is_not_delivered(broker):
    """A retained message with Message Expiry Interval 1 is gone 2.5 s later; a retained message
    without expiry on a sibling topic (the control) is still delivered."""
    base = uid("v5/retexp")
    pub = v5(broker)
    pub.publish(base + "/short", "expires", qos=1, retain=True, properties={"MessageExpiryInterval": 1})
    pub.publish(base + "/keep", "stays", qos=1, retain=True)
    time.sleep(2.5)
    sub = v5(broker)
    sub.subscribe(base + "/#", 1)
    msg = sub.get()
    assert (msg.topic, msg.payload, msg.retain) == (base + "/keep", b"stays", True)
    sub.nothing_for(0.5)
    pub.publish(base + "/keep", b"", qos=1, retain=True)  # clear
    pub.stop()
    sub.stop()


def test_mqtt_3_3_2_6_retained_message_carries_its_remaining_expiry(broker):
    """A retained message with Message Expiry Interval 60 is delivered to a later subscriber with the
    interval minus the time it waited (so at most 60, and not expired)."""
    topic = uid("v5/retkeep")
    pub = v5(broker)
    pub.publish(topic, "sixty", qos=1, retain=True, properties={"MessageExpiryInterval": 60})
    sub = v5(broker)
    sub.subscribe(topic, 1)
    msg = sub.get()
    assert (msg.payload, msg.retain) == (b"sixty", True)
    assert 0 < msg.properties.MessageExpiryInterval <= 60
    pub.publish(topic, b"", qos=1, retain=True)
    pub.stop()
    sub.stop()


def test_mqtt_3_3_2_5_expired_message_is_not_delivered_to_a_returning_session(broker):
    """A QoS 1 message queued for an offline persistent session with Message Expiry Interval 1 is not
    delivered when the client returns 2.5 s later; one without expiry (the control) is."""
    topic = uid("v5/queuedexp")
    cid = uid("v5-offline")
    first = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 300})
    first.subscribe(topic, 1)
    first.stop()
    pub = v5(broker)
    pub.publish(topic, "expires", qos=1, properties={"MessageExpiryInterval": 1})
    pub.publish(topic, "stays", qos=1)
    time.sleep(2.5)
    again = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 300})
    assert again.session_present is True
    assert again.get().payload == b"stays"
    again.nothing_for(0.3)
    again.stop()
    pub.stop()
    forget(broker, cid)


# ---- Session Expiry Interval -------------------------------------------------------------------

def offline_publish(broker, topic, payload):
    pub = v5(broker)
    pub.publish(topic, payload, qos=1)
    pub.stop()


def test_mqtt_3_1_2_23_session_expiry_0_ends_the_session_at_disconnect(broker):
    """Clean Start 0 with Session Expiry Interval 0: nothing is kept, so on reconnect Session Present
    is 0 [MQTT-3.2.2-3] and nothing published meanwhile arrives."""
    topic = uid("v5/sess0")
    cid = uid("v5-sess0")
    first = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 0})
    assert first.session_present is False
    first.subscribe(topic, 1)
    first.stop()
    offline_publish(broker, topic, "lost")
    again = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 0})
    assert again.session_present is False
    again.nothing_for(0.5)
    again.stop()


def test_mqtt_3_1_2_23_session_expiry_300_keeps_the_session(broker):
    """Session Expiry Interval 300: Session Present 1 on reconnect [MQTT-3.2.2-2] and a QoS 1
    message published while offline arrives."""
    topic = uid("v5/sess300")
    cid = uid("v5-sess300")
    first = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 300})
    first.subscribe(topic, 1)
    first.stop()
    offline_publish(broker, topic, "kept for you")
    again = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 300})
    assert again.session_present is True
    msg = again.get()
    assert (msg.payload, msg.qos) == (b"kept for you", 1)
    again.stop()
    forget(broker, cid)


def test_mqtt_3_14_2_2_2_disconnect_sets_session_expiry_to_0(broker):
    """CONNECT with Session Expiry Interval 300, DISCONNECT with Session Expiry Interval 0: the
    session ends at the disconnect."""
    topic = uid("v5/sessdisc")
    cid = uid("v5-sessdisc")
    first = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 300})
    first.subscribe(topic, 1)
    first.stop(reason_code=0, properties={"SessionExpiryInterval": 0})
    offline_publish(broker, topic, "lost")
    again = v5(broker, client_id=cid, clean_session=False, properties={"SessionExpiryInterval": 300})
    assert again.session_present is False
    again.nothing_for(0.5)
    again.stop(reason_code=0, properties={"SessionExpiryInterval": 0})


# ---- Will Messages -----------------------------------------------------------------------------

def will(topic, payload, **properties):
    w = {"topic": topic, "payload": payload, "qos": 1, "retain": False}
    if properties:
        w["properties"] = props(PacketTypes.WILLMESSAGE, properties)
    return w


def test_mqtt_3_14_2_1_disconnect_with_will_message_0x04_publishes_the_will(broker):
    topic = uid("v5/will04")
    watcher = v5(broker)
    watcher.subscribe(topic, 1)
    leaving = v5(broker, will=will(topic, "gone, with will"))
    leaving.stop(reason_code=0x04)
    msg = watcher.get()
    assert (msg.topic, msg.payload, msg.qos) == (topic, b"gone, with will", 1)
    watcher.stop()


def test_mqtt_3_1_2_10_normal_disconnect_0x00_discards_the_will(broker):
    topic = uid("v5/will00")
    watcher = v5(broker)
    watcher.subscribe(topic, 1)
    leaving = v5(broker, will=will(topic, "must not appear"))
    leaving.stop(reason_code=0x00)
    watcher.nothing_for(1.0)
    watcher.stop()


def test_mqtt_3_1_3_2_will_properties_arrive_with_the_will(broker):
    """Will properties (Content Type, User Properties in order, Payload Format Indicator, Response
    Topic, Correlation Data) are those of the published will."""
    topic = uid("v5/willprops")
    watcher = v5(broker)
    watcher.subscribe(topic, 1)
    users = [("reason", "test"), ("reason", "again"), ("node", "7")]
    leaving = v5(broker, will=will(topic, '{"state": "offline"}', ContentType="application/json", UserProperty=users,
                                   PayloadFormatIndicator=1, ResponseTopic=topic + "/r", CorrelationData=b"w1"))
    leaving.kill_socket()  # an abrupt death, the classic will
    msg = watcher.get()
    assert msg.payload == b'{"state": "offline"}'
    p = msg.properties
    assert p.ContentType == "application/json"
    assert p.UserProperty == users
    assert p.PayloadFormatIndicator == 1
    assert p.ResponseTopic == topic + "/r"
    assert p.CorrelationData == b"w1"
    watcher.stop()
