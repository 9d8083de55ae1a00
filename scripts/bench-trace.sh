#!/usr/bin/env bash
# Cost of [trace] when it matches nothing: broker CPU per message, tracing off vs on.
#
#   scripts/bench-trace.sh fanin      # courtier-bench fanin QoS 1, ROUNDS interleaved runs each
#   scripts/bench-trace.sh callgrind  # instructions per message under valgrind, fixed count
#
# Configurations ($CONFIGS): "off" (no [trace]), "unrelated" ([trace] topics =
# ["some/unrelated/#"], which matches none of the load) and, if $BASELINE names an older
# courtier binary (e.g. one built without tracing), "base" (that binary, no [trace]).
# Release builds in $CARGO_TARGET_DIR (or target/); the broker pinned to core $BROKER_CPU and
# the generator to $GEN_CPU (fanin). callgrind needs valgrind and mosquitto-clients. Output in
# $OUT (default target/bench-trace/<time>/). Results and their reading: docs/PERFORMANCE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
COURTIER=${COURTIER:-$TARGET/release/courtier}
BENCH=${BENCH:-$TARGET/release/courtier-bench}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4}
MESSAGES=${MESSAGES:-20000}
BROKER_CPU=${BROKER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
CONFIGS=${CONFIGS:-off unrelated${BASELINE:+ base}}
PORT=${PORT:-18841}
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
enabled = false
[persistence]
enabled = false
[broker]
sys_interval_secs = 0
TOML
  if [[ $1 == unrelated ]]; then
    printf '[trace]\ntopics = ["some/unrelated/#"]\n' >"$d/20-trace.toml"
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
*) echo "usage: $0 fanin|callgrind" >&2; exit 2 ;;
esac
