"""MQTT over WebSocket and /metrics with real clients (issue #4): paho-mqtt with
transport="websockets", MQTT.js over ws:// in Node, a headless Chromium page using the MQTT.js
browser bundle, and the Prometheus client library's parsers on /metrics."""

import os
import shutil
import subprocess
import urllib.request

import paho.mqtt.client as mqtt
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from helpers import Paho, uid

JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@pytest.mark.parametrize("path", ["/mqtt", "/"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_paho_websocket_to_paho_tcp_and_back(broker, http_broker, path, qos):
    topic = uid("interop/ws")
    ws = Paho(http_broker, websocket_path=path).start()
    tcp = Paho(broker).start()
    assert ws.subscribe(topic + "/to-ws", qos) == [qos]
    assert tcp.subscribe(topic + "/to-tcp", qos) == [qos]
    tcp.publish(topic + "/to-ws", "over tcp", qos=qos)
    msg = ws.get()
    assert (msg.topic, msg.payload, msg.qos) == (topic + "/to-ws", b"over tcp", qos)
    ws.publish(topic + "/to-tcp", b"\x00binary\xff" * 5000, qos=qos)
    msg = tcp.get()
    assert (msg.payload, msg.qos) == (b"\x00binary\xff" * 5000, qos)
    ws.stop()
    tcp.stop()


def test_paho_websocket_mqtt31(http_broker):
    c = Paho(http_broker, websocket_path="/mqtt", protocol=mqtt.MQTTv31).start()
    assert c.subscribe(uid("interop/ws31"), 1) == [1]
    c.stop()


def run_node(script, *args, timeout=60):
    if not shutil.which("node"):
        pytest.fail("node is required (Node 20)")
    if not os.path.isdir(os.path.join(JS, "node_modules", "mqtt")):
        pytest.fail("tests/interop/js/node_modules missing: run scripts/install-prereqs.sh test")
    proc = subprocess.run(["node", os.path.join(JS, script), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", f"{script}: {proc.stdout}\n{proc.stderr}"


def test_mqttjs_in_node_over_websocket(broker, http_broker):
    run_node("mqttjs_node.mjs", f"ws://{http_broker[0]}:{http_broker[1]}/mqtt", f"mqtt://{broker[0]}:{broker[1]}")


def test_headless_chromium_page_subscribes_and_publishes(broker, http_broker):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-prereqs.sh test (Debian package chromium)")
    run_node("browser.mjs", f"ws://{http_broker[0]}:{http_broker[1]}/mqtt", f"mqtt://{broker[0]}:{broker[1]}")


OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def scrape(http_broker, accept=OPENMETRICS):
    """/metrics as Prometheus asks for it (OpenMetrics), or with accept=None as other scrapers
    do (the text format 0.0.4)."""
    url = f"http://{http_broker[0]}:{http_broker[1]}/metrics"
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200
        return r.read().decode()


def samples(text):
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parse_openmetrics(text) for s in family.samples}


def test_metrics_parse_with_the_prometheus_parsers_and_count_websocket_traffic(broker, http_broker):
    before = samples(scrape(http_broker))
    topic = uid("interop/metrics")
    ws = Paho(http_broker, websocket_path="/mqtt").start()
    ws.subscribe(topic, 1)
    for _ in range(4):
        ws.publish(topic, "12345678", qos=1)
    for _ in range(4):
        ws.get()
    text = scrape(http_broker)
    ws.stop()
    after = samples(text)  # the strict OpenMetrics parser (it requires "# EOF")
    # and the classic parser on the text format 0.0.4
    families = {f.name: f.type for f in parse_prometheus(scrape(http_broker, accept=None))}
    assert families["courtier_connections"] == "counter"
    assert families["process_resident_memory_bytes"] == "gauge"

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0)

    assert delta("courtier_connections_total", transport="websocket") == 1
    assert delta("courtier_publish_messages_received_total", qos="1") == 4
    assert delta("courtier_publish_payload_bytes_received_total", qos="1") == 32
    assert delta("courtier_publish_messages_sent_total", qos="1") == 4
    assert after[("courtier_connections_open", (("transport", "websocket"),))] >= 1


def test_health_endpoints(http_broker):
    for path, body in [("/healthz", b'"status":"ok"'), ("/readyz", b'"status":"ready"')]:
        with urllib.request.urlopen(f"http://{http_broker[0]}:{http_broker[1]}{path}", timeout=5) as r:
            assert r.status == 200 and body in r.read()
