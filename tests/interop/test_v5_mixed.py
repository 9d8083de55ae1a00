"""MQTT 5.0 next to 3.1.1 on one broker (paho MQTTv5 and MQTTv311), and mosquitto_pub/mosquitto_sub
speaking 5.0 (`-V 5`, properties with `-D`, shown by `mosquitto_sub -F`)."""

import paho.mqtt.client as mqtt

from helpers import Paho, mosquitto_pub, mosquitto_sub_start, publish_until_received, uid

V5, V311 = mqtt.MQTTv5, mqtt.MQTTv311

PROPS = {"ContentType": "text/plain", "UserProperty": [("k", "v"), ("k", "w")], "CorrelationData": b"c1",
         "ResponseTopic": "reply/here", "PayloadFormatIndicator": 1, "MessageExpiryInterval": 90}


def client(broker, protocol, **kw):
    return Paho(broker, protocol=protocol, **kw).start()


def no_v5_properties(msg):
    p = msg.properties
    return p is None or not any(hasattr(p, n) for n in ("ContentType", "UserProperty", "CorrelationData",
                                                          "ResponseTopic", "MessageExpiryInterval"))


# ---- 3.1.1 and 5.0 clients on one broker -------------------------------------------------------

def test_v5_publisher_to_v311_subscriber(broker):
    topic = uid("v5/to311")
    sub = client(broker, V311)
    assert sub.subscribe(topic, 1) == [1]
    pub = client(broker, V5)
    pub.publish(topic, "from five", qos=1, properties=PROPS)
    msg = sub.get()
    assert (msg.topic, msg.payload, msg.qos) == (topic, b"from five", 1)
    assert no_v5_properties(msg)
    pub.stop()
    sub.stop()


def test_v311_publisher_to_v5_subscriber(broker):
    topic = uid("v5/from311")
    sub = client(broker, V5)
    assert sub.subscribe(topic, 2) == [2]
    pub = client(broker, V311)
    pub.publish(topic, "from 3.1.1", qos=2)
    msg = sub.get()
    assert (msg.topic, msg.payload, msg.qos) == (topic, b"from 3.1.1", 2)
    assert no_v5_properties(msg)
    pub.stop()
    sub.stop()


def test_v5_retained_message_read_by_v311_and_v311_retained_read_by_v5(broker):
    base = uid("v5/retx")
    five = client(broker, V5)
    old = client(broker, V311)
    five.publish(base + "/by5", "retained by 5.0", qos=1, retain=True, properties=PROPS)
    old.publish(base + "/by311", "retained by 3.1.1", qos=1, retain=True)
    late_old = client(broker, V311)
    late_old.subscribe(base + "/by5", 1)
    msg = late_old.get()
    assert (msg.payload, msg.retain) == (b"retained by 5.0", True)
    late_five = client(broker, V5)
    late_five.subscribe(base + "/by311", 1)
    msg = late_five.get()
    assert (msg.payload, msg.retain) == (b"retained by 3.1.1", True)
    assert no_v5_properties(msg)
    # And the 5.0 one keeps its properties for a 5.0 reader.
    late_five.subscribe(base + "/by5", 1)
    msg = late_five.get()
    assert (msg.payload, msg.retain, msg.properties.ContentType) == (b"retained by 5.0", True, "text/plain")
    assert msg.properties.UserProperty == PROPS["UserProperty"]
    for c, t in ((five, base + "/by5"), (old, base + "/by311")):
        c.publish(t, b"", qos=1, retain=True)
    for c in (five, old, late_old, late_five):
        c.stop()


def test_v311_will_reaches_v5_subscriber(broker):
    topic = uid("v5/will311")
    watcher = client(broker, V5)
    watcher.subscribe(topic, 1)
    dying = client(broker, V311, will={"topic": topic, "payload": "3.1.1 client died", "qos": 1})
    dying.kill_socket()
    msg = watcher.get()
    assert (msg.topic, msg.payload, msg.qos) == (topic, b"3.1.1 client died", 1)
    watcher.stop()


# ---- mosquitto_pub / mosquitto_sub -V 5 --------------------------------------------------------

CLI_PROPS = ["-D", "publish", "user-property", "k", "v", "-D", "publish", "user-property", "k", "w",
             "-D", "publish", "content-type", "text/plain", "-D", "publish", "correlation-data", "c1",
             "-D", "publish", "response-topic", "reply/here", "-D", "publish", "payload-format-indicator", "1",
             "-D", "publish", "message-expiry-interval", "90"]
# topic | payload | content type | correlation data | message expiry | payload format | response topic | user props
CLI_FORMAT = ["-F", "%t|%p|%C|%D|%E|%F|%R|%P"]


def check_cli_line(line, topic, payload):
    t, p, ctype, corr, expiry, pfi, resp, users = line.split("|")
    assert (t, p, ctype, corr, pfi, resp, users) == (topic, payload, "text/plain", "c1", "1", "reply/here", "k:v k:w")
    assert 0 < int(expiry) <= 90


def test_v5_mosquitto_pub_to_mosquitto_sub_with_properties(broker):
    topic = uid("v5/cli")
    proc = mosquitto_sub_start(broker, topic, qos=1, version="5", extra=CLI_FORMAT)
    lines = publish_until_received(
        proc, lambda: mosquitto_pub(broker, topic, "cli five", qos=1, version="5", extra=CLI_PROPS))
    check_cli_line(lines[0], topic, "cli five")


def test_v5_mosquitto_pub_to_paho_with_properties(broker):
    topic = uid("v5/cli2paho")
    sub = client(broker, V5)
    sub.subscribe(topic, 1)
    mosquitto_pub(broker, topic, "cli to paho", qos=1, version="5", extra=CLI_PROPS)
    msg = sub.get()
    assert msg.payload == b"cli to paho"
    p = msg.properties
    assert (p.ContentType, p.CorrelationData, p.ResponseTopic, p.PayloadFormatIndicator) == \
        ("text/plain", b"c1", "reply/here", 1)
    assert p.UserProperty == [("k", "v"), ("k", "w")]
    assert 0 < p.MessageExpiryInterval <= 90
    sub.stop()


def test_v5_paho_to_mosquitto_sub_with_properties(broker):
    topic = uid("v5/paho2cli")
    pub = client(broker, V5)
    proc = mosquitto_sub_start(broker, topic, qos=1, version="5", extra=CLI_FORMAT)
    lines = publish_until_received(proc, lambda: pub.publish(topic, "paho to cli", qos=1, properties=PROPS))
    check_cli_line(lines[0], topic, "paho to cli")
    pub.stop()


def test_v5_mosquitto_sub_session_expiry_keeps_queued_message(broker):
    """mosquitto_sub -V 5 -c -x 60 keeps its session: a message published while it is away arrives."""
    topic = uid("v5/clisess")
    cid = uid("clisub")
    sess = ["-c", "-x", "60", "-i", cid]
    first = mosquitto_sub_start(broker, topic, qos=1, version="5", extra=sess + ["-E"])  # exits on SUBACK
    out, err = first.communicate(timeout=15)
    assert first.returncode == 0 and out == "", err
    mosquitto_pub(broker, topic, "while away", qos=1, version="5")
    again = mosquitto_sub_start(broker, topic, qos=1, version="5", extra=sess)
    out, err = again.communicate(timeout=15)
    assert again.returncode == 0, err
    assert out.splitlines() == [f"{topic} while away"]
    # End the session.
    Paho(broker, client_id=cid, protocol=V5, clean_session=True).start().stop()
