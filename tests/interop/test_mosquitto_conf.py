"""`courtier --mosquitto-conf` with mosquitto_pub/mosquitto_sub: the Home Assistant add-on's
config after migration (tests/fixtures/mosquitto/ha-addon-migrated.conf), with the password
file written by the real mosquitto_passwd. Starts its own Courtier, so it does not run against
a broker given by MQTT_PORT.
"""

import os
import subprocess
import tempfile

import pytest

from conftest import REPO, free_port, wait_for_listener
from helpers import require_cli, uid, TIMEOUT

FIXTURES = os.path.join(REPO, "tests", "fixtures")
ACL = "user alice\ntopic readwrite home/#\nuser bob\ntopic read home/#\n"

pytestmark = pytest.mark.skipif(bool(os.environ.get("MQTT_PORT")), reason="starts its own broker")


@pytest.fixture
def addon():
    """(port, directory) of a Courtier on the migrated add-on config."""
    # Absolute: the broker runs in its own directory (persistence_location is relative to it).
    binary = os.path.abspath(os.environ.get("COURTIER_BIN") or os.path.join(REPO, "target", "debug", "courtier"))
    d = tempfile.mkdtemp(prefix="courtier-mosquitto-conf-")
    with open(os.path.join(FIXTURES, "mosquitto_passwd", "passwd")) as src:
        open(os.path.join(d, "passwd"), "w").write(src.read())
    open(os.path.join(d, "acl"), "w").write(ACL)
    port, ws = free_port(), free_port()
    text = open(os.path.join(FIXTURES, "mosquitto", "ha-addon-migrated.conf")).read()
    for k, v in [("MQTT_PORT", str(port)), ("WS_PORT", str(ws)), ("DATA", os.path.join(d, "data")),
                 ("PASSWD", os.path.join(d, "passwd")), ("ACL", os.path.join(d, "acl"))]:
        text = text.replace(k, v)
    conf = os.path.join(d, "mosquitto.conf")
    open(conf, "w").write(text)
    proc = subprocess.Popen([binary, "--mosquitto-conf", conf], cwd=d, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, RUST_LOG="warn"))
    wait_for_listener("127.0.0.1", port, proc)
    yield port, d
    proc.terminate()
    proc.wait(timeout=10)


def pub(port, user, password, topic, retain=False):
    require_cli()
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m", "on", "-q", "1"]
    if retain:
        cmd.append("-r")
    if user:
        cmd += ["-u", user, "-P", password]
    return subprocess.run(cmd, timeout=TIMEOUT, stdin=subprocess.DEVNULL, capture_output=True, text=True)


def test_passwords_and_acl_from_the_mosquitto_conf(addon):
    port, _ = addon
    topic = f"home/{uid('mc')}"
    assert pub(port, None, None, topic).returncode != 0, "anonymous refused (Mosquitto 2 default)"
    assert pub(port, "alice", "wrong", topic).returncode != 0
    assert pub(port, "alice", "alice-secret", topic, retain=True).returncode == 0
    got = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-C", "1",
                          "-W", "5", "-u", "bob", "-P", "b0b pass"],
                         timeout=TIMEOUT, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert got.stdout.strip() == "on", got


def test_the_store_is_in_persistence_location_courtier(addon):
    port, d = addon
    assert pub(port, "alice", "alice-secret", f"home/{uid('mc')}", retain=True).returncode == 0
    assert os.path.isdir(os.path.join(d, "data", "courtier", "store"))
