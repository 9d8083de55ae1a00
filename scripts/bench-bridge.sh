#!/usr/bin/env bash
# Bridged QoS 1 throughput to a local Mosquitto remote: Courtier bridging to it, beside a
# Mosquitto bridging to it, in the same run and with the same clients (issue #16).
#
#   scripts/bench-bridge.sh [MESSAGES]        default 50000; PUBLISHERS=4
#
# For each local broker (Courtier with its durable RocksDB queue, then Mosquitto with its
# in-memory one), `mosquitto_sub` waits on the remote for MESSAGES QoS 1 messages while
# PUBLISHERS `mosquitto_pub -l -q 1` publish them to the local broker (a share each); the figure is MESSAGES divided by
# the time from the first publish until the last message is at the remote subscriber.
# COURTIER_BIN picks the binary (default target/release/courtier, else target/debug/courtier).
# Needs the mosquitto and mosquitto-clients packages (scripts/install-prereqs.sh).
set -euo pipefail
N=${1:-50000}
P=${PUBLISHERS:-4}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${COURTIER_BIN:-target/release/courtier}
if [ ! -x "$BIN" ]; then
    BIN=target/debug/courtier
    echo "bench-bridge: no release build, using $BIN (debug: slower than what users get)" >&2
fi
for tool in mosquitto mosquitto_pub mosquitto_sub; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
        echo "bench-bridge: $tool is missing (scripts/install-prereqs.sh)" >&2
        exit 1
    }
done
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench-bridge: nothing listens on $1" >&2
    exit 1
}

remote=$(free_port)
printf 'listener %s 127.0.0.1\nuser root\nallow_anonymous true\nmax_queued_messages 0\n' \
    "$remote" >"$work/remote.conf"
"$MOSQUITTO" -c "$work/remote.conf" 2>/dev/null &
pids+=($!)
wait_port "$remote"

# Mosquitto as the local broker, bridged to the remote.
mlocal=$(free_port)
cat >"$work/local.conf" <<CONF
listener $mlocal 127.0.0.1
user root
allow_anonymous true
max_queued_messages 0
connection bench
address 127.0.0.1:$remote
topic bench/mosquitto/# out 1
cleansession true
CONF
"$MOSQUITTO" -c "$work/local.conf" 2>/dev/null &
pids+=($!)
wait_port "$mlocal"

# Courtier as the local broker, bridged to the remote.
clocal=$(free_port)
mkdir -p "$work/conf" "$work/data"
cat >"$work/conf/10-bench.toml" <<CONF
[listener]
bind = "127.0.0.1"
port = $clocal
[http]
enabled = false
[[bridges]]
name = "bench"
addresses = ["127.0.0.1:$remote"]
topics = [{ pattern = "bench/courtier/#", direction = "out", qos = 1 }]
cleansession = true
CONF
RUST_LOG=warn "$BIN" --config-dir "$work/conf" --data-dir "$work/data" 2>"$work/courtier.log" &
pids+=($!)
wait_port "$clocal"
sleep 1 # both bridges connected

run() {
    local name=$1 port=$2
    mosquitto_sub -h 127.0.0.1 -p "$remote" -q 1 -t "bench/$name/#" -C "$N" >/dev/null &
    local sub=$!
    sleep 0.5
    local start end
    start=$(date +%s.%N)
    local pubs=()
    for i in $(seq "$P"); do
        seq $((N / P + (i <= N % P ? 1 : 0))) |
            mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "bench/$name/meter$i" -l &
        pubs+=($!)
    done
    wait "${pubs[@]}"
    local published
    published=$(date +%s.%N)
    wait "$sub"
    end=$(date +%s.%N)
    python3 - "$name" "$N" "$start" "$published" "$end" <<'PY'
import sys
name, n, start, published, end = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"{name:>9}: {n} QoS 1 messages at the remote in {end - start:6.2f} s "
      f"({n / (end - start):8.0f} msg/s; publishing took {published - start:.2f} s)")
PY
}

echo "bridged QoS 1 throughput, local broker -> Mosquitto $("$MOSQUITTO" -h | head -1 | awk '{print $3}') remote, $N messages from $P publishers:"
run courtier "$clocal"
run mosquitto "$mlocal"
