"""MQTT 5.0 subscription options with paho-mqtt v5 (§3.8.3.1): No Local, Retain As Published and
Retain Handling 0/1/2. Debian's mosquitto_sub 2.0.11 has no option for them, so paho is the real
client here.

Test names carry the spec's statement ids (MQTT Version 5.0, OASIS Standard)."""

import paho.mqtt.client as mqtt
from paho.mqtt.subscribeoptions import SubscribeOptions

from helpers import TIMEOUT, Paho, uid

V5 = mqtt.MQTTv5


def v5(broker):
    return Paho(broker, protocol=V5).start()


def subscribe(c, topic, **options):
    c.subscribed.clear()
    c.client.subscribe(topic, options=SubscribeOptions(qos=1, **options))
    assert c.subscribed.wait(TIMEOUT), "no SUBACK"
    return c.granted


def test_mqtt_3_8_3_3_no_local_keeps_a_client_s_own_messages_from_it(broker):
    topic = uid("v5/nolocal")
    c = v5(broker)
    other = v5(broker)
    assert subscribe(c, topic, noLocal=True) == [1]
    c.publish(topic, "mine", qos=1)
    other.publish(topic, "theirs", qos=1)
    assert c.get().payload == b"theirs"
    c.nothing_for(0.3)
    c.stop()
    other.stop()


def test_mqtt_3_3_1_12_retain_as_published_keeps_the_retain_flag_of_forwarded_messages(broker):
    base = uid("v5/rap")
    keep, clear = v5(broker), v5(broker)
    assert subscribe(keep, f"{base}/#", retainAsPublished=True) == [1]
    assert subscribe(clear, f"{base}/#") == [1]
    pub = v5(broker)
    pub.publish(f"{base}/t", "r", qos=1, retain=True)
    assert keep.get().retain is True
    # Without the option a forwarded message has RETAIN 0 [MQTT-3.3.1-13].
    assert clear.get().retain is False
    for c in (keep, clear, pub):
        c.stop()


def test_mqtt_3_3_1_9_to_11_retain_handling_0_1_2(broker):
    base = uid("v5/rh")
    pub = v5(broker)
    pub.publish(f"{base}/t", "kept", qos=1, retain=True)
    rh = {n: v5(broker) for n in (0, 1, 2)}
    for n, c in rh.items():
        assert subscribe(c, f"{base}/#", retainHandling=n) == [1]
    # 0 and 1: the retained message on a new subscription; 2: never [MQTT-3.3.1-9, -10, -11].
    assert rh[0].get().payload == b"kept"
    assert rh[1].get().payload == b"kept"
    rh[2].nothing_for(0.3)
    # The same subscription again: 0 sends it again, 1 only for a new subscription.
    for n, c in rh.items():
        assert subscribe(c, f"{base}/#", retainHandling=n) == [1]
    assert rh[0].get().payload == b"kept"
    rh[1].nothing_for(0.3)
    rh[2].nothing_for(0.1)
    for c in (pub, *rh.values()):
        c.stop()
