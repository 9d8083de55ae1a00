"""Small helpers around paho-mqtt 2.x and the mosquitto_pub/mosquitto_sub command-line clients."""

import queue
import shutil
import subprocess
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest

TIMEOUT = 10


def uid(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Paho:
    """A paho client running its network loop in a thread; received messages go to a queue."""

    def __init__(self, broker, client_id=None, clean_session=True, will=None, keepalive=60, protocol=mqtt.MQTTv311,
                 websocket_path=None):
        """With `websocket_path`, `broker` is the HTTP listener and paho speaks MQTT over WebSocket."""
        self.host, self.port = broker
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or uid("paho"),
            clean_session=clean_session,
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
        if will:
            self.client.will_set(**will)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda c, u, msg: self.messages.put(msg)
        self.client.on_subscribe = self._on_subscribe
        self.keepalive = keepalive

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.session_present = flags.session_present
        self.reason_code = reason_code
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.granted = [rc.value for rc in reason_codes]
        self.subscribed.set()

    def start(self):
        self.client.connect(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        assert self.connected.wait(TIMEOUT), "no CONNACK"
        assert not self.reason_code.is_failure, f"CONNACK {self.reason_code}"
        return self

    def subscribe(self, topic, qos=0):
        self.subscribed.clear()
        self.client.subscribe(topic, qos)
        assert self.subscribed.wait(TIMEOUT), "no SUBACK"
        return self.granted

    def publish(self, topic, payload, qos=0, retain=False):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(TIMEOUT)
        assert info.is_published()

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

    def stop(self):
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


def mosquitto_pub(broker, topic, message, qos=0, retain=False, extra=()):
    require_cli()
    host, port = broker
    cmd = ["mosquitto_pub", "-h", host, "-p", str(port), "-V", "mqttv311", "-t", topic, "-q", str(qos)]
    cmd += ["-n"] if message is None else ["-m", message]
    if retain:
        cmd.append("-r")
    subprocess.run(cmd + list(extra), check=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def mosquitto_sub_start(broker, topic, qos=0, count=1, extra=()):
    """Start mosquitto_sub printing `topic payload` for `count` messages, then exiting."""
    require_cli()
    host, port = broker
    cmd = ["mosquitto_sub", "-h", host, "-p", str(port), "-V", "mqttv311", "-t", topic, "-q", str(qos),
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
