#!/usr/bin/env bash
# Bounded under abuse (docs/LIMITS.md): ROUNDS rounds of N connections opened at once, half
# sending garbage, half a CONNECT, all dropped abruptly (RST). The broker's VmRSS and open fds
# (/proc/PID/status, /proc/PID/fd) are printed before the first round and after each round
# (once the broker had SETTLE seconds to close what it was handed): they must not grow.
#
#   scripts/abuse-rounds.sh [ROUNDS=5] [N=5000]
#   COURTIER_BIN=target/debug/courtier scripts/abuse-rounds.sh   # default: target/release
#
# Build first: cargo build --release --bin courtier
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5} N=${2:-5000} SETTLE=${SETTLE:-3}
BIN=${COURTIER_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/courtier}
# The broker and this script's client both hold N sockets at once, plus the store's files.
NEED=$((N + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$NEED" ]; then
    ulimit -n "$NEED" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
echo "ulimit -n: $(ulimit -n)"
D=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
RUST_LOG=warn COURTIER__HTTP__ENABLED=false "$BIN" -p "$PORT" --data-dir "$D/data" 2>"$D/log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT)).close()" 2>/dev/null && break
    sleep 0.1
done
sample() {
    local rss fds
    rss=$(awk '/^VmRSS:/ {print $2}' /proc/$PID/status)
    fds=$(ls /proc/$PID/fd | wc -l)
    printf '%-8s VmRSS %7s kB   fds %5s\n' "$1" "$rss" "$fds"
}
sleep "$SETTLE"
sample start
for r in $(seq "$ROUNDS"); do
    python3 scripts/abuse-client.py rounds "$PORT" "$N" | sed 's/^/  /'
    sleep "$SETTLE"
    sample "round $r"
done
kill -0 $PID
echo "broker alive; WARN/ERROR lines logged: $(grep -c -E 'WARN|ERROR' "$D/log" || true)"
