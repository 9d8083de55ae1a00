#!/usr/bin/env python3
"""Crash safety in a loop (issue #19, item 8): kill -9 the broker at random moments under mixed
QoS 1/2 load, restart it on the same data folder, N rounds; then check what the clients saw.

Clients (paho-mqtt, MQTT 3.1.1, persistent sessions, all living across the broker's restarts and
reconnecting by themselves):
  - two publishers, `cl-pub-q1` and `cl-pub-q2`, publish at QoS 1 and QoS 2 to `crash/q<qos>/<k>`
    (k = seq mod --topics) with the sequence number as payload; a message counts as acknowledged
    when its PUBACK (QoS 1) or PUBCOMP (QoS 2) arrives. paho keeps unacknowledged messages and
    sends them again (DUP set) after reconnecting, as its persistent session requires;
  - two subscribers, `cl-sub-q1` (`crash/q1/#`, QoS 1) and `cl-sub-q2` (`crash/q2/#`, QoS 2).
    paho delivers an incoming QoS 2 message once, on PUBREL, and keeps the packet id across
    reconnects, so a repeated QoS 2 delivery seen here is the broker's.

Checks, after the last round (everything published is then acknowledged and drained):
  - lost: an acknowledged sequence number never delivered (must be 0);
  - QoS 2 duplicates: any sequence number delivered twice (must be 0, [MQTT-4.3.3]);
  - QoS 1 duplicates are allowed by the spec ([MQTT-4.3.2], at least once) when they are
    either a redelivery by the broker, which must carry DUP ([MQTT-3.3.1-1]), or a new delivery of
    a message the publisher sent again because its PUBACK was lost in the crash (the broker sees a
    new PUBLISH and sets DUP independently, [MQTT-3.3.1-3]). Anything else is an unmarked
    duplicate (must be 0);
  - order: per topic, the first deliveries come in publishing order ([MQTT-4.6.0-5]);
  - session present on every reconnect of a subscriber after the first connect.

Prints one line per round and a summary; exits 1 when a check fails. CRASH_LOOP_PAHO_LOG=PREFIX
writes each client's paho log to PREFIX.q1, .q2 (publishers), .sub1, .sub2 (subscribers).
"""

import argparse
import os
import random
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker_proc import Broker, default_binary, free_port  # noqa: E402


EPOCH = [1]  # the current broker run, for the examples of a failed check


def _reset_out_keeping_pubrel(orig):
    """paho-mqtt 2.2 resets its outgoing messages on every reconnect attempt: the first turns a
    QoS 2 message awaiting PUBCOMP into "resend PUBREL", a second (the broker still down: the
    attempt was refused) turns that into "send PUBLISH" without DUP, so the client publishes
    again a message the broker has already completed, and it is delivered twice. Here a
    message waiting to resend PUBREL stays so, as a single reset leaves it."""

    def reset(self):
        with self._out_message_mutex:
            for m in self._out_messages.values():
                if m.qos == 2 and m.state == mqtt.mqtt_ms_resend_pubrel:
                    m.state = mqtt.mqtt_ms_wait_for_pubcomp
        orig(self)

    return reset


mqtt.Client._messages_reconnect_reset_out = _reset_out_keeping_pubrel(mqtt.Client._messages_reconnect_reset_out)


def client(cid):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, clean_session=False,
                    protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(50)
    c.max_queued_messages_set(0)
    c.reconnect_delay_set(0.05, 0.5)
    return c


