#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere: `python3 fuzz/make_seeds.py`).

Sources: the `send <hex>` lines of tests/fixtures/scripts/*.txt, the hex fixtures of
actors/src/codec/tests*.rs, hand-made MQTT 5.0 packets with properties, spec examples of topics,
conf.d/00-defaults.toml, hand-encoded store records and mosquitto.db files. File names are content hashes, so
running it again only adds what changed.
"""
import glob
import hashlib
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
os.chdir(ROOT)


def put(target, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def hx(s):
    return bytes.fromhex("".join(s.split()))


# --- MQTT packets -------------------------------------------------------------------------
streams, packets = [], []
for path in sorted(glob.glob("tests/fixtures/scripts/*.txt")):
    sends = []
    for line in open(path):
        line = line.strip()
        if line.startswith("send "):
            try:
                sends.append(hx(line[5:]))
            except ValueError:
                pass
    if sends:
        streams.append(b"".join(sends))
        packets += sends

hexre = re.compile(r'"((?:[0-9a-fA-F]{2}[ \n\\]*){2,})"')
for path in sorted(glob.glob("actors/src/codec/tests*.rs")):
    src = open(path).read().replace("\\\n", "")
    for m in hexre.finditer(src):
        try:
            packets.append(hx(m.group(1).replace("\\", "")))
        except ValueError:
            pass


def vbi(n):
    out = b""
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def pkt(h, body):
    return bytes([h]) + vbi(len(body)) + body


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return len(x).to_bytes(2, "big") + x


def props(p):
    return vbi(len(p)) + p


u32 = lambda n: n.to_bytes(4, "big")
cprops = props(b"\x11" + u32(3600) + b"\x21\x00\x0a" + b"\x27" + u32(65536) + b"\x22\x00\x05"
               + b"\x19\x01" + b"\x17\x01" + b"\x26" + s("k") + s("v"))
wprops = props(b"\x18" + u32(5) + b"\x01\x01" + b"\x03" + s("text/plain"))
v5 = [
    # CONNECT: will (QoS 1, retain), username, password, session expiry, receive maximum, ...
    pkt(0x10, s("MQTT") + b"\x05\xce\x00\x3c" + cprops + s("c5") + wprops + s("w/t") + s("bye")
        + s("u") + s("p")),
    # PUBLISH QoS 1 with every publish property
    pkt(0x32, s("a/b") + b"\x00\x07" + props(b"\x01\x01" + b"\x02" + u32(60) + b"\x23\x00\x01"
        + b"\x08" + s("r/t") + b"\x09" + s("cd") + b"\x0b\x05" + b"\x26" + s("x") + s("y"))
        + b"hello"),
    pkt(0x40, b"\x00\x07\x10" + props(b"\x1f" + s("no subs"))),  # PUBACK 0x10 + reason string
    pkt(0x82, b"\x00\x02" + props(b"\x0b\x2a" + b"\x26" + s("a") + s("b")) + s("a/+") + b"\x2e"
        + s("$share/g/x/#") + b"\x01"),  # SUBSCRIBE, subscription id, options
    pkt(0xa2, b"\x00\x03" + props(b"\x26" + s("a") + s("b")) + s("a/+")),  # UNSUBSCRIBE
    pkt(0x90, b"\x00\x02" + props(b"\x1f" + s("ok")) + b"\x00\x01\x87"),  # SUBACK
    pkt(0xe0, b"\x04" + props(b"\x11" + u32(0) + b"\x1f" + s("bye"))),  # DISCONNECT 0x04
    pkt(0xf0, b"\x18" + props(b"\x15" + s("SCRAM") + b"\x16" + s("data"))),  # AUTH 0x18
    pkt(0x20, b"\x01\x00" + props(b"\x11" + u32(60) + b"\x21\x00\x14" + b"\x24\x01" + b"\x25\x01"
        + b"\x12" + s("assigned") + b"\x13\x00\x3c" + b"\x2a\x01")),  # CONNACK with properties
]
packets += v5
connect5_min = pkt(0x10, s("MQTT") + b"\x05\x02\x00\x3c\x00" + s("c"))
streams.append(connect5_min + v5[1] + v5[2] + v5[3] + v5[4] + v5[6])
streams.append(v5[0] + v5[7])
packets = list(dict.fromkeys(packets))
streams = list(dict.fromkeys(streams))
for p in packets:
    put("codec_packet", p)
# codec_stream: byte 0 = codec and max_packet_size, byte 1 = chunking seed.
for st in streams + packets[:40]:
    for cfg in (0x00, 0x03, 0x06, 0x05):  # server/1 MiB, 5.0/1 MiB, 3.1.1/16 B, 3.1/16 B
        put("codec_stream", bytes([cfg, len(st) & 0xFF]) + st)

# --- topics: filter 0xFF name --------------------------------------------------------------
pairs = [("sport/tennis/#", "sport/tennis"), ("+/+", "/finance"), ("#", "$SYS/x"),
         ("$SYS/#", "$SYS/broker/load"), ("a/+/c", "a/b/c"), ("+", "a"), ("/", "/"),
         ("a//b", "a//b"), ("a/#/b", "a"), ("a+/b", "a/b"), ("$share/g/a/+", "a/b"), ("", "x"),
         ("sport/+", "sport/"), ("#", "#")]
for f, n in pairs:
    put("topic", f.encode() + b"\xff" + n.encode())

# --- config files (0x00 then KEY=VALUE lines: environment overrides) -----------------------
for path in sorted(glob.glob("conf.d/*.toml")):
    put("config_toml", open(path, "rb").read())
for b in [b"[listener]\nport = 1883\n\x00LISTENER__PORT=99999\n",
          b'[listener]\nbind = "0.0.0.0:1883"\n\n[limits]\nmax_packet_size = 268435455\n',
          b'[persistence]\nenabled = true\npath = "/tmp/x"\n',
          b'[http]\nbind = "127.0.0.1:8080"\n[http.metrics]\nenabled = true\n',
          b"x = 1\n", b"[[a]]\n",
          b"[listener]\nport = 1883\n\x00listener__port=65536\nlog__level=trace\n"]:
    put("config_toml", b)


# --- store records: 'C', schema 3 (u16 LE), 0, then bincode (standard: varint, LE) ---------
def vi(n):
    if n < 251:
        return bytes([n])
    if n < 2**16:
        return b"\xfb" + struct.pack("<H", n)
    if n < 2**32:
        return b"\xfc" + struct.pack("<I", n)
    return b"\xfd" + struct.pack("<Q", n)


def bst(x):
    x = x.encode() if isinstance(x, str) else x
    return vi(len(x)) + x


def opt(v):
    return b"\x00" if v is None else b"\x01" + v


H = b"C\x03\x00\x00"


def body(topic, payload, retain, props_, expires):  # MessageBody
    return bst(topic) + bst(payload) + bytes([retain]) + bst(props_) + opt(expires)


def sub(f, q, o, i):  # SubscriptionRecord
    return bst(f) + bytes([q, o]) + opt(i)


b1 = body("a/b", b"hello", 0, b"", None)
b2 = body("sensors/temp", b"21.5", 1, b"\x01\x01\x03\x00\x0atext/plain", vi(1765000000000))
for rec in [
    # SessionMeta: client id, protocol level, subscriptions, last seen, expiry interval
    H + bst("client-1") + b"\x04" + vi(2) + sub("a/+", 1, 0, None) + sub("$share/g/#", 2, 0x2E, vi(42))
    + vi(1765000000000) + opt(vi(3600)),
    H + bst("c5") + b"\x05" + vi(0) + vi(0) + opt(vi(2**32 - 1)),
    H + bst("old") + b"\x03" + vi(1) + sub("#", 0, 0, None) + vi(5) + b"\x00",
    H + b1, H + b2,  # MessageBody
    # QueuedRef: qos, state (Queued / Sent{pkid} / Released{pkid}), inline body
    H + b"\x01" + vi(0) + b"\x00", H + b"\x02" + vi(1) + vi(7) + b"\x00",
    H + b"\x01" + vi(2) + vi(65535) + opt(b2),
    # RetainedRecord: StoredMessage (topic, payload, qos, retain, properties, expiry)
    H + bst("retained/t") + bst(b"on") + b"\x01\x01" + bst(b"") + b"\x00",
    H + bst("r/x") + bst(b"") + b"\x00\x01" + bst(b"\x02\x00\x00\x00\x3c") + opt(vi(1765000060000)),
    b"C\x02\x00\x00" + b1, b"C\x04\x00\x00" + b1, b"X\x03\x00\x00",  # old, newer, bad magic
]:
    put("store_records", rec)

# --- mosquitto.conf, password files, ACL files --------------------------------------------
for path in sorted(glob.glob("tests/fixtures/mosquitto/**/*.conf", recursive=True)):
    put("mosquitto_conf", open(path, "rb").read())
