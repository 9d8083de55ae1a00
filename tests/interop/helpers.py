"""Small helpers around paho-mqtt 2.x and the mosquitto_pub/mosquitto_sub command-line clients, and
(for MQTT 5.0 checks no real client can make, e.g. an invalid filter or protocol level) a raw socket."""

import os
import queue
import shutil
import socket
import struct
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TIMEOUT = 10


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Paho:
    """A paho client running its network loop in a thread; received messages go to a queue."""

    def __init__(self, broker, client_id=None, clean_session=True, will=None, keepalive=60, protocol=mqtt.MQTTv311,
                 websocket_path=None, properties=None):
        """With `websocket_path`, `broker` is the HTTP listener and paho speaks MQTT over WebSocket.
        With protocol=MQTTv5, `clean_session` is sent as Clean Start and `properties` (a dict of paho
        property names, e.g. {"SessionExpiryInterval": 300}) go in the CONNECT."""
        self.host, self.port = broker
        self.v5 = protocol == mqtt.MQTTv5
        self.clean_start = clean_session
        self.connect_properties = props(PacketTypes.CONNECT, properties) if properties else None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id="" if client_id == "" else (client_id or uid("paho")),
            clean_session=None if self.v5 else clean_session,
            protocol=protocol,
            transport="websockets" if websocket_path else "tcp",
        )
        if websocket_path:
            self.client.ws_set_options(path=websocket_path)
        self.messages = queue.Queue()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.session_present = None
        self.granted = None
        self.connack_properties = None
        self.unsubscribed = threading.Event()
        self.unsub_codes = None
        self.publish_codes = {}
        self.disconnected = threading.Event()
        self.disconnect_reason = None
        if will:
            self.client.will_set(**will)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)
        self.client.on_subscribe = self._on_subscribe
        self.client.on_unsubscribe = self._on_unsubscribe
        self.client.on_publish = lambda c, u, mid, rc, p: self.publish_codes.__setitem__(mid, rc)
        self.client.on_disconnect = self._on_disconnect
        self.keepalive = keepalive

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.session_present = flags.session_present
        self.reason_code = reason_code
        self.connack_properties = properties
        self.connected.set()

    def _on_unsubscribe(self, client, userdata, mid, reason_codes, properties):
        self.unsub_codes = [rc.value for rc in reason_codes]
        self.unsubscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_reason = reason_code
        self.disconnected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.granted = [rc.value for rc in reason_codes]
        self.subscribed.set()

    def start(self):
        if self.v5:
            self.client.connect(self.host, self.port, keepalive=self.keepalive, clean_start=self.clean_start,
                                properties=self.connect_properties)
        else:
            self.client.connect(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert not self.reason_code.is_failure, f"CONNACK {self.reason_code}"
        return self

    def subscribe(self, topic, qos=0):
        """`topic` may be a list of (filter, qos) pairs: one SUBSCRIBE, one reason code each."""
        self.subscribed.clear()
        if isinstance(topic, list):
            self.client.subscribe(topic)
        else:
            self.client.subscribe(topic, qos)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"
        return self.granted

    def unsubscribe(self, *topics):
        """The UNSUBACK's reason codes (MQTT 5.0), one per filter."""
        self.unsubscribed.clear()
        self.client.unsubscribe(list(topics))
        assert self.unsubscribed.wait(TIMEOUT), "no UNSUBACK"
        return self.unsub_codes

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        """Returns the reason code of the PUBACK/PUBREC (MQTT 5.0; Success for QoS 0)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain,
                                   properties=props(PacketTypes.PUBLISH, properties) if properties else None)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()
        return self.publish_codes.get(info.mid)

    def get(self, timeout=TIMEOUT):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no message within {timeout}s")

    def nothing_for(self, seconds):
        try:
            msg = self.messages.get(timeout=seconds)
        except queue.Empty:
            return
        pytest.fail(f"unexpected message on {msg.topic}: {msg.payload!r}")

    def stop(self, reason_code=None, properties=None):
        """DISCONNECT, with an MQTT 5.0 reason code (an int) and properties if given."""
        if reason_code is not None or properties:
            self.client.disconnect(mqtt.ReasonCode(PacketTypes.DISCONNECT, identifier=reason_code or 0),
                                   props(PacketTypes.DISCONNECT, properties) if properties else None)
        else:
            self.client.disconnect()
        self.client.loop_stop()

    def kill_socket(self):
        """Drop the TCP connection without DISCONNECT (an abrupt client death)."""
        self.client.loop_stop()
        sock = self.client.socket()
        import socket as _s

        try:
            sock.shutdown(_s.SHUT_RDWR)
        except OSError:
            pass
        sock.close()


def require_cli():
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (apt-get install mosquitto-clients)")


def mosquitto_pub(broker, topic, message, qos=0, retain=False, extra=(), version="mqttv311"):
    require_cli()
    host, port = broker
    cmd = ["mosquitto_pub", "-h", host, "-p", str(port), "-V", version, "-t", topic, "-q", str(qos)]
    cmd += ["-n"] if message is None else ["-m", message]
    if retain:
        cmd.append("-r")
    subprocess.run(cmd + list(extra), check=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def mosquitto_sub_start(broker, topic, qos=0, count=1, extra=(), version="mqttv311"):
    """Start mosquitto_sub printing `topic payload` (or `-F` format in `extra`) for `count` messages,
    then exiting."""
    require_cli()
    host, port = broker
    cmd = ["mosquitto_sub", "-h", host, "-p", str(port), "-V", version, "-t", topic, "-q", str(qos),
           "-C", str(count), "-W", str(TIMEOUT), "-v"] + list(extra)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)


def publish_until_received(sub_proc, send, period=0.2, timeout=TIMEOUT):
    """mosquitto_sub gives no sign that it has subscribed: publish until it exits with output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        send()
        try:
            out, err = sub_proc.communicate(timeout=period)
            assert sub_proc.returncode == 0, f"mosquitto_sub failed: {err}"
            return out.splitlines()
        except subprocess.TimeoutExpired:
            continue
    sub_proc.kill()
    pytest.fail("mosquitto_sub received nothing")


def props(packet_type, values):
    """A paho Properties from a dict; UserProperty takes a list of (key, value) pairs."""
    p = Properties(packet_type)
    for name, value in values.items():
        setattr(p, name, value)
    return p


def reference():
    """`INTEROP_REFERENCE=mosquitto` when the suite is validated against Mosquitto 2 rather than
    run against Courtier: tests whose spec behaviour Mosquitto does not have skip themselves."""
    return os.environ.get("INTEROP_REFERENCE", "")


# ---- A raw MQTT connection, for what real clients refuse to send -------------------------------

def varint(n):
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id, level=5, name="MQTT", clean=True, keepalive=30, properties=None):
    """A CONNECT; its variable header has a property list when `level` is 5 or more (`properties`:
    a dict as for `props`, empty if None)."""
    body = utf8(name) + bytes([level, 0x02 if clean else 0]) + struct.pack("!H", keepalive)
    if level >= 5:
        body += props(PacketTypes.CONNECT, properties).pack() if properties else varint(0)
    return packet(0x10, body + utf8(client_id))


