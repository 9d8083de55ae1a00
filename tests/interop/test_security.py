"""[security] with mosquitto_pub/mosquitto_sub -u/-P: a password file written by the real
mosquitto_passwd (tests/fixtures/mosquitto_passwd), an ACL file, and reload on SIGHUP.

Each test starts its own Courtier with the files (not the session broker), so these tests do
not run against a broker given by MQTT_PORT.
"""

import os
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import REPO, courtier_command, free_port, wait_for_listener
from helpers import publish_until_received, require_cli, uid, TIMEOUT

FIXTURE = os.path.join(REPO, "tests", "fixtures", "mosquitto_passwd", "passwd")
ACL = """topic read public/#
user alice
topic readwrite home/#
topic deny home/secret
"""

pytestmark = pytest.mark.skipif(bool(os.environ.get("MQTT_PORT")), reason="starts its own broker")


@pytest.fixture
def secured():
    """(host, port, process, directory) of a Courtier with anonymous off, the fixture's
    password file and ACL."""
    d = tempfile.mkdtemp(prefix="courtier-security-")
    pw = os.path.join(d, "passwd")
    with open(FIXTURE) as src, open(pw, "w") as dst:
        dst.write(src.read())
    acl = os.path.join(d, "acl")
    with open(acl, "w") as f:
        f.write(ACL)
    port = free_port()
    env = dict(os.environ, RUST_LOG="info", COURTIER__HTTP__PORT=str(free_port()),
               COURTIER__SECURITY__ALLOW_ANONYMOUS="false",
               COURTIER__SECURITY__PASSWORD_FILE=f'"{pw}"', COURTIER__SECURITY__ACL_FILE=f'"{acl}"',
               COURTIER__PERSISTENCE__ENABLED="false")
    proc = subprocess.Popen(courtier_command(port), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    wait_for_listener("127.0.0.1", port, proc)
    yield "127.0.0.1", port, proc, d
    proc.terminate()
    proc.wait(timeout=10)


def pub(b, user, password, topic="home/x", version="mqttv311"):
    """mosquitto_pub's exit status: 0 when connected and published."""
    require_cli()
    cmd = ["mosquitto_pub", "-h", b[0], "-p", str(b[1]), "-V", version, "-t", topic, "-m", "m", "-q", "1"]
    if user is not None:
        cmd += ["-u", user, "-P", password]
    return subprocess.run(cmd, timeout=TIMEOUT, stdin=subprocess.DEVNULL, capture_output=True, text=True)


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_right_password_connects_wrong_password_and_anonymous_are_refused(secured, version):
    assert pub(secured, "alice", "alice-secret", version=version).returncode == 0
    assert pub(secured, "carol", "carol6", version=version).returncode == 0, "$6$ entry"
    wrong = pub(secured, "alice", "wrong", version=version)
    assert wrong.returncode != 0
    assert "not authori" in wrong.stderr.lower() or "bad user name or password" in wrong.stderr.lower(), wrong.stderr
    assert pub(secured, None, None, version=version).returncode != 0


def test_acl_lets_alice_read_home_but_not_the_denied_topic(secured):
    topic = "home/" + uid("t")
    host, port = secured[:2]
    sub = subprocess.Popen(["mosquitto_sub", "-h", host, "-p", str(port), "-u", "alice", "-P", "alice-secret",
                            "-t", "home/#", "-C", "1", "-W", str(TIMEOUT), "-v"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    def send():
        pub(secured, "alice", "alice-secret", topic="home/secret")
        pub(secured, "alice", "alice-secret", topic=topic)

    lines = publish_until_received(sub, send)
    assert lines == [f"{topic} m"], "home/secret is never delivered"


def test_sighup_adds_a_user_written_by_mosquitto_passwd(secured):
    import shutil
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.skip("mosquitto_passwd not installed")
    assert pub(secured, "grace", "g-pw").returncode != 0
    subprocess.run([tool, "-b", os.path.join(secured[3], "passwd"), "grace", "g-pw"], check=True)
    secured[2].send_signal(signal.SIGHUP)
    deadline = time.monotonic() + TIMEOUT
    while pub(secured, "grace", "g-pw").returncode != 0:
        assert time.monotonic() < deadline, "the new user was not accepted after SIGHUP"
        time.sleep(0.1)
