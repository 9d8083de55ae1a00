#!/usr/bin/env bash
# Memory given back and capped (docs/LIMITS.md): the broker's VmRSS (/proc/PID/status) around
# each hostile client of scripts/abuse-client.py, every figure after SETTLE seconds.
#   1. one clean session with 100,000 subscriptions (limits.max_subscriptions_per_client = 0,
#      unlimited), then the same client disconnected; then with the default limit
#   2. 8 connections announcing a 16 MB CONNECT (1 MB of it sent)
#   3. 8 clients sending a 16 MB PUBLISH each, then disconnecting
#   4. a topic of 10,000 levels, a 65,535-byte client id: the answers
#
#   scripts/abuse-memory.sh
#   COURTIER_BIN=/path/to/courtier scripts/abuse-memory.sh   # default: target/release
#
# Build first: cargo build --release --bin courtier
set -euo pipefail
cd "$(dirname "$0")/.."
SETTLE=${SETTLE:-3} SUBS=${SUBS:-100000}
BIN=${COURTIER_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/courtier}
D=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; rm -rf "$D"' EXIT
CLIENT="python3 scripts/abuse-client.py"

start() { # env assignments for the broker
    rm -rf "$D/data"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    env RUST_LOG=warn COURTIER__HTTP__ENABLED=false "$@" "$BIN" -p "$PORT" --data-dir "$D/data" 2>>"$D/log" &
    PID=$!
    for _ in $(seq 100); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT)).close()" 2>/dev/null && break
        sleep 0.1
    done
    sleep "$SETTLE"
}
stop() { kill $PID; wait $PID 2>/dev/null || true; PID=; }
rss() { awk '/^VmRSS:/ {print $2}' /proc/$PID/status; }
say() { printf '  %-58s VmRSS %7s kB\n' "$1" "$(rss)"; }

subs_round() {
    coproc SUBC { $CLIENT subs "$PORT" "$SUBS"; }
    read -r line <&"${SUBC[0]}"
    sleep "$SETTLE"
    say "$line, connected"
    echo >&"${SUBC[1]}"
    wait "$SUBC_PID" 2>/dev/null || true
    sleep "$SETTLE"
    say "the client disconnected"
}

echo "1. $SUBS subscriptions, max_subscriptions_per_client = 0 (unlimited)"
start COURTIER__LIMITS__MAX_SUBSCRIPTIONS_PER_CLIENT=0
say "idle"
subs_round
subs_round
stop
echo "   with the default limit"
start
say "idle"
subs_round
echo "2. 8 x 16 MB CONNECT announced, 1 MB of each sent"
say "before"
$CLIENT bigconnect "$PORT" 8 16 | sed 's/^/  /'
sleep "$SETTLE"
say "after"
echo "3. 8 x 16 MB PUBLISH, then DISCONNECT"
$CLIENT bigpublish "$PORT" 8 16 | sed 's/^/  /'
sleep "$SETTLE"
say "after"
echo "4. refusals"
$CLIENT deep "$PORT" 10000 | sed 's/^/  /'
$CLIENT longid "$PORT" 65535 | sed 's/^/  /'
say "after"
stop
