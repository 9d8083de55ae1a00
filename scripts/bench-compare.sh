#!/usr/bin/env bash
# Courtier vs Mosquitto (vs rumqttd) on this machine, side by side, same run.
#
# Each broker is pinned to core 0 with taskset, the generator (courtier-bench) to core 1. Every
# round starts fresh brokers, runs `conns` first (memory per idle connection needs a fresh
# process), then every scenario against every broker, the broker order rotating per round.
# Prints medians, [min-max] ranges, ratios and broker CPU µs per delivered message; writes the
# raw JSON lines and a Markdown summary to $OUT. Loopback only; stops by itself.
#
#   scripts/bench-compare.sh                 # 3 rounds, 5 s per throughput run
#   ROUNDS=1 DURATION=2 CONNS=2000 scripts/bench-compare.sh      # quick check
#   ONLY="fanin-q1 latency-q1" scripts/bench-compare.sh          # a subset of scenarios
#   ONLY="fanin-q1-v5 fanout-q1-v5" scripts/bench-compare.sh      # MQTT 5.0 (not rumqttd)
#   BROKERS="courtier mosquitto" scripts/bench-compare.sh         # skip rumqttd
#   BASELINE=/path/to/older/courtier scripts/bench-compare.sh     # adds "courtier-base": before/after
#   ONLY=conns CONNS=100000 ROUNDS=1 scripts/bench-compare.sh     # 100,000 idle connections
#     (needs an open-files hard limit above 100,000: run as root, or raise it first)
#
# Mosquitto: the Debian package (installed with apt-get if missing), run directly with its own
# config on its own port, never the system service. rumqttd: $RUMQTTD, or `rumqttd` on PATH, or
# target/tools/bin/rumqttd; INSTALL_RUMQTTD=1 tries `cargo install rumqttd` (bounded); skipped
# when unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-10000}
BROKERS=${BROKERS:-courtier mosquitto rumqttd}
ONLY=${ONLY:-}
BROKER_CPU=${BROKER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=${OUT:-$TARGET/bench/$(date +%Y%m%d-%H%M%S)}
PORT_COURTIER=18830 PORT_MOSQUITTO=18831 PORT_RUMQTTD=18832 PORT_API=18834
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# Scenario id | courtier-bench arguments [| the brokers it applies to, when not all]. Closed
# loop everywhere: a broker that only buffers cannot look fast, and QoS 1/2 runs must show zero
# loss. The -v5 scenarios speak MQTT 5.0 (--mqtt5): not rumqttd, configured below with its
# 3.1.1 listener only (its 5.0 support is partial). A BASELINE older than MQTT 5.0 refuses them
# ("courtier-base ...: failed" in the log, "-" in the summary).
V5_BROKERS="courtier courtier-base mosquitto"
SCENARIOS=(
  "fanin-q0|fanin -q 0 --closed-loop 500"
  "fanin-q1|fanin -q 1 --closed-loop 500"
  "fanin-q2|fanin -q 2 --closed-loop 500"
  "fanin-q1-v5|fanin -q 1 --closed-loop 500 --mqtt5|$V5_BROKERS"
  "fanout-q0|fanout -q 0 --closed-loop 50"
  "fanout-q1|fanout -q 1 --closed-loop 50"
  "fanout-q2|fanout -q 2 --closed-loop 50"
  "fanout-q1-v5|fanout -q 1 --closed-loop 50 --mqtt5|$V5_BROKERS"
  # One of the 100 subscribers in a runtime trace (started over the API): compare with fanout-q0.
  "fanout-q0-traced-1|fanout -q 0 --closed-loop 50 --trace-first http://127.0.0.1:$PORT_API|courtier"
  "pairs-q0|pairs -q 0 --closed-loop 500"
  "pairs-q1|pairs -q 1 --closed-loop 500"
  "pairs-q2|pairs -q 2 --closed-loop 500"
  "latency-q1|latency -q 1 --rate 1000"
  "retained-burst|retained-burst -q 1"
  "persistent|persistent -q 1"
  "persistent-4k|persistent -q 1 --payload 4096"
)

log() { echo "== $*" >&2; }

# --- prerequisites ---------------------------------------------------------------------------
log "building courtier and courtier-bench (release)"
cargo build --release -p courtier -p courtier-bench >&2
COURTIER=$TARGET/release/courtier
BENCH=$TARGET/release/courtier-bench

if [[ " $BROKERS " == *" mosquitto "* ]] && ! command -v mosquitto >/dev/null; then
  log "installing the mosquitto package"
  SUDO=$([[ $(id -u) == 0 ]] || echo sudo)
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mosquitto >&2 ||
    { log "mosquitto unavailable: skipped"; BROKERS=${BROKERS/mosquitto/}; }
fi
RUMQTTD=${RUMQTTD:-$(command -v rumqttd || echo "$TARGET/tools/bin/rumqttd")}
if [[ " $BROKERS " == *" rumqttd "* && ! -x $RUMQTTD && ${INSTALL_RUMQTTD:-0} == 1 ]]; then
  log "cargo install rumqttd (at most 30 min)"
  timeout 1800 cargo install --root "$TARGET/tools" rumqttd >&2 || true
fi
if [[ " $BROKERS " == *" rumqttd "* && ! -x $RUMQTTD ]]; then
  log "rumqttd not found ($RUMQTTD): skipped (INSTALL_RUMQTTD=1 to build it)"
  BROKERS=${BROKERS/rumqttd/}
fi
if [[ -n ${BASELINE:-} ]]; then BROKERS="$BROKERS courtier-base"; fi
read -r -a BROKER_LIST <<<"$BROKERS"

# Idle-connection runs need many descriptors, for the brokers and the generator alike (each
# process holds one per connection). Raising the hard limit needs root with CAP_SYS_RESOURCE;
# without it the hard limit caps every process, and CONNS above it cannot be established.
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < 1048576)); then
  ulimit -Hn 1048576 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)"
