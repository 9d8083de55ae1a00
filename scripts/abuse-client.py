#!/usr/bin/env python3
"""Hostile MQTT clients for scripts/abuse-rounds.sh and scripts/abuse-memory.sh (docs/LIMITS.md).

Raw sockets, no MQTT library: the point is to send what a library would not.

  abuse-client.py rounds PORT N      N connections opened at once, half sending garbage, half a
                                     CONNECT; all dropped abruptly (RST)
  abuse-client.py subs PORT N        one clean 3.1.1 session subscribing to N filters (1,000 per
                                     SUBSCRIBE); prints granted/refused, waits for a line on
                                     stdin, then disconnects
  abuse-client.py bigconnect PORT N MB   N connections announcing an MB-megabyte CONNECT and
                                     sending 1 MB of it; prints what the broker answered
  abuse-client.py bigpublish PORT N MB   N connected clients each sending one MB-megabyte
                                     PUBLISH, then PINGREQ/PINGRESP, then DISCONNECT
  abuse-client.py deep PORT LEVELS   SUBSCRIBE and PUBLISH to a topic of LEVELS levels (3.1.1)
  abuse-client.py longid PORT LEN    CONNECT with a LEN-byte client id (3.1.1 and 5.0)
"""

import asyncio
import os
import socket
import struct
import sys


def rl(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(x):
    x = x.encode() if isinstance(x, str) else x
    return struct.pack(">H", len(x)) + x


def packet(first, body):
    return bytes([first]) + rl(len(body)) + body


def connect(cid, level=4, clean=True):
    props = b"\x00" if level == 5 else b""
    body = s("MQTT") + bytes([level, 0x02 if clean else 0]) + struct.pack(">H", 60) + props
    return packet(0x10, body + s(cid))


def subscribe(pkid, filters):
    body = struct.pack(">H", pkid) + b"".join(s(f) + b"\x00" for f in filters)
    return packet(0x82, body)


def publish(topic, payload):
    return packet(0x30, s(topic) + payload)


def read_packet(sock):
    """One packet (first byte, body), or None when the broker closed."""
    head = sock.recv(1)
    if not head:
        return None
    n, mult = 0, 1
    while True:
        b = sock.recv(1)
        if not b:
            return None
        n += (b[0] & 0x7F) * mult
        mult *= 128
        if not b[0] & 0x80:
            break
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return head[0], body


def dial(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(30)
    return sock


def rst(sock):
    """Close abruptly: a RST, no DISCONNECT, no FIN handshake."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def one_round_client(port, i, opened, go):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        opened.append(False)
        return
    opened.append(True)
    if i % 2:
        writer.write(os.urandom(1 + i % 200))
    else:
        writer.write(connect(f"abuse-{os.getpid()}-{i}"))
    try:
        await writer.drain()
    except OSError:
        pass
    await go.wait()
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def rounds(port, n):
    opened = []
    go = asyncio.Event()
    tasks = [asyncio.create_task(one_round_client(port, i, opened, go)) for i in range(n)]
    while len(opened) < n:
        await asyncio.sleep(0.05)
    # Everything sent and read by the broker (CONNACKs on their way), then all dropped at once.
    await asyncio.sleep(1.0)
    go.set()
    await asyncio.gather(*tasks)
    print(f"opened {sum(opened)} of {n}, half sent garbage, all dropped with RST")


def subs(port, n):
    sock = dial(port)
    sock.sendall(connect(f"subs-{os.getpid()}"))
    assert read_packet(sock)[0] == 0x20
    granted = refused = 0
    pkid = 0
    for start in range(0, n, 1000):
        pkid += 1
        filters = [f"abuse/subs/{i}/+/state" for i in range(start, min(n, start + 1000))]
        sock.sendall(subscribe(pkid, filters))
        first, body = read_packet(sock)
        assert first == 0x90, hex(first)
        codes = body[2:]
        refused += sum(1 for c in codes if c == 0x80)
        granted += sum(1 for c in codes if c != 0x80)
    print(f"subscribed: {granted} granted, {refused} refused", flush=True)
    sys.stdin.readline()
    sock.sendall(b"\xe0\x00")
    sock.close()


def bigconnect(port, n, mb):
    socks = []
    junk = b"\x5a" * (1 << 20)
    for _ in range(n):
        sock = dial(port)
        sock.sendall(b"\x10" + rl((mb << 20) - 5) + s("MQTT") + b"\x05")
        try:
            sock.sendall(junk)
        except OSError:
            pass
        socks.append(sock)
    answers = []
    for sock in socks:
        try:
            p = read_packet(sock)
            answers.append("closed" if p is None else f"{p[0]:#04x} {p[1][:2].hex()}")
        except OSError:
            answers.append("reset")
        sock.close()
    print(f"{n} x {mb} MB CONNECT: {sorted(set(answers))}")


def bigpublish(port, n, mb):
    payload = b"\x42" * ((mb << 20) - 16)
    socks = []
    for i in range(n):
        sock = dial(port)
        sock.sendall(connect(f"big-{os.getpid()}-{i}"))
        assert read_packet(sock)[0] == 0x20
        socks.append(sock)
    for sock in socks:
        sock.sendall(publish("abuse/big", payload))
    for sock in socks:
        sock.sendall(b"\xc0\x00")
        assert read_packet(sock)[0] == 0xD0
    for sock in socks:
        sock.sendall(b"\xe0\x00")
        sock.close()
    print(f"{n} x {mb} MB PUBLISH sent and read")


def deep(port, levels):
    topic = "/".join(["l"] * levels)
    sock = dial(port)
    sock.sendall(connect(f"deep-{os.getpid()}"))
    assert read_packet(sock)[0] == 0x20
    sock.sendall(subscribe(1, [topic]))
    first, body = read_packet(sock)
    print(f"SUBSCRIBE to {levels} levels: SUBACK {body[2:].hex()}")
    sock.sendall(publish(topic, b"x"))
    p = read_packet(sock)
    print(f"PUBLISH to {levels} levels: {'closed' if p is None else hex(p[0])}")


def longid(port, length):
    for level in (4, 5):
        sock = dial(port)
        try:
            sock.sendall(connect("c" * length, level))
            p = read_packet(sock)
            what = "closed" if p is None else f"CONNACK {p[1][:2].hex()}"
        except OSError:
            what = "reset"
        print(f"{length}-byte client id, protocol level {level}: {what}")
        sock.close()


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    args = [int(a) for a in sys.argv[3:]]
    if cmd == "rounds":
        asyncio.run(rounds(port, *args))
    else:
        {"subs": subs, "bigconnect": bigconnect, "bigpublish": bigpublish, "deep": deep,
         "longid": longid}[cmd](port, *args)


if __name__ == "__main__":
    main()
