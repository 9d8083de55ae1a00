#!/usr/bin/env python3
"""Soak (issue #19, item 7): a compressed day of home-hub life against the real broker, with its
resident memory (RSS) and open file descriptors sampled; their slope after a warm-up is the result.

The day, for --duration seconds (default 1800), all clients paho-mqtt on loopback:
  - discovery: at start, a hub publishes --discovery retained QoS 1 config topics
    (`homeassistant/<component>/<node>/<n>/config`, ~250 bytes of JSON each), then rewrites a few
    of them now and then (retained updates);
  - devices (--devices): each connects (MQTT 3.1.1 or 5.0; clean or persistent session) with a will
    (`devices/<id>/availability` = offline, retained, QoS 1), announces `online`, publishes its
    state retained at QoS 0/1 every 1-5 s (more by "day", less by "night"), and after 10-90 s
    either disconnects cleanly or is killed: the socket is closed without DISCONNECT, so the
    broker publishes the will; then it stays away 1-20 s;
  - take-overs: now and then a client connects with an id in use; the first is disconnected;
  - churn: short clean-session clients (3.1.1 and 5.0) connect, subscribe, publish at QoS 0,
    leave (half of them abruptly), ~2 per second;
  - Home Assistant: a persistent session (`homeassistant/#`, `devices/#` at QoS 1) that goes
    away for 10 s every 90 s; it counts the wills it receives;
  - a slow consumer: a persistent session on `devices/#` at QoS 1 that takes 200 ms per message,
    so the broker's queue for it fills up to `limits.max_queued_messages` (--max-queued, 1000)
    and drops;
  - the checker: a publisher sends QoS 1 and QoS 2 sequences (--check-rate each per second);
    a persistent QoS 2 subscriber, away for 5 s every 60 s, must get every acknowledged
    number, in order, and no QoS 2 number twice.

Every --sample seconds the broker's RSS, open fds and threads (from /proc) and its store's memory,
queued messages and open connections (from /metrics) are written to samples.csv. After
the warm-up (--warmup, default 20 % of the run) a least-squares line is fitted to each; the
result is its slope and the growth it predicts over the rest of the run, against the noise (the
residuals' standard deviation). Flat within noise = growth under 2 standard deviations, or
under --rss-tolerance-mib / 2 fds. With persistence on, the memory checked is RSS less the
store's (RocksDB's memtables fill up to persistence.write_buffer_cap_mb over hours: capped, not
flat); RSS and the store's part are reported beside it.

Writes samples.csv, broker.log, metrics.txt and summary.txt into --out; exits 1 when a check
fails (loss, QoS 2 duplicate, order, a wrong retained count, a slope above the noise, or the
broker not exiting cleanly on SIGTERM).
"""

import argparse
import json
import math
import os
import random
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from broker_proc import Broker, default_binary, free_port  # noqa: E402
from soak_checks import Checker, count_retained, fit  # noqa: E402
from soak_clients import HOST, STATS, STOP, connect, kill, new_client, pump  # noqa: E402


def day_factor(t0, duration):
    """Activity over the compressed day: 0.25 at night, 1.0 by day."""
    phase = ((time.monotonic() - t0) / duration) % 1.0
    return 0.25 + 0.75 * max(0.0, math.sin(math.pi * phase))


def discovery_payload(node, n):
    return json.dumps({"name": f"{node} sensor {n}", "unique_id": f"{node}_{n}",
                       "state_topic": f"devices/{node}/state", "value_template": "{{ value_json.v }}",
                       "device": {"identifiers": [node], "manufacturer": "soak", "model": "v1"}})


def hub(port, n, t0, duration, rng):
    """The discovery burst, then a few retained rewrites now and then."""
    c = new_client("soak-hub", clean=False)
    connect(c, port, clean=False)
    c.loop_start()
    infos = []
    topics = [f"homeassistant/sensor/node{i % 100}/{i}/config" for i in range(n)]
    for i, t in enumerate(topics):
        infos.append(c.publish(t, discovery_payload(f"node{i % 100}", i), qos=1, retain=True))
    for info in infos:
        info.wait_for_publish(120)
    while not STOP.is_set():
        time.sleep(rng.uniform(2, 10) / day_factor(t0, duration))
        i = rng.randrange(n)
        c.publish(topics[i], discovery_payload(f"node{i % 100}", i), qos=1, retain=True)
        STATS["retained_updates"].add()
    c.disconnect()
    c.loop_stop()


