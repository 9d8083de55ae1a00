"""Crash safety in a loop, short (issue #19, item 8): scripts/crash_loop.py for 3 rounds of
kill -9 under QoS 1/2 load with paho-mqtt clients; the 20-round run is scripts/crash-loop.sh
(docs/RELIABILITY.md). It starts brokers of its own (COURTIER_BIN), so it needs no fixture."""

import os
import subprocess
import sys

import pytest

from conftest import REPO


def test_three_kills_lose_nothing_acknowledged_and_repeat_nothing_unmarked():
    if os.environ.get("MQTT_PORT"):
        pytest.skip("kills the broker: runs only against a broker it starts itself")
    binary = os.environ.get("COURTIER_BIN") or os.path.join(REPO, "target", "debug", "courtier")
    run = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "crash_loop.py"), "--rounds", "3",
                          "--bin", binary, "--max-up", "1.5"],
                         capture_output=True, text=True, timeout=240)
    print(run.stdout, run.stderr)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "crash loop: ok" in run.stdout
