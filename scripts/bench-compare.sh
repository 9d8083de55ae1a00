#!/usr/bin/env bash
# Courtier vs FlashMQ vs Mosquitto (vs rumqttd) on this machine, side by side, same run.
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
#   ONLY="fanin-q1 latency-q1 latency-q1-loaded" scripts/bench-compare.sh
#     # latency under load: the latency-q1 probe beside a QoS 1 fan-in at half of the broker's
#     # fanin-q1 rate of the same round (measured first as fanin-q1-max when fanin-q1 is not run)
#   ONLY="fanin-q1-v5 fanout-q1-v5" scripts/bench-compare.sh      # MQTT 5.0 (not rumqttd)
#   ONLY="fanout-q1-v5-devices fanout-q1-v5-alias" scripts/bench-compare.sh
#     # broker topic aliases off vs on: 10 long device topics to 100 subscribers, which send
#     # Topic Alias Maximum 10 in the -alias run (Mosquitto sends no aliases either way)
#   ONLY="fanin-q1 shared-fanin-q1" scripts/bench-compare.sh      # shared subscription group of 4
#   BROKERS="courtier mosquitto" scripts/bench-compare.sh         # skip FlashMQ and rumqttd
#   BASELINE=/path/to/older/courtier scripts/bench-compare.sh     # adds "courtier-base": before/after
#   ONLY=conns CONNS=100000 ROUNDS=1 scripts/bench-compare.sh     # 100,000 idle connections
#     (needs an open-files hard limit above 100,000: run as root, or raise it first)
#   BROKERS="courtier mosquitto" ONLY="fanin-q1-tls fanout-q1-tls conns-tls reconnect-pw" \
#     scripts/bench-compare.sh                                     # TLS and passwords (#14)
#   BROKERS="courtier courtier-acl" ONLY="fanin-q1 fanout-q1" scripts/bench-compare.sh
#     # the cost of a 1,000-rule ACL file (courtier-acl: the same broker with one)
#
# Security (issue #14): Courtier and Mosquitto also listen with TLS (the same ECDSA P-256
# certificate and key, made here with openssl; TLS 1.2 minimum on both), and both read the same
# password file of RECONNECT_USERS users written by `courtier passwd` ($7$, 101 iterations, as
# mosquitto_passwd writes by default). reconnect-pw: RECONNECT_USERS clients, each its own user,
# connect (every password hashed: "cold"), disconnect, and connect again ("cached").
#
# Mosquitto: the Debian package (installed with apt-get if missing), run directly with its own
# config on its own port, never the system service. FlashMQ: $FLASHMQ, or `flashmq` on PATH, or
# target/flashmq/bin/flashmq as scripts/install-flashmq.sh builds it (INSTALL_FLASHMQ=1 runs that
# script here; it needs FlashMQ's source, see its header); one worker thread (thread_count 1, as
# it is pinned to one core), MQTT 3.1.1 and 5.0, TCP and TLS listeners, no persistence.
# rumqttd: $RUMQTTD, or `rumqttd` on PATH, or target/tools/bin/rumqttd; INSTALL_RUMQTTD=1 tries
# `cargo install rumqttd` (bounded). FlashMQ and rumqttd are skipped when unavailable.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-10000}
BROKERS=${BROKERS:-courtier flashmq mosquitto rumqttd}
ONLY=${ONLY:-}
BROKER_CPU=${BROKER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
OUT=${OUT:-$TARGET/bench/$(date +%Y%m%d-%H%M%S)}
PORT_COURTIER=18830 PORT_MOSQUITTO=18831 PORT_RUMQTTD=18832 PORT_COURTIER_ACL=18834 PORT_API=18835
PORT_FLASHMQ=18836
TLS_COURTIER=18840 TLS_MOSQUITTO=18841 TLS_FLASHMQ=18842
mkdir -p "$OUT"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

# Scenario id | courtier-bench arguments [| the brokers it applies to, when not all]. Closed
# loop everywhere: a broker that only buffers cannot look fast, and QoS 1/2 runs must show zero
# loss. The -v5 scenarios speak MQTT 5.0 (--mqtt5): not rumqttd, configured below with its
# 3.1.1 listener only (its 5.0 support is partial). A BASELINE older than MQTT 5.0 refuses them
# ("courtier-base ...: failed" in the log, "-" in the summary).
V5_BROKERS="courtier courtier-base flashmq mosquitto"
# shared-fanin-q1: fanin-q1's publishers into a shared subscription group of 4
# ($share/bench/...), each message to one member; compare with fanin-q1 (one plain subscriber).
SHARED_BROKERS="courtier courtier-base flashmq mosquitto"
TLS_BROKERS="courtier flashmq mosquitto"
# latency-q1-loaded: the latency-q1 probe (publisher 0, its own topic and subscriber) while 10
# more publishers send QoS 1 at LOAD_RATE in all to one wildcard subscriber, as fanin-q1 does:
# half of the broker's fanin-q1 msg/s of the same round (see load_rate below).
SCENARIOS=(
  "fanin-q0|fanin -q 0 --closed-loop 500"
  "fanin-q1|fanin -q 1 --closed-loop 500"
  "fanin-q2|fanin -q 2 --closed-loop 500"
  "fanin-q1-v5|fanin -q 1 --closed-loop 500 --mqtt5|$V5_BROKERS"
  "shared-fanin-q1|fanin -q 1 --closed-loop 500 --shared 4|$SHARED_BROKERS"
  "fanout-q0|fanout -q 0 --closed-loop 50"
  "fanout-q1|fanout -q 1 --closed-loop 50"
  "fanout-q2|fanout -q 2 --closed-loop 50"
  "fanout-q1-v5|fanout -q 1 --closed-loop 50 --mqtt5|$V5_BROKERS"
  "fanout-q1-v5-devices|fanout -q 1 --closed-loop 50 --mqtt5 --device-topics 10|$V5_BROKERS"
  "fanout-q1-v5-alias|fanout -q 1 --closed-loop 50 --mqtt5 --device-topics 10 --topic-alias-max 10|$V5_BROKERS"
  # One of the 100 subscribers in a runtime trace (started over the API): compare with fanout-q0.
  "fanout-q0-traced-1|fanout -q 0 --closed-loop 50 --trace-first http://127.0.0.1:$PORT_API|courtier"
  "pairs-q0|pairs -q 0 --closed-loop 500"
  "pairs-q1|pairs -q 1 --closed-loop 500"
  "pairs-q2|pairs -q 2 --closed-loop 500"
  "latency-q1|latency -q 1 --rate 1000"
  "latency-q1-loaded|latency -q 1 --rate 1000 --closed-loop 500 --load-rate LOAD_RATE"
  "retained-burst|retained-burst -q 1"
  "persistent|persistent -q 1"
  "persistent-4k|persistent -q 1 --payload 4096"
  "fanin-q1-tls|fanin -q 1 --closed-loop 500 --tls-ca TLS_CA|$TLS_BROKERS"
  "fanout-q1-tls|fanout -q 1 --closed-loop 50 --tls-ca TLS_CA|$TLS_BROKERS"
  "conns-tls|conns --count 2000 --tls-ca TLS_CA|$TLS_BROKERS"
  "reconnect-pw|reconnect --count RECONNECT_USERS --username bench{i} --password pw-{i}|courtier mosquitto"
)
RECONNECT_USERS=${RECONNECT_USERS:-1000}

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
FLASHMQ=${FLASHMQ:-$(command -v flashmq || echo "$TARGET/flashmq/bin/flashmq")}
if [[ " $BROKERS " == *" flashmq "* && ! -x $FLASHMQ && ${INSTALL_FLASHMQ:-0} == 1 ]]; then
  log "building FlashMQ with scripts/install-flashmq.sh"
  scripts/install-flashmq.sh >&2 || true
fi
if [[ " $BROKERS " == *" flashmq "* && ! -x $FLASHMQ ]]; then
  log "flashmq not found ($FLASHMQ): skipped (scripts/install-flashmq.sh builds it)"
  BROKERS=${BROKERS/flashmq/}
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

# --- TLS certificate and password file, the same for Courtier and Mosquitto -------------------
TLS=$OUT/tls
mkdir -p "$TLS"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 2 \
  -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req "${ec[@]}" -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$TLS/server.ext"
openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
  -days 2 -out "$TLS/server.pem" -extfile "$TLS/server.ext" 2>/dev/null
"$COURTIER" passwd -c -b "$OUT/passwd" bench0 pw-0
if [[ -z $ONLY || " $ONLY " == *" reconnect-pw "* ]]; then
  log "writing $RECONNECT_USERS users with courtier passwd"
  for i in $(seq 1 $((RECONNECT_USERS - 1))); do "$COURTIER" passwd -b "$OUT/passwd" "bench$i" "pw-$i"; done
fi
chmod 644 "$OUT/passwd" "$TLS/server.key"
# 1,000 ACL rules for courtier-acl: 500 topics of anonymous clients (the bench's own last),
# 498 users with a rule each, and a pattern.
{
  for i in $(seq 0 499); do echo "topic readwrite dev/$i/#"; done
  echo "topic readwrite bench/#"
  for i in $(seq 0 497); do printf 'user u%s\ntopic readwrite home/u%s/#\n' "$i" "$i"; done
  echo "pattern readwrite clients/%c/#"
} >"$OUT/acl"

# --- broker configs (comparable limits: the same outgoing inflight window for all three,
# rumqttd's sample value 100 unless INFLIGHT says otherwise; queue 8192; no persistence) ------
INFLIGHT=${INFLIGHT:-100}
mkdir -p "$OUT/courtier.d"
cat >"$OUT/courtier.d/10-bench.toml" <<EOF
[[listeners]]
port = $PORT_COURTIER
bind = "127.0.0.1"
[[listeners]]
port = $TLS_COURTIER
bind = "127.0.0.1"
certfile = "$TLS/server.pem"
keyfile = "$TLS/server.key"
[security]
password_file = "$OUT/passwd"
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
mkdir -p "$OUT/courtier-acl.d"
{
  sed -e '/^\[\[listeners\]\]/,/^\[limits\]/{/^\[limits\]/!d}' \
    -e "s|^data_dir = .*|data_dir = \"$OUT/courtier-acl-data\"|" "$OUT/courtier.d/10-bench.toml"
  printf '[listener]\nport = %s\n[security]\nacl_file = "%s"\n' "$PORT_COURTIER_ACL" "$OUT/acl"
} >"$OUT/courtier-acl.d/10-bench.toml"
# The baseline may predate [[listeners]] and the password file: the same limits, log and store
# settings, its listener given by -p.
mkdir -p "$OUT/courtier-base.d"
sed -e '/^\[\[listeners\]\]/,/^\[limits\]/{/^\[limits\]/!d}' \
  -e "s|^data_dir = .*|data_dir = \"$OUT/courtier-base-data\"|" "$OUT/courtier.d/10-bench.toml" \
  >"$OUT/courtier-base.d/10-bench.toml"
cat >"$OUT/mosquitto.conf" <<EOF
listener $PORT_MOSQUITTO 127.0.0.1
listener $TLS_MOSQUITTO 127.0.0.1
certfile $TLS/server.pem
keyfile $TLS/server.key
tls_version tlsv1.2
password_file $OUT/passwd
allow_anonymous true

persistence false
max_inflight_messages $INFLIGHT
max_queued_messages 8192
max_connections -1
log_dest stderr
log_type error
log_type warning
EOF
# FlashMQ: no storage_dir (no persistence); its QoS queue per client as large as it goes (65,535
# messages), and 64 MiB of them (default 64 KiB: it dropped most of `persistent`), so that it
# never drops a QoS 1/2 message the others keep; rlimit_nofile (default 1,000,000) at most the
# hard limit, or it does not start. That queue limit is also its window (a 3.1.1 client's
# receive maximum, session.cpp): INFLIGHT=65535 gives Courtier and Mosquitto the same window.
nofile=$(ulimit -Hn)
[[ $nofile == unlimited ]] && nofile=1048576
cat >"$OUT/flashmq.conf" <<EOF
thread_count 1
max_qos_msg_pending_per_client 65535
max_qos_bytes_pending_per_client 67108864
rlimit_nofile $((nofile < 1000000 ? nofile : 1000000))
allow_anonymous true
log_level warning
listen {
  protocol mqtt
  inet4_bind_address 127.0.0.1
  port $PORT_FLASHMQ
}
listen {
  protocol mqtt
  inet4_bind_address 127.0.0.1
  port $TLS_FLASHMQ
  fullchain $TLS/server.pem
  privkey $TLS/server.key
  minimum_tls_version tlsv1.2
}
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
  [courtier-base]=18833 [courtier-acl]=$PORT_COURTIER_ACL [flashmq]=$PORT_FLASHMQ)