class Publisher:
    def __init__(self, qos, port, topics, rate, window):
        self.qos, self.topics, self.rate, self.window = qos, topics, rate, window
        self.lock = threading.Lock()
        self.pending = {}  # mid -> seq, published and not yet acknowledged
        self.early = set()  # mids acknowledged before publish() returned
        self.acked = []  # sequence numbers, in acknowledgement order
        self.published = 0
        self.resent = set()  # seqs outstanding at a crash: paho may send them again
        self.connected = threading.Event()
        self.stop = threading.Event()
        self.c = client(f"cl-pub-q{qos}")
        self.c.on_connect = lambda c, u, f, rc, p: self.connected.set() if not rc.is_failure else None
        self.c.on_disconnect = lambda c, u, f, rc, p: self.connected.clear()
        self.c.on_publish = self.on_publish
        self.mids = {}  # seq -> packet id, for the examples of a failed check
        if os.environ.get("CRASH_LOOP_PAHO_LOG"):
            f = open(f"{os.environ['CRASH_LOOP_PAHO_LOG']}.q{qos}", "w")
            self.c.on_log = lambda c, u, lvl, buf: f.write(f"{time.time():.3f} {buf}\n")
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_publish(self, c, userdata, mid, rc, props):
        with self.lock:
            seq = self.pending.pop(mid, None)
            if seq is None:
                self.early.add(mid)
            else:
                self.acked.append(seq)

    def run(self):
        seq = 0
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            with self.lock:
                full = len(self.pending) >= self.window
            if full or not self.connected.is_set():
                time.sleep(0.002)
                continue
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            next_at = max(next_at + interval, time.monotonic() - 0.1)
            info = self.c.publish(f"crash/q{self.qos}/{seq % self.topics}", str(seq), self.qos)
            with self.lock:
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acked.append(seq)
                else:
                    self.pending[info.mid] = seq
                self.mids[seq] = info.mid
                self.published += 1
            seq += 1

    def at_crash(self):
        with self.lock:
            self.resent.update(self.pending.values())

    def outstanding(self):
        with self.lock:
            return len(self.pending)


class Subscriber:
    def __init__(self, qos, port):
        self.qos = qos
        self.lock = threading.Lock()
        self.got = []  # (topic index, seq, dup)
        self.epochs = []  # the broker run each delivery came from (1 = the first)
        self.connects = 0
        self.session_lost = 0
        self.subscribed = threading.Event()
        self.c = client(f"cl-sub-q{qos}")
        self.c.on_connect = self.on_connect
        self.c.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.c.on_message = self.on_message
        self.mids = []  # the packet id of each delivery, for the examples of a failed check
        if os.environ.get("CRASH_LOOP_PAHO_LOG"):
            f = open(f"{os.environ['CRASH_LOOP_PAHO_LOG']}.sub{qos}", "w")
            self.c.on_log = lambda c, u, lvl, buf: f.write(f"{time.time():.3f} {buf}\n")
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()

    def on_connect(self, c, userdata, flags, rc, props):
        if rc.is_failure:
            return
        self.connects += 1
        if self.connects == 1:
            c.subscribe(f"crash/q{self.qos}/#", self.qos)
        elif not flags.session_present:
            self.session_lost += 1

    def on_message(self, c, userdata, msg):
        k = int(msg.topic.rsplit("/", 1)[1])
        with self.lock:
            self.got.append((k, int(msg.payload), bool(msg.dup)))
            self.epochs.append(EPOCH[0])
            self.mids.append(msg.mid)

    def count(self):
        with self.lock:
            return len(self.got)