if [[ " $ONLY " == *" conns "* || -z $ONLY ]]; then
  if (($(ulimit -n) < CONNS + 100)); then
    log "open-files limit $(ulimit -n) < CONNS=$CONNS + 100: conns will fail past the limit" \
      "(raise the hard limit: root with CAP_SYS_RESOURCE, or LimitNOFILE= for a service)"
  fi
  # More than 20,000 connections use several loopback source addresses (courtier-bench), so the
  # ephemeral port range only has to hold 20,000 per address.
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
  if ((hi - lo < 20000 && CONNS > hi - lo)); then
    log "ephemeral ports $lo-$hi hold fewer than 20,000 connections per source address:" \
      "sysctl -w net.ipv4.ip_local_port_range='1024 65000'"
  fi
fi

# --- broker configs (comparable limits: the same outgoing inflight window for all three,
# rumqttd's sample value 100 unless INFLIGHT says otherwise; queue 8192; no persistence) ------
INFLIGHT=${INFLIGHT:-100}
mkdir -p "$OUT/courtier.d"
cat >"$OUT/courtier.d/10-bench.toml" <<EOF
[listener]
port = $PORT_COURTIER
[limits]
max_inflight_messages = $INFLIGHT
max_queued_messages = 8192
[log]
level = "warn"
[http]
# Only for the trace API of fanout-q0-traced-1 (not 9001: it may be taken on this machine).
port = $PORT_API
[persistence]
data_dir = "$OUT/courtier-data"
EOF
cat >"$OUT/mosquitto.conf" <<EOF
listener $PORT_MOSQUITTO 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages $INFLIGHT
max_queued_messages 8192
max_connections -1
log_dest stderr
log_type error
log_type warning
EOF
cat >"$OUT/rumqttd.toml" <<EOF
id = 0
[router]
id = 0
max_connections = 200010
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:$PORT_RUMQTTD"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = $INFLIGHT
    dynamic_filters = true
