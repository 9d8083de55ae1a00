"""TLS with real clients: paho-mqtt `tls_set` (server CA; client certificate), mosquitto_pub/sub
`--cafile/--cert/--key`, MQTT.js over `mqtts://` with user name and password, and Chromium over
`wss://` trusting the test CA (an NSS database in a temporary HOME, made with certutil).

The certificates are made at test time with the openssl command (a CA, a server certificate for
localhost and 127.0.0.1, a client certificate "device1"); no key is checked in. One Courtier
runs with four listeners: plain MQTT, MQTT/TLS with passwords, MQTT/TLS requiring client
certificates (`use_identity_as_username`), and WSS.
"""

import os
import shutil
import ssl
import subprocess
import tempfile
import time

import paho.mqtt.client as mqtt
import pytest

from conftest import REPO, courtier_command, free_port, wait_for_listener
from helpers import require_cli, uid, TIMEOUT

FIXTURE = os.path.join(REPO, "tests", "fixtures", "mosquitto_passwd", "passwd")
JS = os.path.join(REPO, "tests", "interop", "js")

pytestmark = pytest.mark.skipif(bool(os.environ.get("MQTT_PORT")), reason="starts its own broker")


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def make_certificates(d):
    """ca.pem, server.pem/server.key (localhost, 127.0.0.1), client.pem/client.key (CN device1)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Courtier Interop Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, subject, ext in [
        ("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "/O=Courtier Tests/CN=device1", "extendedKeyUsage=clientAuth\n"),
    ]:
        with open(os.path.join(d, f"{name}.ext"), "w") as f:
            f.write(ext)
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=d)


@pytest.fixture(scope="module")
def tls_broker():
    """A Courtier with the four listeners; yields a dict of ports, the directory and the log."""
    d = tempfile.mkdtemp(prefix="courtier-tls-")
    make_certificates(d)
    shutil.copy(FIXTURE, os.path.join(d, "passwd"))
    ports = {k: free_port() for k in ("plain", "tls", "certs", "wss")}
    p = lambda name: os.path.join(d, name)
    conf = f"""
[security]
allow_anonymous = true
password_file = "{p('passwd')}"

[[listeners]]
port = {ports['plain']}
bind = "127.0.0.1"

[[listeners]]
port = {ports['tls']}
bind = "127.0.0.1"
certfile = "{p('server.pem')}"
keyfile = "{p('server.key')}"

[[listeners]]
port = {ports['certs']}
bind = "127.0.0.1"
certfile = "{p('server.pem')}"
keyfile = "{p('server.key')}"
cafile = "{p('ca.pem')}"
require_certificate = true
use_identity_as_username = true

