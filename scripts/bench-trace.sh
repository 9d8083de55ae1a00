#!/usr/bin/env bash
# What tracing costs: broker CPU per delivered message.
#
#   scripts/bench-trace.sh fanin      # [trace] matching nothing: courtier-bench fanin QoS 1,
#                                     # ROUNDS interleaved runs each
#   scripts/bench-trace.sh callgrind  # the same in instructions per message under valgrind
#   scripts/bench-trace.sh clients    # one client traced at runtime while $PAIRS-1 others are
#                                     # not (issue #15's "Costs"), see below
#
# Configurations ($CONFIGS): "off" (no [trace]), "unrelated" ([trace] topics =
# ["some/unrelated/#"], which matches none of the load) and, if $BASELINE names an older
# courtier binary (e.g. one built without tracing), "base" (that binary, no [trace]).
# Release builds in $CARGO_TARGET_DIR (or target/); the broker pinned to core $BROKER_CPU and
# the generator to $GEN_CPU (fanin). callgrind needs valgrind and mosquitto-clients. Output in
# $OUT (default target/bench-trace/<time>/). Results and their reading: docs/PERFORMANCE.md.
#
# clients: $PAIRS publisher/subscriber pairs (default 101) at QoS 1, the trace started over the
# admin API on the first pair's publisher (every hop of its messages recorded), ROUNDS rounds
# (default 5) of five interleaved runs, a fresh broker each:
#   off-rest     no trace; pairs 2.. at full speed, the first pair at $FIRST_RATE msg/s
#   traced-rest  the same with the first publisher traced: the cost to untraced traffic
#   stream-rest  the same with the trace's live stream read (an open dashboard): its cost to
#                untraced traffic
#   off-first    no trace; only the first pair sends, at full speed, the others connected
#   traced-first the same with it traced: the cost to traced traffic itself (its log lines
#                within [trace] log_lines_per_sec, 10,000 a second by default)
#   traced-first-all  the same with every record logged (log_lines_per_sec = 0: ~1 KB of log
#                per message)
# then the median broker CPU µs per delivery of each and its spread (min..max), and the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
COURTIER=${COURTIER:-$TARGET/release/courtier}
BENCH=${BENCH:-$TARGET/release/courtier-bench}
CONFIGS_SET=${CONFIGS:-}
ROUNDS_SET=${ROUNDS:-}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
MESSAGES=${MESSAGES:-20000}
BROKER_CPU=${BROKER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
CONFIGS=${CONFIGS:-off unrelated${BASELINE:+ base}}
PORT=${PORT:-18841}
HTTP_PORT=${HTTP_PORT:-18842}
PAIRS=${PAIRS:-101}
FIRST_RATE=${FIRST_RATE:-20}
OUT=${OUT:-$TARGET/bench-trace/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

conf() { # conf NAME: a config directory for one configuration
  local d=$OUT/$1.d
  mkdir -p "$d"
  cat >"$d/10-bench.toml" <<TOML
[listener]
port = $PORT
[log]
level = "warn"
[http]
enabled = $([[ $1 == *-* ]] && echo true || echo false)
port = $HTTP_PORT
[persistence]
enabled = false
[broker]
sys_interval_secs = 0
TOML
  if [[ $1 == unrelated ]]; then
    printf '[trace]\ntopics = ["some/unrelated/#"]\n' >"$d/20-trace.toml"
  fi
  if [[ $1 == *-all ]]; then # every record of a runtime trace logged (no log_lines_per_sec)
    printf '[trace]\nlog_lines_per_sec = 0\n' >"$d/20-trace.toml"
  fi
  echo "$d"
}

wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return; sleep 0.05; done; return 1; }

binary() { if [[ $1 == base ]]; then echo "$BASELINE"; else echo "$COURTIER"; fi; }

stop() { kill -TERM "$1"; wait "$1" || true; }

case ${1:-fanin} in
fanin)
  for round in $(seq "$ROUNDS"); do
    for cfg in $CONFIGS; do
      taskset -c "$BROKER_CPU" "$(binary $cfg)" -c "$(conf $cfg)" 2>>"$OUT/$cfg.log" &
      pid=$!
      wait_port
      taskset -c "$GEN_CPU" "$BENCH" fanin -q 1 --closed-loop 500 -d "$DURATION" -p "$PORT" --broker-pid "$pid" \
        --label "$cfg" >>"$OUT/$cfg.jsonl" 2>>"$OUT/bench.txt"
      stop "$pid"
      echo "round $round $cfg: $(tail -1 "$OUT/$cfg.jsonl")"
    done
  done
  ;;