def device(port, k, t0, duration, rng):
    cid = f"soak-dev-{k}"
    persistent = k % 3 == 0
    v5 = k % 4 == 1
    while not STOP.is_set():
        c = new_client(cid, clean=not persistent, v5=v5)
        c.will_set(f"devices/{cid}/availability", "offline", qos=1, retain=True)
        try:
            connect(c, port, clean=not persistent, v5=v5)
        except OSError:
            STATS["connect_errors"].add()
            time.sleep(1)
            continue
        c.publish(f"devices/{cid}/availability", "online", qos=1, retain=True)
        end = time.monotonic() + rng.uniform(10, 90)
        while time.monotonic() < end and not STOP.is_set():
            v = rng.random()
            c.publish(f"devices/{cid}/state", json.dumps({"v": round(v * 100, 2)}), qos=k % 2, retain=True)
            STATS["device_publishes"].add()
            pump(c, rng.uniform(1, 5) / day_factor(t0, duration))
        if rng.random() < 0.4 and not STOP.is_set():
            kill(c)
            STATS["devices_killed"].add()
        else:
            c.disconnect()
            c.loop(timeout=0.1)
            STATS["clean_disconnects"].add()
        time.sleep(rng.uniform(1, 20))


def takeovers(port, rng):
    """A client id connects twice: the broker must close the first connection [MQTT-3.1.4-2]."""
    n = 0
    while not STOP.wait(rng.uniform(5, 15)):
        cid = f"soak-twin-{n % 5}"
        persistent = n % 2 == 0
        first = new_client(cid, clean=not persistent)
        second = new_client(cid, clean=not persistent)
        try:
            connect(first, port, clean=not persistent)
            first.subscribe(f"twin/{cid}/#", 1)
            pump(first, 0.5)
            connect(second, port, clean=not persistent)
            pump(second, 0.5)
            first.loop(timeout=0.5)  # reads the close
            STATS["takeovers"].add()
            pump(second, rng.uniform(1, 5))
            second.disconnect()
            second.loop(timeout=0.1)
        except OSError:
            STATS["connect_errors"].add()
        n += 1


def churn(port, rng):
    n = 0
    while not STOP.wait(rng.uniform(0.2, 0.8)):
        v5 = n % 2 == 1
        c = new_client(f"soak-churn-{n}", v5=v5)
        try:
            connect(c, port, v5=v5, keepalive=10)
            c.subscribe("devices/+/state", 0)
            c.publish(f"churn/{n}", "x" * rng.randrange(1, 2000), qos=0)
            pump(c, rng.uniform(0.1, 2))
            if n % 2:
                kill(c)
            else:
                c.disconnect()
                c.loop(timeout=0.1)
            STATS["churn"].add()
        except OSError:
            STATS["connect_errors"].add()
        n += 1


def home_assistant(port, rng):
    c = new_client("soak-ha", clean=False)

    def on_message(cl, u, m):
        STATS["ha_messages"].add()
        # Not the retained `offline` a re-subscription replays: only wills published live.
        if m.topic.endswith("/availability") and m.payload == b"offline" and not m.retain:
            STATS["wills_seen"].add()

    c.on_message = on_message
    c.on_connect = lambda cl, u, f, rc, p: cl.subscribe([("homeassistant/#", 1), ("devices/#", 1)])
    connect(c, port, clean=False)
    c.loop_start()
    while not STOP.wait(90):
        c.disconnect()
        c.loop_stop()
        if STOP.wait(10):
            break
        c.reconnect()
        STATS["connects"].add()
        c.loop_start()
    if STOP.is_set() and not c.is_connected():
        # Away when the day ended: come back once for the wills queued meanwhile (the devices
        # killed in the last seconds are counted too).
        c.reconnect()
        STATS["connects"].add()
        c.loop_start()
    time.sleep(3)
    c.disconnect()
    c.loop_stop()