[[listeners]]
port = {ports['wss']}
bind = "127.0.0.1"
protocol = "websockets"
certfile = "{p('server.pem')}"
keyfile = "{p('server.key')}"
"""
    os.mkdir(p("conf"))
    with open(p("conf/10-tls.toml"), "w") as f:
        f.write(conf)
    log = open(p("broker.log"), "w")
    env = dict(os.environ, RUST_LOG="info", COURTIER__HTTP__PORT=str(free_port()),
               COURTIER__PERSISTENCE__ENABLED="false")
    proc = subprocess.Popen(courtier_command(free_port()) + ["--config-dir", p("conf")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        for port in ports.values():
            wait_for_listener("127.0.0.1", port, proc)
        yield {"ports": ports, "dir": d, "log": p("broker.log")}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def log_has(b, *parts, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(b["log"]) as f:
            for line in f:
                if all(part in line for part in parts):
                    return line
        time.sleep(0.1)
    return None


def paho_client(b, port, client_id, **tls):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    c.tls_set(ca_certs=os.path.join(b["dir"], "ca.pem"), **tls)
    return c


def connect_code(c, port):
    """The CONNACK reason of a paho connection (a ReasonCode), or the exception it raised."""
    result = {}
    c.on_connect = lambda client, userdata, flags, rc, props: result.setdefault("rc", rc)
    try:
        c.connect("localhost", port, keepalive=30)
    except (ssl.SSLError, OSError) as e:
        return e
    c.loop_start()
    deadline = time.monotonic() + TIMEOUT
    while "rc" not in result and time.monotonic() < deadline:
        time.sleep(0.02)
    return result.get("rc", "no CONNACK")


def round_trip(c, topic):
    """Subscribe and publish on a connected paho client; the payload that comes back."""
    got = []
    c.on_message = lambda client, userdata, msg: got.append(msg.payload)
    c.subscribe(topic, qos=1)
    time.sleep(0.2)
    c.publish(topic, b"over tls", qos=1).wait_for_publish(TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    return got[0] if got else None


def test_paho_tls_set_with_the_server_ca_and_a_password(tls_broker):
    b = tls_broker
    c = paho_client(b, b["ports"]["tls"], uid("paho-tls"))
    c.username_pw_set("alice", "alice-secret")
    rc = connect_code(c, b["ports"]["tls"])
    assert rc == 0, rc
    assert round_trip(c, "tls/paho") == b"over tls"
    c.disconnect()
    c.loop_stop()
    bad = paho_client(b, b["ports"]["tls"], uid("paho-bad"))
    bad.username_pw_set("alice", "wrong")
    rc = connect_code(bad, b["ports"]["tls"])
    assert rc != 0, "a wrong password over TLS is refused"
    bad.loop_stop()


def test_paho_tls_set_with_a_client_certificate_names_the_user(tls_broker):
    b = tls_broker
    cid = uid("paho-cert")
    c = paho_client(b, b["ports"]["certs"], cid, certfile=os.path.join(b["dir"], "client.pem"),
                    keyfile=os.path.join(b["dir"], "client.key"))
    assert connect_code(c, b["ports"]["certs"]) == 0
    assert round_trip(c, "tls/cert") == b"over tls"
    c.disconnect()
    c.loop_stop()
    line = log_has(b, "client connected", cid)
    assert line and 'username="device1"' in line and "transport=tls" in line, line
    # Without a certificate the handshake itself fails (require_certificate).
    nocert = paho_client(b, b["ports"]["certs"], uid("paho-nocert"))
    rc = connect_code(nocert, b["ports"]["certs"])
    assert rc != 0, rc
    nocert.loop_stop()
    assert log_has(b, "TLS handshake from", "failed")


def test_mosquitto_pub_and_sub_with_cafile_cert_and_key(tls_broker):
    require_cli()
    b = tls_broker
    d = b["dir"]
    tls = ["--cafile", os.path.join(d, "ca.pem"), "-h", "localhost"]
    cert = ["--cert", os.path.join(d, "client.pem"), "--key", os.path.join(d, "client.key")]
    sub = subprocess.Popen(["mosquitto_sub", *tls, *cert, "-p", str(b["ports"]["certs"]), "-t", "tls/cli",
                            "-q", "1", "-C", "2", "-W", str(int(TIMEOUT) + 5)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert log_has(b, "client connected", 'username="device1"'), "the subscriber connected"
    time.sleep(0.3)
    # One publisher with a client certificate, one with a password on the other TLS listener.
    subprocess.run(["mosquitto_pub", *tls, *cert, "-p", str(b["ports"]["certs"]), "-t", "tls/cli",
                    "-q", "1", "-m", "from a certificate"], check=True, timeout=TIMEOUT)
    subprocess.run(["mosquitto_pub", *tls, "-p", str(b["ports"]["tls"]), "-u", "alice", "-P", "alice-secret",
                    "-t", "tls/cli", "-q", "1", "-m", "from a password"], check=True, timeout=TIMEOUT)
    out, err = sub.communicate(timeout=TIMEOUT + 10)
    assert sub.returncode == 0, err
    assert out.split("\n")[:2] == ["from a certificate", "from a password"], out
    # A server the CA does not vouch for: mosquitto_pub refuses it (here: no CA at all).
    wrong = subprocess.run(["mosquitto_pub", "--cafile", os.path.join(d, "client.pem"), "-h", "localhost",
                            "-p", str(b["ports"]["tls"]), "-t", "x", "-m", "x"],
                           capture_output=True, timeout=TIMEOUT)
    assert wrong.returncode != 0


def test_mqttjs_over_mqtts_with_username_and_password(tls_broker):
    b = tls_broker
    if not os.path.exists(os.path.join(JS, "node_modules", "mqtt")):
        pytest.fail("MQTT.js missing: scripts/install-prereqs.sh test")
    url = f"mqtts://localhost:{b['ports']['tls']}"
    r = subprocess.run(["node", os.path.join(JS, "mqttjs_tls.mjs"), url, os.path.join(b["dir"], "ca.pem"),
                        "alice", "alice-secret"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_chromium_over_wss_trusting_the_test_ca(tls_broker):
    b = tls_broker
    if not shutil.which("certutil") or not os.path.exists("/usr/bin/chromium"):
        pytest.fail("certutil or chromium missing: scripts/install-prereqs.sh test")
    home = tempfile.mkdtemp(prefix="courtier-chromium-home-")
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, timeout=30)
    subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "courtier-interop-ca",
                    "-i", os.path.join(b["dir"], "ca.pem")], check=True, timeout=30)
    wss = f"wss://localhost:{b['ports']['wss']}/mqtt"
    tcp = f"mqtt://127.0.0.1:{b['ports']['plain']}"
    r = subprocess.run(["node", os.path.join(JS, "browser.mjs"), wss, tcp], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, HOME=home))
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
    line = log_has(b, "client connected", "chromium-page")
    assert line and "transport=wss" in line, line
