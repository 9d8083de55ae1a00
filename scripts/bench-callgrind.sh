#!/usr/bin/env bash
# Instructions per message on the hot paths, under valgrind's callgrind: a count that a busy
# machine barely moves, for before/after comparisons where wall-clock throughput is noise.
# Needs valgrind, curl and bc.
#
#   scripts/bench-callgrind.sh                       # fanin-q1 fanout-q0 fanout-q1 pairs-q1
#   SCENARIOS="fanin-q1" scripts/bench-callgrind.sh  # some of them (also fanin-q0, pairs-q0)
#   SCENARIOS="fanout-q2" scripts/bench-callgrind.sh # fan-out QoS 2 with bench-compare's
#                                                    # [limits] (a window of 100)
#   SCENARIOS="pairs1-q1 pairs1-q1-traced" scripts/bench-callgrind.sh   # what a traced client's
#                                                    # messages cost (runtime trace, issue #15)
#   COURTIER=/path/to/older/courtier scripts/bench-callgrind.sh   # another build
#
# Per scenario: a fresh broker (release build, one worker thread, persistence off) under
# callgrind with instrumentation off; courtier-bench runs once to warm up (buffers, allocator),
# then, instrumented, runs of $SHORT and $LONG seconds (default 2 and 6), each dumped apart.
# Ir per message = (Ir(long) - Ir(short)) / (messages(long) - messages(short)), which cancels
# what every run costs whatever its length (100 connects and subscribes in fan-out); messages
# are those the broker sent (courtier_publish_messages_sent_total from /metrics): in fan-out
# one delivery. Output in $OUT (default target/bench-callgrind/<time>/): the callgrind files,
# `summary.txt`, and `callgrind_annotate` inclusive and exclusive profiles of the long run.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
COURTIER=${COURTIER:-$TARGET/release/courtier}
BENCH=${BENCH:-$TARGET/release/courtier-bench}
SHORT=${SHORT:-2}
LONG=${LONG:-6}
PORT=${PORT:-18851}
HTTP_PORT=${HTTP_PORT:-18852}
SCENARIOS=${SCENARIOS:-fanin-q1 fanout-q0 fanout-q1 pairs-q1}
OUT=${OUT:-$TARGET/bench-callgrind/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/conf.d"
cat >"$OUT/conf.d/10-bench.toml" <<TOML
[listener]
port = $PORT
[log]
level = "warn"
[http]
enabled = true
port = $HTTP_PORT
[persistence]
enabled = false
[broker]
sys_interval_secs = 0
TOML

args() { # the courtier-bench arguments of a scenario
  case $1 in
  fanin-q1) echo "fanin -q 1 --closed-loop 500" ;;
  fanin-q0) echo "fanin -q 0 --closed-loop 500" ;;
  fanin-q1-v5) echo "fanin -q 1 --closed-loop 500 --mqtt5" ;;
  fanout-q0) echo "fanout -q 0 --closed-loop 50" ;;
  fanout-q1) echo "fanout -q 1 --closed-loop 50" ;;
  fanout-q2) echo "fanout -q 2 --closed-loop 50" ;;
  pairs-q1) echo "pairs -q 1 --closed-loop 500" ;;
  pairs-q0) echo "pairs -q 0 --closed-loop 500" ;;
  # One pair of 101 sending (the others connected), as scripts/bench-trace.sh clients runs it:
  # untraced, and with its publisher in a runtime trace (issue #15's traced traffic).
  pairs1-q1) echo "pairs -q 1 --pairs 101 --closed-loop 500 --only-first" ;;
  pairs1-q1-traced) echo "pairs -q 1 --pairs 101 --closed-loop 500 --only-first --trace-first http://127.0.0.1:$HTTP_PORT --trace-role publisher" ;;
  *) echo "unknown scenario $1" >&2; exit 1 ;;
  esac
}

limits() { # the broker's environment for a scenario: fanout-q2 with bench-compare's [limits]
  case $1 in
  fanout-q2) echo "COURTIER__LIMITS__MAX_INFLIGHT_MESSAGES=100 COURTIER__LIMITS__MAX_QUEUED_MESSAGES=8192" ;;
  esac
}

wait_http() {
  for _ in $(seq 400); do
    curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" >/dev/null && return
    sleep 0.1
  done
  return 1
}

sent() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
  awk '/^courtier_publish_messages_sent_total/ { s += $NF } END { printf "%d\n", s }'; }

total() { # total FILE: the instructions a callgrind dump counted
  callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

run() { # run SCENARIO SECONDS: one courtier-bench run against the broker
  # shellcheck disable=SC2046
  "$BENCH" $(args "$1") -d "$2" -p "$PORT" --label "$1-$2s" >>"$OUT/bench.jsonl" 2>>"$OUT/bench.txt"
}

for sc in $SCENARIOS; do
  file=$OUT/callgrind.$sc
  # shellcheck disable=SC2046
  env $(limits "$sc") COURTIER__BROKER__WORKER_THREADS=1 valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$file" "$COURTIER" -c "$OUT/conf.d" 2>>"$OUT/valgrind.log" &
  pid=$!
  wait_http
  run "$sc" 1 # warm-up, not counted
  callgrind_control -i on "$pid" >/dev/null
  n0=$(sent)
  run "$sc" "$SHORT"
  callgrind_control -d short "$pid" >/dev/null
  n1=$(sent)
  run "$sc" "$LONG"
  callgrind_control -d long "$pid" >/dev/null
  n2=$(sent)
  callgrind_control -i off "$pid" >/dev/null
  kill -TERM "$pid"
  wait "$pid" || true
  ir1=$(total "$file.1") ir2=$(total "$file.2")
  printf '%s: %s Ir / %s messages (%ss), %s Ir / %s messages (%ss): %.0f Ir/msg\n' "$sc" \
    "$ir1" $((n1 - n0)) "$SHORT" "$ir2" $((n2 - n1)) "$LONG" \
    "$(echo "($ir2 - $ir1) / ($n2 - $n1 - $n1 + $n0)" | bc -l)" | tee -a "$OUT/summary.txt"
  callgrind_annotate --inclusive=yes "$file.2" >"$OUT/inclusive.$sc.txt" 2>/dev/null
  callgrind_annotate "$file.2" >"$OUT/exclusive.$sc.txt" 2>/dev/null
done
echo "results in $OUT"
