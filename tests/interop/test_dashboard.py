"""The dashboard (/dashboard) in headless Chromium (issue #15 item 4): what a user sees with a
real MQTT.js client connected, a disconnect from the page, and a phone-sized screen. The
screenshots are kept in target/test-artifacts/dashboard/."""

import os

import pytest

from test_websocket import CHROMIUM, run_node

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHOTS = os.path.join(ROOT, "target", "test-artifacts", "dashboard")


def test_dashboard_shows_clients_topics_and_disconnects_in_chromium(broker, http_broker):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: run scripts/install-prereqs.sh test (Debian package chromium)")
    run_node("dashboard.mjs", f"http://{http_broker[0]}:{http_broker[1]}", f"mqtt://{broker[0]}:{broker[1]}",
             SHOTS, timeout=90)
    for name in ["overview", "clients", "topics", "trace", "phone-clients"]:
        assert os.path.getsize(os.path.join(SHOTS, f"{name}.png")) > 1000