def check(pub, sub):
    """Returns (lost, duplicates marked, duplicates allowed as republished, unmarked, misordered)."""
    acked = set(pub.acked)
    seen = set()
    marked = republished = unmarked = 0
    last = {}
    misordered = 0
    first = {}
    examples = []
    for (k, seq, dup), epoch, mid in zip(sub.got, sub.epochs, sub.mids):
        if seq in seen:
            if pub.qos == 2 or (not dup and seq not in pub.resent):
                unmarked += 1
                if len(examples) < 5:
                    examples.append(f"seq {seq} first in run {first[seq][0]} (DUP {first[seq][1]}, packet id"
                                    f" {first[seq][2]}), again in run {epoch} (DUP {int(dup)}, packet id {mid}), publisher sent it again: {seq in pub.resent}, packet id {pub.mids.get(seq)}")
            elif dup:
                marked += 1
            else:
                republished += 1
            continue
        seen.add(seq)
        first[seq] = (epoch, int(dup), mid)
        if seq <= last.get(k, -1):
            misordered += 1
            if len(examples) < 5:
                examples.append(f"seq {seq} on topic {k} after {last[k]}")
        last[k] = seq
    for e in examples:
        print("    e.g.", e)
    lost = len(acked - seen)
    return lost, marked, republished, unmarked, misordered


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--bin", default=default_binary())
    ap.add_argument("--topics", type=int, default=4, help="topics per QoS")
    ap.add_argument("--rate", type=float, default=1000, help="messages/s per publisher")
    ap.add_argument("--window", type=int, default=100, help="unacknowledged messages per publisher")
    ap.add_argument("--min-up", type=float, default=0.3, help="seconds under load before a kill, least")
    ap.add_argument("--max-up", type=float, default=3.0, help="seconds under load before a kill, most")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--data-dir", default=None, help="default: a new temporary folder")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="courtier-crash-loop-")
    os.makedirs(data_dir, exist_ok=True)
    log = os.path.join(data_dir, "broker.log")
    port = free_port()
    broker = Broker(args.bin, port, os.path.join(data_dir, "data"), log,
                    env={"COURTIER__LIMITS__MAX_QUEUED_MESSAGES": "1000000"})
    print(f"crash loop: {args.rounds} rounds, seed {seed}, binary {args.bin}, data {data_dir}", flush=True)
    broker.start()
    subs = [Subscriber(1, port), Subscriber(2, port)]
    for s in subs:
        if not s.subscribed.wait(30):
            sys.exit("subscriber got no SUBACK")
    pubs = [Publisher(1, port, args.topics, args.rate, args.window),
            Publisher(2, port, args.topics, args.rate, args.window)]
    for p in pubs:
        p.thread.start()

    t_all = time.monotonic()
    for r in range(1, args.rounds + 1):
        t0 = time.monotonic()
        before = [len(p.acked) for p in pubs]
        got_before = [s.count() for s in subs]
        # Under load again: each publisher has had something acknowledged by this broker run.
        while any(len(p.acked) == b for p, b in zip(pubs, before)):
            if time.monotonic() - t0 > 60:
                sys.exit(f"round {r}: no acknowledgement within 60 s after the restart")
            time.sleep(0.01)
        up = rng.uniform(args.min_up, args.max_up)
        time.sleep(up)
        broker.kill9()
        for p in pubs:
            p.at_crash()
        acked = [len(p.acked) - b for p, b in zip(pubs, before)]
        got = [s.count() - g for s, g in zip(subs, got_before)]
        start_s = broker.start()
        EPOCH[0] = broker.starts
        if os.environ.get("CRASH_LOOP_PAHO_LOG"):
            print(f"  killed at {time.time():.3f} (Unix time, as in the paho logs)", flush=True)
        print(f"round {r:2}: killed after {up:.2f} s under load; acknowledged q1 {acked[0]:5} q2 {acked[1]:5};"
              f" delivered q1 {got[0]:5} q2 {got[1]:5}; in flight at the kill q1 {pubs[0].outstanding():3}"
              f" q2 {pubs[1].outstanding():3}; restart {start_s:.2f} s; round {time.monotonic() - t0:.1f} s",
              flush=True)

    for p in pubs:
        p.stop.set()
        p.thread.join()
    deadline = time.monotonic() + 120
    while any(p.outstanding() for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Drain: until every acknowledged message arrived, or 10 s without progress.
    last, quiet = -1, time.monotonic()
    while time.monotonic() - quiet < 10:
        n = sum(s.count() for s in subs)
        if n != last:
            last, quiet = n, time.monotonic()
        if all(set(p.acked) <= {seq for _, seq, _ in s.got} for p, s in zip(pubs, subs)):
            break
        time.sleep(0.2)
    total_s = time.monotonic() - t_all
    for c in [p.c for p in pubs] + [s.c for s in subs]:
        c.disconnect()
        c.loop_stop()
    code = broker.terminate()

    failed = False
    print(f"after {args.rounds} kills ({total_s:.0f} s; clean exit code at the end: {code}):")
    for p, s in zip(pubs, subs):
        lost, marked, republished, unmarked, misordered = check(p, s)
        print(f"  QoS {p.qos}: published {p.published}, acknowledged {len(p.acked)}, still unacknowledged"
              f" {p.outstanding()}, delivered {len(s.got)} ({len({q for _, q, _ in s.got})} distinct);"
              f" lost {lost}; duplicates: with DUP {marked}, republished by the client {republished},"
              f" unmarked {unmarked}; out of order {misordered}; session lost on reconnect"
              f" {s.session_lost} of {s.connects - 1}")
        if lost or unmarked or misordered or s.session_lost or p.outstanding():
            failed = True
    errors = [line for line in open(log, errors="replace") if " ERROR " in line or "panicked" in line]
    print(f"  broker log: {len(errors)} ERROR/panic lines ({log})")
    for line in errors[:5]:
        print("   ", line.rstrip())
    print("crash loop:", "FAILED" if failed else "ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