callgrind)
  # Two counts per configuration; (Ir(2N) - Ir(N)) / N cancels start-up and shutdown.
  for round in $(seq "$ROUNDS"); do
    for cfg in $CONFIGS; do
      for n in "$MESSAGES" $((2 * MESSAGES)); do
        file=$OUT/callgrind.$cfg.$n.$round
        COURTIER__BROKER__WORKER_THREADS=1 valgrind --tool=callgrind --callgrind-out-file="$file" \
          "$(binary $cfg)" -c "$(conf $cfg)" 2>>"$OUT/$cfg.valgrind.log" &
        pid=$!
        wait_port
        mosquitto_sub -p "$PORT" -q 1 -t 'load/#' -C "$n" >/dev/null &
        sub=$!
        sleep 1
        seq "$n" | mosquitto_pub -p "$PORT" -q 1 -t load/x -l
        wait "$sub"
        stop "$pid"
        ir=$(grep -m1 '^summary:' "$file" | awk '{print $2}')
        echo "$round $cfg $n $ir" | tee -a "$OUT/callgrind.txt"
      done
    done
  done
  # Instructions per message: (Ir(2N) - Ir(N)) / N, per round and configuration.
  awk -v n="$MESSAGES" '$3 == n { a[$1" "$2] = $4 } $3 == 2 * n { b[$1" "$2] = $4 }
    END { for (k in a) printf "%s %.0f Ir/msg\n", k, (b[k] - a[k]) / n }' "$OUT/callgrind.txt" | sort
  ;;
clients)
  [[ -n ${CONFIGS_SET:-} ]] || CONFIGS="off-rest traced-rest stream-rest off-first traced-first traced-first-all"
  ROUNDS=${ROUNDS_SET:-$(( ROUNDS < 5 ? 5 : ROUNDS ))}
  for round in $(seq "$ROUNDS"); do
    for cfg in $CONFIGS; do
      args=(pairs -q 1 --pairs "$PAIRS" --closed-loop 500 -d "$DURATION" -p "$PORT" --label "$cfg")
      case $cfg in
        *-rest) args+=(--first-rate "$FIRST_RATE") ;;
        *-first | *-first-all) args+=(--only-first) ;;
      esac
      case $cfg in
        traced-*) args+=(--trace-first "http://127.0.0.1:$HTTP_PORT" --trace-role publisher) ;;
        stream-*) args+=(--trace-first "http://127.0.0.1:$HTTP_PORT" --trace-role publisher --trace-stream) ;;
      esac
      taskset -c "$BROKER_CPU" "$COURTIER" -c "$(conf "$cfg")" 2>>"$OUT/$cfg.log" &
      pid=$!
      wait_port
      taskset -c "$GEN_CPU" "$BENCH" "${args[@]}" --broker-pid "$pid" >>"$OUT/$cfg.jsonl" 2>>"$OUT/bench.txt"
      stop "$pid"
      # A traced run logs ~1 GB of trace lines: keep their last 1,000 (a shared disk).
      tail -n 1000 "$OUT/$cfg.log" >"$OUT/$cfg.log.tail" && mv "$OUT/$cfg.log.tail" "$OUT/$cfg.log"
      echo "round $round $cfg: $(tail -1 "$OUT/$cfg.jsonl")"
    done
  done
  python3 - "$OUT" $CONFIGS <<'PY' | tee "$OUT/summary.txt"
import json, statistics, sys
out, cfgs = sys.argv[1], sys.argv[2:]
med = {}
for c in cfgs:
    runs = [json.loads(l) for l in open(f"{out}/{c}.jsonl") if l.strip()]
    us = [r["broker_cpu_us_per_msg"] for r in runs]
    first = [r["first_delivered"] / r["duration_s"] for r in runs]
    rest = [r["rest_delivered"] / r["duration_s"] for r in runs]
    med[c] = statistics.median(us)
    extra = f" stream records {statistics.median([r.get('stream_records', 0) for r in runs]):.0f}" if "stream" in c else ""
    print(f"{c:13} broker µs/delivery median {med[c]:.3f} (min {min(us):.3f} max {max(us):.3f}, "
          f"spread {100 * (max(us) - min(us)) / med[c]:.1f} %), first pair {statistics.median(first):.0f} msg/s, "
          f"others {statistics.median(rest):.0f} msg/s, {len(runs)} runs{extra}")
def ratio(a, b, what):
    if a in med and b in med:
        print(f"{what}: {100 * (med[a] / med[b] - 1):+.1f} % ({a} vs {b})")
ratio("traced-rest", "off-rest", "untraced traffic, one client traced (bound +2 %)")
ratio("stream-rest", "off-rest", "untraced traffic, live stream read (bound: noise)")
ratio("traced-first", "off-first", "traced traffic itself (bound +15 %)")
ratio("traced-first-all", "off-first", "traced traffic itself, every record logged")
PY
  ;;
*) echo "usage: $0 fanin|callgrind|clients" >&2; exit 2 ;;
esac