def subscribe_packet(packet_id, filters):
    """An MQTT 5.0 SUBSCRIBE of (filter, qos) pairs, without properties."""
    body = struct.pack("!H", packet_id) + varint(0)
    for f, qos in filters:
        body += utf8(f) + bytes([qos])
    return packet(0x82, body)


class Raw:
    """One TCP connection speaking bytes: send packets, read whole packets back."""

    def __init__(self, broker, timeout=5.0):
        self.sock = socket.create_connection(broker, timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read(self):
        """(first byte, body) of the next packet, or None when the broker has closed the connection."""
        try:
            if not self._fill(2):
                return None
            length, mult, i = 0, 1, 1
            while True:
                if not self._fill(i + 1):
                    return None
                digit = self.buf[i]
                length += (digit & 0x7F) * mult
                mult *= 128
                i += 1
                if not digit & 0x80:
                    break
            if not self._fill(i + length):
                return None
        except ConnectionResetError:
            return None
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return first, body

    def closed(self):
        """True if the broker closes the connection (EOF) with nothing more sent, within the timeout."""
        try:
            return self.read() is None
        except TimeoutError:
            return False

    def close(self):
        self.sock.close()


def skip_properties(body, at):
    """The offset after the property list starting at `at`."""
    length, mult = 0, 1
    while True:
        digit = body[at]
        at += 1
        length += (digit & 0x7F) * mult
        mult *= 128
        if not digit & 0x80:
            return at + length
