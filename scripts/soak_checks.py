"""The soak's checks (scripts/soak.py): the QoS 1/2 sequence checker, the retained count at the
end, and the least-squares slopes of the sampled resources."""

import math
import threading
import time

from soak_clients import STATS, STOP, connect, new_client

class Checker:
    """QoS 1 and QoS 2 sequences through a persistent subscriber that comes and goes."""

    def __init__(self, port, rate):
        self.port, self.rate = port, rate
        self.lock = threading.Lock()
        self.acked = {1: set(), 2: set()}
        self.pending = {}
        self.early = set()
        self.published = {1: 0, 2: 0}
        self.got = {1: [], 2: []}
        self.subscribed = threading.Event()
        self.sub = new_client("soak-check-sub", clean=False)
        self.sub.on_message = self.on_message
        self.sub.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        connect(self.sub, port, clean=False)
        self.sub.subscribe("soak/check/#", 2)
        self.sub.loop_start()
        self.pub = new_client("soak-check-pub", clean=False)
        self.pub.on_publish = self.on_publish
        connect(self.pub, port, clean=False)
        self.pub.loop_start()

    def on_message(self, c, u, m):
        with self.lock:
            self.got[int(m.topic[-1])].append(int(m.payload))

    def on_publish(self, c, u, mid, rc, p):
        with self.lock:
            key = self.pending.pop(mid, None)
            if key is None:
                self.early.add(mid)
            else:
                self.acked[key[0]].add(key[1])

    def publish_loop(self):
        self.subscribed.wait(30)
        seq = 0
        while not STOP.wait(1.0 / self.rate):
            for qos in (1, 2):
                info = self.pub.publish(f"soak/check/q{qos}", str(seq), qos=qos)
                with self.lock:
                    if info.mid in self.early:
                        self.early.discard(info.mid)
                        self.acked[qos].add(seq)
                    else:
                        self.pending[info.mid] = (qos, seq)
                    self.published[qos] += 1
            seq += 1

    def away_loop(self):
        while not STOP.wait(60):
            self.sub.disconnect()
            self.sub.loop_stop()
            time.sleep(5)
            self.sub.reconnect()
            STATS["connects"].add()
            self.sub.loop_start()

    def finish(self):
        """Wait for the last acknowledgements and deliveries; returns (ok, lines)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.lock:
                done = not self.pending and all(self.acked[q] <= set(self.got[q]) for q in (1, 2))
            if done:
                break
            time.sleep(0.2)
        ok = True
        lines = []
        with self.lock:
            for q in (1, 2):
                got = self.got[q]
                lost = len(self.acked[q] - set(got))
                dups = len(got) - len(set(got))
                seen, last, misordered = set(), -1, 0
                for s in got:
                    if s in seen:
                        continue
                    seen.add(s)
                    if s < last:
                        misordered += 1
                    last = s
                lines.append(f"checker QoS {q}: published {self.published[q]}, acknowledged {len(self.acked[q])},"
                             f" unacknowledged {len(self.pending)}, delivered {len(got)}; lost {lost},"
                             f" duplicates {dups}, out of order {misordered}")
                if lost or misordered or (q == 2 and dups):
                    ok = False
        return ok, lines


def count_retained(port, prefix, seconds=15):
    """A fresh clean subscriber: how many retained messages under prefix/# it gets."""
    topics = set()
    c = new_client("soak-retained-count")
    c.on_message = lambda cl, u, m: topics.add(m.topic) if m.retain else None
    connect(c, port)
    c.subscribe(f"{prefix}/#", 0)
    last, quiet = -1, time.monotonic()
    end = time.monotonic() + seconds
    while time.monotonic() < end and time.monotonic() - quiet < 2:
        c.loop(timeout=0.1)
        if len(topics) != last:
            last, quiet = len(topics), time.monotonic()
    c.disconnect()
    return len(topics)


def fit(xs, ys):
    """Least squares: (slope, intercept, residual standard deviation)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs) or 1e-9
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    icpt = my - slope * mx
    sd = math.sqrt(sum((y - (icpt + slope * x)) ** 2 for x, y in zip(xs, ys)) / max(1, n - 2))
    return slope, icpt, sd
