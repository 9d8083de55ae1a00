"""Interop with real clients: paho-mqtt 2.x and mosquitto_pub/mosquitto_sub."""

import time

import paho.mqtt.client as mqtt
import pytest

from helpers import Paho, mosquitto_pub, mosquitto_sub_start, publish_until_received, uid


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_paho_to_paho_round_trip(broker, qos):
    topic = uid("interop/paho")
    sub = Paho(broker).start()
    assert sub.subscribe(topic, qos) == [qos]
    pub = Paho(broker).start()
    pub.publish(topic, f"hello {qos}", qos=qos)
    msg = sub.get()
    assert (msg.topic, msg.payload, msg.qos, msg.retain) == (topic, f"hello {qos}".encode(), qos, False)
    pub.stop()
    sub.stop()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mosquitto_pub_to_paho(broker, qos):
    topic = uid("interop/cli")
    sub = Paho(broker).start()
    sub.subscribe(topic, qos)
    mosquitto_pub(broker, topic, "from the cli", qos=qos)
    msg = sub.get()
    assert (msg.payload, msg.qos) == (b"from the cli", qos)
    sub.stop()


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_paho_to_mosquitto_sub(broker, qos):
    topic = uid("interop/tocli")
    pub = Paho(broker).start()
    proc = mosquitto_sub_start(broker, topic, qos=qos)
    lines = publish_until_received(proc, lambda: pub.publish(topic, "to the cli", qos=qos))
    assert lines == [f"{topic} to the cli"]
    pub.stop()


def test_mqtt_3_1_client_round_trip(broker):
    topic = uid("interop/v31")
    sub = Paho(broker, protocol=mqtt.MQTTv31).start()
    sub.subscribe(topic, 1)
    mosquitto_pub(broker, topic, "old protocol", qos=1, extra=["-V", "mqttv31"])
    assert sub.get().payload == b"old protocol"
    sub.stop()


def test_retained_message_via_cli_and_paho(broker):
    topic = uid("interop/retained")
    mosquitto_pub(broker, topic, "kept", qos=1, retain=True)
    # A later mosquitto_sub gets it at once (no race: it is retained).
    proc = mosquitto_sub_start(broker, topic, qos=1)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.splitlines() == [f"{topic} kept"]
    # A later paho subscriber sees the retain flag.
    sub = Paho(broker).start()
    sub.subscribe(topic, 1)
    msg = sub.get()
    assert (msg.payload, msg.retain) == (b"kept", True)
    # Empty retained payload deletes it.
    mosquitto_pub(broker, topic, None, qos=1, retain=True)
    sub2 = Paho(broker).start()
    sub2.subscribe(topic, 1)
    sub2.nothing_for(1.0)
    sub.stop()
    sub2.stop()


def test_persistent_session_is_resumed_after_reconnect(broker):
    topic = uid("interop/session")
    cid = uid("persistent")
    first = Paho(broker, client_id=cid, clean_session=False).start()
    assert first.session_present is False
    first.subscribe(topic, 1)
    first.stop()
    mosquitto_pub(broker, topic, "queued while offline", qos=1)
    again = Paho(broker, client_id=cid, clean_session=False).start()
    assert again.session_present is True
    msg = again.get()
    assert (msg.payload, msg.qos) == (b"queued while offline", 1)
    again.stop()
    # Clean up the session on the broker.
    Paho(broker, client_id=cid, clean_session=True).start().stop()


def test_will_is_published_when_a_paho_client_dies(broker):
    topic = uid("interop/will")
    watcher = Paho(broker).start()
    watcher.subscribe(topic, 1)
    dying = Paho(broker, will={"topic": topic, "payload": "client died", "qos": 1, "retain": False}).start()
    dying.kill_socket()
    msg = watcher.get()
    assert (msg.topic, msg.payload, msg.qos) == (topic, b"client died", 1)
    watcher.stop()


def test_will_is_not_published_after_a_clean_disconnect(broker):
    topic = uid("interop/nowill")
    watcher = Paho(broker).start()
    watcher.subscribe(topic, 0)
    polite = Paho(broker, will={"topic": topic, "payload": "should not appear"}).start()
    polite.stop()
    watcher.nothing_for(1.0)
    watcher.stop()


def test_paho_sys_sample_receives_sys_messages(broker):
    """The paho-mqtt README sample: subscribe to $SYS/# in on_connect and print what arrives."""
    received = []

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe("$SYS/#")

    def on_message(client, userdata, msg):
        received.append((msg.topic, msg.payload))

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(broker[0], broker[1], 60)
    deadline = time.monotonic() + 15  # default sys_interval is 10 s
    while time.monotonic() < deadline and len(received) < 3:
        client.loop(timeout=0.5)
    client.disconnect()
    assert received, "no $SYS message within 15 s"
    assert all(topic.startswith("$SYS/") for topic, _ in received)
    assert any(topic.startswith("$SYS/broker/") for topic, _ in received)
