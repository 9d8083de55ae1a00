"""The soak's MQTT clients (scripts/soak.py): paho-mqtt 2.x clients as the day's devices and
services use them, the shared stop flag and the counters every part adds to."""

import os
import sys
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker_proc import Counter  # noqa: E402

HOST = "127.0.0.1"
STOP = threading.Event()
STATS = {k: Counter() for k in (
    "connects", "clean_disconnects", "killed", "devices_killed", "takeovers", "churn", "device_publishes",
    "retained_updates", "wills_seen", "ha_messages", "slow_messages", "connect_errors")}


def new_client(cid, clean=True, v5=False):
    if v5:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean,
                        protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    return c


def connect(c, port, clean=True, v5=False, keepalive=30):
    if v5:
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 3600
        c.connect(HOST, port, keepalive=keepalive, clean_start=clean, properties=props)
    else:
        c.connect(HOST, port, keepalive=keepalive)
    STATS["connects"].add()


def pump(c, seconds):
    """Run a manually driven client's network loop for `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not STOP.is_set():
        c.loop(timeout=0.05)


def kill(c):
    """Close the socket without DISCONNECT, as a device losing power does."""
    s = c.socket()
    if s is not None:
        s.close()
    STATS["killed"].add()
