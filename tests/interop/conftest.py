"""Interop fixtures: where the broker under test is, and starting one if none is given.

Set MQTT_HOST/MQTT_PORT to test a running broker (and MQTT_WS_PORT for its MQTT-over-WebSocket
port, default 9001). Without MQTT_PORT a broker process is started for the session by
`start_broker_process`, with its HTTP listener on another free port.

The MQTT 5.0 tests (test_v5*.py, `-k v5`) were validated against Mosquitto 2.0 as the reference:
INTEROP_REFERENCE=mosquitto makes the few whose spec behaviour Mosquitto lacks skip themselves (the
reason says how it differs). Mosquitto 2.0.11's websockets listener ignores its bind address (it
listens on all interfaces), so run it in a private network namespace, e.g.
  unshare -n sh -c 'ip link set lo up; mosquitto -c ref.conf & sleep 0.5;
    INTEROP_REFERENCE=mosquitto MQTT_PORT=18830 MQTT_WS_PORT=19001 python3 -m pytest -q tests/interop -k v5'
with ref.conf: `listener 18830 127.0.0.1`, `allow_anonymous true`, `listener 19001 127.0.0.1`,
`protocol websockets`.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def courtier_command(port):
    """The broker under test: Courtier's release binary (`make test` sets COURTIER_BIN)."""
    binary = os.environ.get("COURTIER_BIN") or os.path.join(REPO, "target", "debug", "courtier")
    if not os.path.exists(binary):
        pytest.fail(f"courtier binary not found at {binary} (cargo build)")
    data_dir = tempfile.mkdtemp(prefix="courtier-interop-")
    return [binary, "-p", str(port), "--data-dir", data_dir]


# ================================================================================================
# THE BROKER UNDER TEST: Courtier. (Validated first against the reference broker Mosquitto:
# `MQTT_PORT` lets the suite run against any broker already listening.)
# ================================================================================================
def start_broker_process(port, http_port):
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"), COURTIER__HTTP__PORT=str(http_port))
    return subprocess.Popen(courtier_command(port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
# ================================================================================================


def wait_for_listener(host, port, proc=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"no broker listening on {host}:{port}")


_http_port = {}


@pytest.fixture(scope="session")
def broker():
    """(host, port) of the broker under test."""
    if os.environ.get("MQTT_PORT"):
        host = os.environ.get("MQTT_HOST", "127.0.0.1")
        port = int(os.environ["MQTT_PORT"])
        _http_port["port"] = int(os.environ.get("MQTT_WS_PORT", "9001"))
        wait_for_listener(host, port)
        yield host, port
        return
    host, port = "127.0.0.1", free_port()
    _http_port["port"] = free_port()
    proc = start_broker_process(port, _http_port["port"])
    try:
        wait_for_listener(host, port, proc)
        wait_for_listener(host, _http_port["port"], proc)
        yield host, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def http_broker(broker):
    """(host, port) of the broker's HTTP listener: MQTT over WebSocket on /mqtt, /metrics."""
    return broker[0], _http_port["port"]
