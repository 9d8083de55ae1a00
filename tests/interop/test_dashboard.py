"""The dashboard (/dashboard) in headless Chromium (issue #15 item 4): what a user sees with a
real MQTT.js client connected, a disconnect from the page, a phone-sized screen, and the live
trace view against real records (hops with times, a denial in red). The
screenshots are kept in target/test-artifacts/dashboard/."""

import os
import shutil

import pytest

from test_runtime_trace import ready
from test_websocket import CHROMIUM, run_node

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.path.join(ROOT, "target", "test-artifacts", "dashboard")


def test_dashboard_shows_clients_topics_and_disconnects_in_chromium(broker, http_broker):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-prereqs.sh test (Debian package chromium)")
    ready(http_broker)
    run_node("dashboard.mjs", f"http://{http_broker[0]}:{http_broker[1]}", f"mqtt://{broker[0]}:{broker[1]}",
             SHOTS, timeout=90)
    for name in ["overview", "clients", "topics", "trace", "phone-clients"]:
        assert os.path.getsize(os.path.join(SHOTS, f"{name}.png")) > 1000


def test_dashboard_live_trace_shows_hops_with_times_and_a_denial_in_red(broker, http_broker):
    """A trace started from the page; mosquitto_pub publishes one message that is delivered and
    one denied (into $SYS): hops with times, the denial red with its reason, nothing else red."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-prereqs.sh test (Debian package chromium)")
    if not shutil.which("mosquitto_pub"):
        pytest.fail("mosquitto_pub missing: run scripts/install-prereqs.sh test (mosquitto-clients)")
    ready(http_broker)
    run_node("dashboard_trace.mjs", f"http://{http_broker[0]}:{http_broker[1]}", f"mqtt://{broker[0]}:{broker[1]}",
             SHOTS, timeout=90)
    for name in ["trace-live", "phone-trace-live"]:
        assert os.path.getsize(os.path.join(SHOTS, f"{name}.png")) > 1000
