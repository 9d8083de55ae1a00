"""SCRAM-SHA-512 enhanced authentication (MQTT 5.0 AUTH) with clients written apart from the
broker: a Python client (hashlib/hmac over a raw socket: paho-mqtt 2.2 does not handle AUTH
packets) and MQTT.js's `handleAuth` hook (js/mqttjs_scram.mjs), against a password file written
by Debian's real mosquitto_passwd at test time (no new credential store).

Each test starts its own Courtier with the file (not the session broker), so these tests do not
run against a broker given by MQTT_PORT.
"""

import base64
import hashlib
import hmac
import os
import shutil
import socket
import struct
import subprocess
import tempfile

import pytest

from conftest import courtier_command, free_port, wait_for_listener
from helpers import uid
from test_websocket import JS, run_node

pytestmark = pytest.mark.skipif(bool(os.environ.get("MQTT_PORT")), reason="starts its own broker")

METHOD = "SCRAM-SHA-512"
USERS = {"alice": "alice secret", "bob": "b0b"}


@pytest.fixture(scope="module")
def scram_broker():
    """(host, port) of a Courtier offering SCRAM-SHA-512, with a password file that the real
    mosquitto_passwd writes now: alice and bob as $7$ (PBKDF2), carol as $6$."""
    if not shutil.which("mosquitto_passwd"):
        pytest.fail("mosquitto_passwd is required (Debian package mosquitto; scripts/install-prereqs.sh)")
    d = tempfile.mkdtemp(prefix="courtier-scram-")
    pw = os.path.join(d, "passwd")
    subprocess.run(["mosquitto_passwd", "-c", "-b", pw, "alice", USERS["alice"]], check=True)
    subprocess.run(["mosquitto_passwd", "-b", pw, "bob", USERS["bob"]], check=True)
    subprocess.run(["mosquitto_passwd", "-H", "sha512", "-b", pw, "carol", "carol6"], check=True)
    port = free_port()
    env = dict(os.environ, RUST_LOG="info", COURTIER__HTTP__PORT=str(free_port()),
               COURTIER__SECURITY__ALLOW_ANONYMOUS="false", COURTIER__SECURITY__PASSWORD_FILE=f'"{pw}"',
               COURTIER__SECURITY__AUTH_METHODS=f'["{METHOD}"]', COURTIER__PERSISTENCE__ENABLED="false")
    log = open(os.path.join(d, "log"), "w")
    proc = subprocess.Popen(courtier_command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    wait_for_listener("127.0.0.1", port, proc)
    yield "127.0.0.1", port, os.path.join(d, "log")
    proc.terminate()
    proc.wait(timeout=10)


# --- MQTT 5.0 packets, by hand -----------------------------------------------------------------

def vbi(n):
    out = bytearray()
    while True:
        b, n = n % 128, n // 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def props(method, data):
    p = b"\x15" + utf8(method)
    if data is not None:
        p += b"\x16" + utf8(data)
    return vbi(len(p)) + p


def packet(first, body):
    return bytes([first]) + vbi(len(body)) + body


def connect(client_id, method, data):
    body = utf8("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 30) + props(method, data) + utf8(client_id)
    return packet(0x10, body)


def auth(reason, method, data):
    return packet(0xF0, bytes([reason]) + props(method, data))


def read_packet(sock):
    first = sock.recv(1)
    if not first:
        return None, b""
    n, mult = 0, 1
    while True:
        b = sock.recv(1)[0]
        n += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            break
        body += chunk
    return first[0], body


def parse_props(buf):
    """{id: value} of a property block (only the ids these packets carry)."""
    n, i, mult = 0, 0, 1
    while True:
        b = buf[i]
        i += 1
        n += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    end, out = i + n, {}
    while i < end:
        pid = buf[i]
        i += 1
        if pid in (0x15, 0x16, 0x1F, 0x12):
            ln = struct.unpack(">H", buf[i:i + 2])[0]
            out[pid] = buf[i + 2:i + 2 + ln]
            i += 2 + ln
        elif pid in (0x21, 0x22, 0x13):
            i += 2
        elif pid in (0x24, 0x25, 0x28, 0x29, 0x2A):
            i += 1
        elif pid in (0x11, 0x27):
            i += 4
        elif pid == 0x26:
            for _ in range(2):
                ln = struct.unpack(">H", buf[i:i + 2])[0]
                i += 2 + ln
        else:
            raise AssertionError(f"unexpected property {pid:#x}")
    return out


# --- SCRAM-SHA-512, client side (RFC 5802) -----------------------------------------------------

class Scram:
    def __init__(self, user, password):
        self.password = password.encode()
        self.bare = f"n={user},r={base64.b64encode(os.urandom(18)).decode()}"

    def first(self):
        return ("n,," + self.bare).encode()

    def final(self, server_first):
        self.server_first = server_first.decode()
        attrs = dict(a.split("=", 1) for a in self.server_first.split(","))
        assert attrs["r"].startswith(self.bare.split("r=", 1)[1]), "server nonce must extend ours"
        self.salted = hashlib.pbkdf2_hmac("sha512", self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(self.salted, b"Client Key", "sha512").digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_message = f"{self.bare},{self.server_first},{without_proof}".encode()
        sig = hmac.new(hashlib.sha512(client_key).digest(), self.auth_message, "sha512").digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def server_proven(self, server_final):
        server_key = hmac.new(self.salted, b"Server Key", "sha512").digest()
        expected = b"v=" + base64.b64encode(hmac.new(server_key, self.auth_message, "sha512").digest())
        return hmac.compare_digest(server_final, expected)


def login(b, user, password):
    """Runs the exchange; (socket, CONNACK reason code, CONNACK properties, Scram)."""
    s = socket.create_connection(b[:2], timeout=5)
    scram = Scram(user, password)
    s.sendall(connect(uid("scram-py"), METHOD, scram.first()))
    first, body = read_packet(s)
    assert first == 0xF0 and body[0] == 0x18, (first, body)
    p = parse_props(body[1:])
    assert p[0x15] == METHOD.encode()
    s.sendall(auth(0x18, METHOD, scram.final(p[0x16])))
    first, body = read_packet(s)
    assert first == 0x20, (first, body)
    return s, body[1], parse_props(body[2:]), scram


def test_python_scram_client_logs_in_with_a_mosquitto_passwd_entry(scram_broker):
    s, code, p, scram = login(scram_broker, "alice", USERS["alice"])
    assert code == 0
    assert p[0x15] == METHOD.encode()
    assert scram.server_proven(p[0x16]), "the broker proved it knows alice's keys"
    s.sendall(packet(0xC0, b""))  # PINGREQ
    assert read_packet(s)[0] == 0xD0
    # Re-authentication on the same connection: AUTH 0x19, 0x18 both ways, AUTH 0x00.
    again = Scram("alice", USERS["alice"])
    s.sendall(auth(0x19, METHOD, again.first()))
    first, body = read_packet(s)
    assert (first, body[0]) == (0xF0, 0x18)
    s.sendall(auth(0x18, METHOD, again.final(parse_props(body[1:])[0x16])))
    first, body = read_packet(s)
    assert (first, body[0]) == (0xF0, 0x00)
    assert again.server_proven(parse_props(body[1:])[0x16])
    s.close()


def test_python_scram_wrong_password_and_6_entry_get_0x87_with_the_reason_logged(scram_broker):
    s, code, p, _ = login(scram_broker, "bob", "not bob's")
    assert code == 0x87 and 0x15 not in p
    assert read_packet(s)[0] is None, "closed after the refusal"
    _, code, _, _ = login(scram_broker, "carol", "carol6")
    assert code == 0x87
    with open(scram_broker[2]) as f:
        log = f.read()
    assert 'user="carol"' in log and "$6$" in log, log[-2000:]


def test_mqttjs_handle_auth_logs_in_with_scram(scram_broker):
    if not os.path.isdir(os.path.join(JS, "node_modules", "mqtt")):
        pytest.fail("tests/interop/js/node_modules/mqtt missing: run scripts/install-prereqs.sh test")
    url = f"mqtt://{scram_broker[0]}:{scram_broker[1]}"
    run_node("mqttjs_scram.mjs", url, "bob", USERS["bob"])
