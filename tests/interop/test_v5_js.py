"""MQTT 5.0 with JavaScript clients: MQTT.js (protocolVersion 5) in Node over TCP and WebSocket, and
Node-RED's mqtt nodes with the broker config node set to MQTT 5.0 (js/nodered_v5.mjs: an embedded
runtime, no editor, no HTTP listener; ~1 s to start)."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from helpers import Paho, uid
from test_websocket import JS, run_node


def test_v5_mqttjs_node_tcp(broker):
    url = f"mqtt://{broker[0]}:{broker[1]}"
    run_node("mqttjs_v5.mjs", url, url)


def test_v5_mqttjs_node_websocket_subscriber(broker, http_broker):
    """The same checks with the 5.0 subscriber on MQTT over WebSocket (the publisher on TCP)."""
    run_node("mqttjs_v5.mjs", f"ws://{http_broker[0]}:{http_broker[1]}/mqtt", f"mqtt://{broker[0]}:{broker[1]}")


def start_node_red(broker, prefix, user_dir):
    if not shutil.which("node"):
        pytest.fail("node is required (Node 20)")
    if not os.path.isdir(os.path.join(JS, "node_modules", "node-red")):
        pytest.fail("tests/interop/js/node_modules/node-red missing: run scripts/install-prereqs.sh test")
    proc = subprocess.Popen(["node", os.path.join(JS, "nodered_v5.mjs"), broker[0], str(broker[1]), prefix, user_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + 20
    while not seen or seen[-1].strip() != "ready":  # Node-RED logs to stdout too
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            proc.kill()
            pytest.fail(f"Node-RED did not start within 20 s: {''.join(seen)}{proc.stderr.read()}")
    return proc


def test_v5_node_red_mqtt_nodes_round_trip_with_user_properties(broker):
    """paho (5.0) -> broker -> Node-RED `mqtt in` (5.0) -> function -> `mqtt out` (5.0) -> broker ->
    paho: Node-RED saw the user property and content type sent, and its reply carries its own."""
    prefix = uid("v5/nodered")
    user_dir = tempfile.mkdtemp(prefix="interop-nodered-")
    client = Paho(broker, protocol=mqtt.MQTTv5).start()
    client.subscribe(prefix + "/out", 1)
    proc = start_node_red(broker, prefix, user_dir)
    try:
        # The flow's subscription is made some time after "ready": publish until the echo comes.
        deadline = time.monotonic() + 10
        while True:
            client.publish(prefix + "/in", "hello node-red", qos=1,
                           properties={"UserProperty": [("from", "paho"), ("n", "1")], "ContentType": "text/plain"})
            try:
                msg = client.messages.get(timeout=0.25)
                break
            except queue.Empty:
                assert time.monotonic() < deadline, "no reply from the Node-RED flow within 10 s"
        echo = json.loads(msg.payload)
        assert echo == {"got": "hello node-red", "userProperties": {"from": "paho", "n": "1"},
                        "contentType": "text/plain"}
        assert msg.properties.UserProperty == [("via", "node-red")]
        assert msg.properties.ContentType == "application/json"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        client.stop()
        shutil.rmtree(user_dir, ignore_errors=True)