def slow_consumer(port):
    c = new_client("soak-slow", clean=False)

    def on_message(cl, u, m):
        STATS["slow_messages"].add()
        time.sleep(0.2)

    c.on_message = on_message
    connect(c, port, clean=False)
    c.subscribe("devices/#", 1)
    c.loop_start()
    STOP.wait()
    c.disconnect()
    c.loop_stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=1800, help="seconds (default 1800)")
    ap.add_argument("--bin", default=default_binary())
    ap.add_argument("--out", default=None, help="output folder (default: a new one under /tmp)")
    ap.add_argument("--sample", type=float, default=5, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=None, help="seconds (default 20 %% of the run)")
    ap.add_argument("--discovery", type=int, default=3000)
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--check-rate", type=float, default=20, help="checker messages/s per QoS")
    ap.add_argument("--rss-tolerance-mib", type=float, default=2.0)
    ap.add_argument("--max-queued", type=int, default=1000,
                    help="limits.max_queued_messages (default 1000, so that the slow consumer's queue"
                         " reaches its bound within the warm-up)")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    out = args.out or f"/tmp/courtier-soak-{int(time.time())}"
    os.makedirs(out, exist_ok=True)
    warmup = args.warmup if args.warmup is not None else 0.2 * args.duration

    port, http_port = free_port(), free_port()
    broker = Broker(args.bin, port, os.path.join(out, "data"), os.path.join(out, "broker.log"),
                    env={"COURTIER__HTTP__PORT": str(http_port),
                         "COURTIER__LIMITS__MAX_QUEUED_MESSAGES": str(args.max_queued)})
    print(f"soak: {args.duration:.0f} s, seed {seed}, binary {args.bin}, output {out}", flush=True)
    broker.start()
    t0 = time.monotonic()
    samples = []
    csv = open(os.path.join(out, "samples.csv"), "w")
    csv.write("seconds,rss_kib,fds,threads,store_kib,queued_messages,connections_open\n")

    def gauge(text, name):
        for line in text.splitlines():
            if line.startswith(name):
                return int(float(line.rsplit(" ", 1)[1]))
        return -1

    def sampler():
        while True:
            s = (time.monotonic() - t0, broker.rss_kib(), broker.open_fds(), broker.threads())
            try:
                m = urllib.request.urlopen(f"http://{HOST}:{http_port}/metrics", timeout=5).read().decode()
            except OSError:
                m = ""
            # RocksDB's memory (memtables, table readers, block cache: capped, see the README's
            # persistence section); -1 without persistence.
            store = [float(line.rsplit(" ", 1)[1]) for line in m.splitlines()
                     if line.startswith("courtier_store_memory_bytes{")]
            s += (int(sum(store) / 1024) if store else -1,)
            samples.append(s)
            csv.write("%.1f,%d,%d,%d,%d,%d,%d\n" % (s + (gauge(m, "courtier_queued_messages"),
                                                          gauge(m, 'courtier_connections_open{transport="tcp"}'))))
            csv.flush()
            if STOP.wait(args.sample):
                return

    checker = Checker(port, args.check_rate)
    rng = random.Random(seed)
    threads = [threading.Thread(target=sampler),
               threading.Thread(target=hub, args=(port, args.discovery, t0, args.duration, random.Random(rng.random()))),
               threading.Thread(target=takeovers, args=(port, random.Random(rng.random()))),
               threading.Thread(target=churn, args=(port, random.Random(rng.random()))),
               threading.Thread(target=home_assistant, args=(port, random.Random(rng.random()))),
               threading.Thread(target=slow_consumer, args=(port,)),
               threading.Thread(target=checker.publish_loop),
               threading.Thread(target=checker.away_loop)]
    threads += [threading.Thread(target=device, args=(port, k, t0, args.duration, random.Random(rng.random())))
                for k in range(args.devices)]
    for t in threads:
        t.daemon = True
        t.start()
    next_report = 60
    while time.monotonic() - t0 < args.duration:
        time.sleep(1)
        if time.monotonic() - t0 >= next_report and samples:
            s = samples[-1]
            print(f"  {s[0]:6.0f} s: rss {s[1] / 1024:6.1f} MiB, fds {s[2]:4}, threads {s[3]:3};"
                  f" connects {STATS['connects'].n}, killed {STATS['killed'].n}", flush=True)
            next_report += 60
    STOP.set()
    for t in threads:
        t.join(30)
    ok, lines = checker.finish()
    retained = count_retained(port, "homeassistant")
    try:
        metrics = urllib.request.urlopen(f"http://{HOST}:{http_port}/metrics", timeout=10).read().decode()
    except OSError as e:
        metrics = f"(metrics unavailable: {e})"
    open(os.path.join(out, "metrics.txt"), "w").write(metrics)
    final = (broker.rss_kib(), broker.open_fds())
    code = broker.terminate()

    lines.append(f"retained discovery topics after the run: {retained} of {args.discovery}")
    ok &= retained == args.discovery
    lines.append("clients: " + ", ".join(f"{k} {v.n}" for k, v in STATS.items()))
    # Every device killed without DISCONNECT has its will published to Home Assistant's
    # persistent session [MQTT-3.1.2-8].
    wills_ok = STATS["wills_seen"].n == STATS["devices_killed"].n
    lines.append(f"wills: {STATS['wills_seen'].n} received for {STATS['devices_killed'].n} devices killed"
                 + ("" if wills_ok else " (MISMATCH)"))
    ok &= wills_ok
    post = [s for s in samples if s[0] >= warmup]
    if len(post) >= 3:
        span = post[-1][0] - post[0][0]
        # With a store, its engine's memory is capped rather than flat (memtables fill up to
        # persistence.write_buffer_cap_mb over hours of retained updates): the broker's own memory
        # (RSS less the store's) must be flat; RSS and the store's part are reported beside it.
        with_store = all(s[4] >= 0 for s in post)
        series = [("RSS", lambda s: s[1] / 1024, "MiB", args.rss_tolerance_mib, not with_store)]
        if with_store:
            series += [("store (RocksDB)", lambda s: s[4] / 1024, "MiB", args.rss_tolerance_mib, False),
                       ("RSS less the store", lambda s: (s[1] - s[4]) / 1024, "MiB", args.rss_tolerance_mib, True)]
        series += [("open fds", lambda s: s[2], "", 2, True), ("threads", lambda s: s[3], "", 2, True)]
        for name, value, u, tol, checked in series:
            xs = [s[0] for s in post]
            ys = [value(s) for s in post]
            slope, _, sd = fit(xs, ys)
            growth = slope * span
            flat = growth <= max(2 * sd, tol)
            ok &= flat or not checked
            lines.append(f"{name}: after {warmup:.0f} s warm-up, {len(post)} samples over {span:.0f} s: min"
                         f" {min(ys):.1f}{u}, max {max(ys):.1f}{u}, last {ys[-1]:.1f}{u}; slope {slope * 3600:+.2f}{u}/h,"
                         f" growth over the window {growth:+.2f}{u}, noise (residual sd) {sd:.2f}{u}:"
                         f" {'flat' if flat else 'GROWING'}{'' if checked else ' (reported, not checked)'}")
    else:
        lines.append(f"too few samples after the warm-up ({len(post)}) to fit a slope")
        ok = False
    lines.append(f"at the end: rss {final[0] / 1024:.1f} MiB, fds {final[1]}; exit code on SIGTERM: {code}")
    ok &= code == 0
    keep = ("courtier_connections_total{transport=\"tcp\"}", "courtier_messages_dropped_total",
            "courtier_queued_messages")
    lines += ["metrics: " + m for m in metrics.splitlines() if m.startswith(keep) and not m.endswith(" 0")]
    lines.append("soak: " + ("ok" if ok else "FAILED"))
    text = "\n".join(lines)
    print(text)
    open(os.path.join(out, "summary.txt"), "w").write(text + "\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
