#!/usr/bin/env bash
# In-broker latency at a low rate: time from the read that brings a PUBLISH in to the next
# write the broker starts (the delivery), from syscall tracepoints, for a broker already
# running. Separates what the broker adds from the wake-up latency of the machine, which
# dominates end-to-end p50 at 1,000 msg/s on a VM. Needs `perf` (linux-perf) and root.
#
#   scripts/bench-gap.sh PID PORT          # e.g. $(pidof courtier) 1883, or a mosquitto
set -euo pipefail
PID=$1 PORT=$2
cd "$(dirname "$0")/.."
BENCH=${BENCH:-${CARGO_TARGET_DIR:-target}/release/courtier-bench}
DATA=$(mktemp)
trap 'rm -f "$DATA"' EXIT
taskset -c "${GEN_CPU:-1}" "$BENCH" latency -q 1 --rate 1000 -d 5 -p "$PORT" >/dev/null 2>&1 &
sleep 1.5
perf record -q -o "$DATA" -p "$PID" -e 'syscalls:sys_exit_recvfrom,syscalls:sys_exit_read,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_writev' -- sleep 2 2>/dev/null
wait
perf script -i "$DATA" -F time,event,trace 2>/dev/null | python3 -c '
import re, sys
gaps, t0 = [], None
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+):\s+(\S+):\s+(.*)", line)
    if not m:
        continue
    t, ev, rest = float(m.group(1)) * 1e6, m.group(2), m.group(3)
    if "sys_exit_re" in ev:
        r = re.search(r"0x([0-9a-f]+)", rest)
        if r and int(r.group(1), 16) >= 80:  # a read carrying a 64-byte-payload PUBLISH
            t0 = t
    elif "sys_enter_" in ev and t0 is not None:
        gaps.append(t - t0)
        t0 = None
gaps.sort()
n = len(gaps)
if not n:
    sys.exit("no PUBLISH reads seen")
print(f"n={n} read->first write p50={gaps[n//2]:.1f} p90={gaps[int(n*.9)]:.1f} p99={gaps[int(n*.99)]:.1f} us")
'