EOF

declare -A PID PORT=([courtier]=$PORT_COURTIER [mosquitto]=$PORT_MOSQUITTO [rumqttd]=$PORT_RUMQTTD
  [courtier-base]=18833)

start_broker() {
  local b=$1
  if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$b]}") 2>/dev/null; then
    log "port ${PORT[$b]} ($b) is already in use: stop whatever listens there first"
    exit 1
  fi
  case $b in
    courtier) taskset -c "$BROKER_CPU" "$COURTIER" --config-dir "$OUT/courtier.d" 2>>"$OUT/courtier.log" & ;;
    courtier-base) COURTIER__HTTP__ENABLED=false taskset -c "$BROKER_CPU" "$BASELINE" --config-dir "$OUT/courtier.d" -p 18833 \
      --data-dir "$OUT/courtier-base-data" 2>>"$OUT/courtier-base.log" & ;;
    mosquitto) taskset -c "$BROKER_CPU" mosquitto -c "$OUT/mosquitto.conf" 2>>"$OUT/mosquitto.log" & ;;
    rumqttd) RUST_LOG=warn taskset -c "$BROKER_CPU" "$RUMQTTD" -c "$OUT/rumqttd.toml" >>"$OUT/rumqttd.log" 2>&1 & ;;
  esac
  PID[$b]=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$b]}") 2>/dev/null && return 0
    sleep 0.1
  done
  log "$b did not start (see $OUT/$b.log)"
  return 1
}

stop_brokers() {
  for b in "${!PID[@]}"; do
    kill "${PID[$b]}" 2>/dev/null || true
    wait "${PID[$b]}" 2>/dev/null || true
    unset "PID[$b]"
  done
}
trap stop_brokers EXIT

bench() { # broker id round args...
  local b=$1 id=$2 round=$3
  shift 3
  local line
  line=$(timeout 120 taskset -c "$GEN_CPU" "$BENCH" "$@" -p "${PORT[$b]}" --broker-pid "${PID[$b]}" \
    --label "$b" 2>>"$OUT/bench.log") || { log "$b $id: failed"; return 0; }
  echo "{\"id\":\"$id\",\"round\":$round,${line#\{}" >>"$RESULTS"
  echo "$b $id: $line" >&2
}

wanted() { [[ -z $ONLY || " $ONLY " == *" $1 "* ]]; }

# --- rounds ----------------------------------------------------------------------------------
for round in $(seq "$ROUNDS"); do
  # Rotate the broker order each round so no broker always runs first (or last).
  n=${#BROKER_LIST[@]}
  order=()
  for i in $(seq 0 $((n - 1))); do order+=("${BROKER_LIST[$(((i + round) % n))]}"); done
  log "round $round/$ROUNDS: ${order[*]}"
  for b in "${order[@]}"; do start_broker "$b"; done
  if wanted conns; then
    for b in "${order[@]}"; do bench "$b" conns "$round" conns --count "$CONNS"; done
    # Fresh brokers for the rest: the connections' memory is not the subject any more.
    stop_brokers
    for b in "${order[@]}"; do start_broker "$b"; done
  fi
  for s in "${SCENARIOS[@]}"; do
    IFS='|' read -r id argv applies <<<"$s"
    read -r -a args <<<"$argv"
    wanted "$id" || continue
    for b in "${order[@]}"; do
      [[ -z $applies || " $applies " == *" $b "* ]] || continue
      bench "$b" "$id" "$round" "${args[@]}" -d "$DURATION"
    done
  done
  stop_brokers
done

# --- summary ---------------------------------------------------------------------------------
python3 scripts/bench-summary.py "$RESULTS" "${BROKER_LIST[@]}" | tee "$OUT/summary.md"
log "raw results: $RESULTS"