for text in [
    "listener 1883\nallow_anonymous true\n",
    "per_listener_settings true\nlistener 1883\nallow_anonymous true\npassword_file /p\n"
    "listener 8883 0.0.0.0\ncertfile /c.pem\nkeyfile /k.pem\ncafile /ca.pem\n"
    "require_certificate true\nuse_identity_as_username true\nallow_anonymous true\npassword_file /p\n",
    "port 1883\nbind_address 127.0.0.1\nsocket_domain ipv6\nlistener 9001\nprotocol websockets\n",
    "persistence true\npersistence_location /d/\nautosave_interval 60\npersistent_client_expiration 2w\n"
    "max_queued_messages 0\nmax_queued_bytes 100\nmax_inflight_messages 0\nmax_packet_size 0\n"
    "message_size_limit 100\nmax_keepalive 60\nmax_connections 5\nsys_interval 0\nretain_available true\n"
    "log_dest stdout\nlog_type all\nlog_timestamp false\ntls_version tlsv1.3\nqueue_qos0_messages true\n",
]:
    put("mosquitto_conf", text.encode())
# --- mosquitto.db: Mosquitto's unit-test files and one Debian's mosquitto wrote --------------
for path in sorted(glob.glob("tests/fixtures/mosquitto/db/*")):
    put("mosquitto_db", open(path, "rb").read())
for path in sorted(glob.glob("tests/fixtures/mosquitto_passwd/*")):
    if not path.endswith(".md"):
        put("password_file", open(path, "rb").read())
put("password_file", b"# comment\n\nalice:$6$c2FsdA==$aGFzaA==\nbob:$7$1$c2FsdA==$aGFzaA==\n")
put("password_file", b"alice:plaintext\n")
for text in [
    "topic read $SYS/#\n\nuser roger\ntopic foo/bar\n\npattern write $SYS/broker/connection/%c/state\n",
    "topic read public/#\ntopic write public/news\nuser alice\ntopic readwrite home/#\n"
    "topic deny home/secret\npattern readwrite users/%u/#\npattern read clients/%c\n\0home/kitchen",
    "user bob\ntopic read +/temperature\n\0a/temperature",
]:
    put("acl", text.encode())
