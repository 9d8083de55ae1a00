"""Runtime traces (issue #15) with real clients: a trace started over the HTTP API, read live as
Server-Sent Events by Python's http.client, while paho-mqtt subscribes and mosquitto_pub
publishes; then the kept records as JSON Lines, DELETE, and `courtier ctl traces`."""

import http.client
import json
import os
import subprocess
import time

import pytest

from conftest import REPO
from helpers import Paho, mosquitto_pub, reference, require_cli, uid


def api(http_broker, method, path, body=None):
    ready(http_broker)
    conn = http.client.HTTPConnection(*http_broker, timeout=10)
    conn.request(method, path, body=None if body is None else json.dumps(body),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read().decode()
    conn.close()
    return resp.status, data


def ready(http_broker, timeout=10.0):
    """Wait for /readyz: the HTTP listener accepts before the broker is ready, and the API answers
    503 until then (the session's broker may have just started)."""
    deadline = time.monotonic() + timeout
    while True:
        conn = http.client.HTTPConnection(*http_broker, timeout=5)
        conn.request("GET", "/readyz")
        status = conn.getresponse().status
        conn.close()
        if status == 200:
            return
        assert time.monotonic() < deadline, "the broker never became ready"
        time.sleep(0.02)


class Stream:
    """GET /api/v1/traces/{id}/stream: events as (name, data) in order."""

    def __init__(self, http_broker, trace_id):
        self.conn = http.client.HTTPConnection(*http_broker, timeout=10)
        self.conn.request("GET", f"/api/v1/traces/{trace_id}/stream")
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.getheader("Content-Type").startswith("text/event-stream")
        name, data = self.next()
        assert (name, data["id"]) == ("trace", trace_id)

    def next(self):
        name, data = "message", ""
        while True:
            line = self.resp.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\r\n")
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data += line[len("data: "):]
            elif line == "" and data:
                return name, json.loads(data)

    def records_until(self, hop):
        seen = []
        while True:
            name, data = self.next()
            assert name == "message", (name, data, seen)
            seen.append(data)
            if data["hop"] == hop:
                return seen

    def close(self):
        self.conn.close()


@pytest.fixture(autouse=True)
def courtier_only():
    if reference():
        pytest.skip("runtime traces are Courtier's own API")


def test_paho_subscriber_and_mosquitto_pub_traced_hop_by_hop(broker, http_broker):
    require_cli()
    topic = uid("interop/trace")
    status, body = api(http_broker, "POST", "/api/v1/traces", {"topic": topic + "/#", "duration_secs": 60})
    assert status == 201, body
    trace_id = json.loads(body)["id"]
    stream = Stream(http_broker, trace_id)
    lamp_id = uid("lamp")
    lamp = Paho(broker, client_id=lamp_id).start()
    assert lamp.subscribe(topic + "/#", 1) == [1]
    mosquitto_pub(broker, topic + "/hall/light", "on", qos=1, extra=("-i", "trace-switch"))
    assert lamp.get().payload == b"on"
    records = stream.records_until("acked")
    assert [(r["hop"], r["client"]) for r in records] == [
        ("received", "trace-switch"), ("matched", "trace-switch"), ("queued", lamp_id),
        ("sent", lamp_id), ("acked", lamp_id)]
    assert len({r["msg"] for r in records}) == 1
    assert all(r["topic"] == topic + "/hall/light" for r in records)
    assert records[0]["qos"] == 1 and "via=publish" in records[0]["detail"]
    assert all(isinstance(r["time_us"], int) for r in records)

    status, body = api(http_broker, "GET", f"/api/v1/traces/{trace_id}/records")
    assert status == 200
    assert [json.loads(line) for line in body.splitlines()] == records

    status, _ = api(http_broker, "DELETE", f"/api/v1/traces/{trace_id}")
    assert status == 204
    assert stream.next() == ("end", {"id": trace_id, "reason": "stopped"})
    stream.close()
    lamp.stop()


def test_ctl_lists_the_traces(broker, http_broker):
    binary = os.environ.get("COURTIER_BIN") or os.path.join(REPO, "target", "debug", "courtier")
    url = "http://%s:%d" % http_broker
    status, body = api(http_broker, "POST", "/api/v1/traces", {"client": "ctl-listed"})
    assert status == 201, body
    trace_id = json.loads(body)["id"]
    out = subprocess.run([binary, "ctl", "--url", url, "traces"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    row = [line for line in out.stdout.splitlines() if "ctl-listed" in line]
    assert row and row[0].split()[:4] == [str(trace_id), "client", "ctl-listed", "active"], out.stdout
    assert api(http_broker, "DELETE", f"/api/v1/traces/{trace_id}")[0] == 204
