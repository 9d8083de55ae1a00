#!/usr/bin/env python3
"""Summarise courtier-bench JSON lines: median [min-max] per scenario and broker, ratios
against the first broker, broker CPU µs per delivered message. Markdown on stdout.

usage: bench-summary.py results.jsonl courtier mosquitto [rumqttd]
"""
import json
import statistics
import sys
from collections import defaultdict

# (metric, label, higher is better)
METRICS = {
    "conns": [("connect_s", "connect s (lower)", False),
              ("bytes_per_conn", "bytes/conn (lower)", False)],
    "latency-q1": [("p50_us", "p50 µs (lower)", False), ("p90_us", "p90 µs (lower)", False),
                   ("p99_us", "p99 µs (lower)", False), ("max_us", "max µs (lower)", False)],
    "retained-burst": [("all_received_s", "all received s (lower)", False)],
    "persistent": [("enqueue_per_s", "enqueue msg/s", True), ("msgs_per_s", "drain msg/s", True)],
}
METRICS["persistent-4k"] = METRICS["persistent"]
# The probe's latency beside a fan-in at half of the broker's fanin-q1 rate, and that load.
METRICS["latency-q1-loaded"] = METRICS["latency-q1"] + [
    ("load_msgs_per_s", "fan-in load msg/s", True)]
# Broker topic aliases: the same run with and without them; the bytes are what they save.
for _sid in ("fanout-q1-v5-devices", "fanout-q1-v5-alias"):
    METRICS[_sid] = [("msgs_per_s", "deliveries/s", True),
                     ("rx_bytes_per_msg", "bytes/delivery on the wire (lower)", False)]
METRICS["conns-tls"] = [("connects_per_s", "TLS connects/s", True)]
METRICS["reconnect-pw"] = [("cold_connects_per_s", "connects/s, passwords cold", True),
                           ("cached_connects_per_s", "connects/s, passwords cached", True)]
DEFAULT = [("msgs_per_s", "deliveries/s", True)]
CPU = ("broker_cpu_us_per_msg", "broker CPU µs/msg (lower)", False)


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def main():
    path, brokers = sys.argv[1], sys.argv[2:]
    runs = defaultdict(list)
    order = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r["id"] not in order:
                order.append(r["id"])
            runs[(r["id"], r["broker"])].append(r)

    head = "| scenario | metric | " + " | ".join(brokers)
    head += " | " + " | ".join(f"{brokers[0]}/{b}" for b in brokers[1:]) + " |"
    print(head)
    print("|" + "---|" * (2 + len(brokers) + len(brokers) - 1))
    for sid in order:
        metrics = METRICS.get(sid, DEFAULT) + ([CPU] if sid not in ("conns", "conns-tls", "reconnect-pw", "latency-q1") else [])
        for key, label, higher in metrics:
            meds, cells = {}, []
            for b in brokers:
                vals = [r[key] for r in runs.get((sid, b), []) if r.get(key) is not None]
                if not vals:
                    cells.append("-")
                    continue
                m = statistics.median(vals)
                meds[b] = m
                cell = fmt(m)
                if len(vals) > 1:
                    cell += f" [{fmt(min(vals))}–{fmt(max(vals))}]"
                cells.append(cell)
            ratios = []
            for b in brokers[1:]:
                a, o = meds.get(brokers[0]), meds.get(b)
                ratios.append(f"{a / o:.2f}×" if a and o else "-")
            print(f"| {sid} | {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    # Loss at QoS 1/2 is a failure whatever the speed.
    lossy = [(k, r["round"]) for k, rs in runs.items() for r in rs if r.get("zero_loss") == "FAILED"]
    reordered = [(k, r["round"]) for k, rs in runs.items() for r in rs if r.get("out_of_order")]
    incomplete = sorted({k[1] for k, rs in runs.items() for r in rs
                         if r.get("subscribers_complete", 0) < r.get("subscribers", 0)
                         and r["id"] == "retained-burst"})
    print()
    if incomplete:
        print("retained-burst incomplete (not every subscriber got every message):", incomplete)
    print("zero loss at QoS 1/2:", "ok" if not lossy else f"FAILED in {lossy}")
    print("per-publisher order:", "ok" if not reordered else f"violated in {reordered}")


if __name__ == "__main__":
    main()