declare -A TLS_PORT=([courtier]=$TLS_COURTIER [mosquitto]=$TLS_MOSQUITTO [flashmq]=$TLS_FLASHMQ)

start_broker() {
  local b=$1
  if (exec 3<>"/dev/tcp/127.0.0.1/${PORT[$b]}") 2>/dev/null; then
    log "port ${PORT[$b]} ($b) is already in use: stop whatever listens there first"
    exit 1
  fi
  case $b in
    courtier) taskset -c "$BROKER_CPU" "$COURTIER" --config-dir "$OUT/courtier.d" 2>>"$OUT/courtier.log" & ;;
    courtier-base) COURTIER__HTTP__ENABLED=false taskset -c "$BROKER_CPU" "$BASELINE" --config-dir "$OUT/courtier-base.d" -p 18833 2>>"$OUT/courtier-base.log" & ;;
    courtier-acl) taskset -c "$BROKER_CPU" "$COURTIER" --config-dir "$OUT/courtier-acl.d" \
      2>>"$OUT/courtier-acl.log" & ;;
    mosquitto) taskset -c "$BROKER_CPU" mosquitto -c "$OUT/mosquitto.conf" 2>>"$OUT/mosquitto.log" & ;;
    flashmq) taskset -c "$BROKER_CPU" "$FLASHMQ" --config-file "$OUT/flashmq.conf" >>"$OUT/flashmq.log" 2>&1 & ;;
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
  local line port=${PORT[$b]}
  [[ " $* " == *" --tls-ca "* ]] && port=${TLS_PORT[$b]}
  line=$(timeout 120 taskset -c "$GEN_CPU" "$BENCH" "$@" -p "$port" --broker-pid "${PID[$b]}" \
    --label "$b" 2>>"$OUT/bench.log") || { log "$b $id: failed"; return 0; }
  echo "{\"id\":\"$id\",\"round\":$round,${line#\{}" >>"$RESULTS"
  echo "$b $id: $line" >&2
}

