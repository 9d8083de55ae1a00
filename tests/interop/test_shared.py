"""Shared subscriptions, $share/{group}/{filter} (MQTT 5.0 section 4.8.2), with real clients:
paho-mqtt as MQTTv5 and as MQTTv311, both in one group, and mosquitto_sub on a $share filter.

Each message of the shared filter goes to one member of the group; the broker's default strategy
(round_robin) takes members in turn, so members of one group share the messages evenly.
"""

import queue
import time

import paho.mqtt.client as mqtt

from helpers import Paho, mosquitto_pub, mosquitto_sub_start, publish_until_received, uid

V5, V311 = mqtt.MQTTv5, mqtt.MQTTv311


def drain(client, quiet=0.5):
    """Payloads received until nothing comes for `quiet` seconds."""
    got = []
    while True:
        try:
            got.append(client.messages.get(timeout=quiet).payload.decode())
        except queue.Empty:
            return got


def share_between(broker, protocols, n=12, qos=1):
    """Members of one group with these protocols, `n` messages published: what each got."""
    topic = uid("shared/jobs")
    members = [Paho(broker, protocol=p).start() for p in protocols]
    for m in members:
        assert m.subscribe(f"$share/workers/{topic}", qos) == [qos]
    pub = Paho(broker, protocol=V5).start()
    for i in range(n):
        pub.publish(topic, str(i), qos=qos)
    got = [drain(m) for m in members]
    for c in members + [pub]:
        c.stop()
    everything = sorted(int(p) for g in got for p in g)
    assert everything == list(range(n)), f"each message to exactly one member: {got}"
    return got


def test_mqtt_4_8_2_paho_v5_members_share_the_messages(broker):
    c = Paho(broker, protocol=V5).start()
    assert getattr(c.connack_properties, "SharedSubscriptionAvailable", 1) == 1
    c.stop()
    got = share_between(broker, [V5, V5, V5])
    assert [len(g) for g in got] == [4, 4, 4], got


def test_mqtt_4_8_2_paho_v311_members_share_the_messages(broker):
    got = share_between(broker, [V311, V311])
    assert [len(g) for g in got] == [6, 6], got


def test_mqtt_4_8_2_v5_and_v311_members_in_one_group(broker):
    got = share_between(broker, [V5, V311], n=10, qos=0)
    assert [len(g) for g in got] == [5, 5], got


def test_mqtt_4_8_2_1_an_invalid_share_name_is_refused(broker):
    c = Paho(broker, protocol=V5).start()
    assert c.subscribe([("$share/+/x", 1), ("$share/g/ok", 1)]) == [0x8F, 1]
    c.stop()


def test_mqtt_4_8_2_two_groups_and_a_plain_subscriber_each_get_every_message(broker):
    topic = uid("shared/fan")
    a = Paho(broker, protocol=V5).start()
    b = Paho(broker, protocol=V311).start()
    plain = Paho(broker, protocol=V5).start()
    assert a.subscribe(f"$share/one/{topic}", 1) == [1]
    assert b.subscribe(f"$share/two/{topic}", 1) == [1]
    assert plain.subscribe(topic, 1) == [1]
    pub = Paho(broker, protocol=V311).start()
    for i in range(5):
        pub.publish(topic, str(i), qos=1)
    for c in (a, b, plain):
        assert drain(c) == [str(i) for i in range(5)]
    for c in (a, b, plain, pub):
        c.stop()


def test_mosquitto_sub_on_a_shared_subscription(broker):
    for version in ("mqttv311", "mqttv5"):
        topic = uid("shared/cli")
        sub = mosquitto_sub_start(broker, f"$share/cli/{topic}", qos=1, version=version)
        time.sleep(0.1)
        lines = publish_until_received(sub, lambda: mosquitto_pub(broker, topic, "hello", qos=1))
        assert lines == [f"{topic} hello"], (version, lines)