wanted() { [[ -z $ONLY || " $ONLY " == *" $1 "* ]]; }

# The fan-in load of latency-q1-loaded for broker $1 in round $2: half of its fanin-q1 msg/s of
# this round, measured first (as fanin-q1-max) when fanin-q1 was not run. A run that lost
# messages counts too (Mosquitto 2.0.11 loses some in every fan-in QoS 1 run).
fanin_max() {
  python3 - "$RESULTS" "$1" "$2" <<'PY'
import json, sys
path, broker, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3])
for line in open(path):
    r = json.loads(line)
    if r["id"] in ("fanin-q1", "fanin-q1-max") and r["broker"] == broker and r["round"] == rnd \
            and r.get("msgs_per_s"):
        print(int(r["msgs_per_s"]))
        break
PY
}
load_rate() {
  local b=$1 round=$2 max
  max=$(fanin_max "$b" "$round")
  if [[ -z $max ]]; then
    bench "$b" fanin-q1-max "$round" fanin -q 1 --closed-loop 500 -d "$DURATION"
    max=$(fanin_max "$b" "$round")
  fi
  [[ -n $max ]] && echo $((max / 2))
}

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
    argv=${argv//TLS_CA/$TLS/ca.pem}
    argv=${argv//RECONNECT_USERS/$RECONNECT_USERS}
    read -r -a args <<<"$argv"
    wanted "$id" || continue
    for b in "${order[@]}"; do
      [[ -z $applies || " $applies " == *" $b "* ]] || continue
      if [[ " ${args[*]} " == *" LOAD_RATE "* ]]; then
        rate=$(load_rate "$b" "$round") || rate=
        [[ -n $rate ]] || { log "$b $id: no fanin-q1 rate to load it with: failed"; continue; }
        bench "$b" "$id" "$round" "${args[@]/LOAD_RATE/$rate}" -d "$DURATION"
        continue
      fi
      bench "$b" "$id" "$round" "${args[@]}" -d "$DURATION"
    done
  done
  stop_brokers
done

# --- summary ---------------------------------------------------------------------------------
python3 scripts/bench-summary.py "$RESULTS" "${BROKER_LIST[@]}" | tee "$OUT/summary.md"
log "raw results: $RESULTS"
