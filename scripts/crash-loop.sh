#!/usr/bin/env bash
# Crash safety in a loop (issue #19, item 8): `scripts/crash-loop.sh [ROUNDS] [crash_loop.py
# options]` kills the broker with SIGKILL at random moments under QoS 1/2 load, ROUNDS times
# (default 20), restarting it on the same store, and fails on a lost acknowledged message, an
# unmarked duplicate or a message out of order. See scripts/crash_loop.py and docs/RELIABILITY.md.
# The broker is COURTIER_BIN, else target/release/courtier, else target/debug/courtier.
# Needs python3 with paho-mqtt 2.x (scripts/install-prereqs.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rounds="${1:-20}"
shift || true
if [ -z "${COURTIER_BIN:-}" ]; then
    COURTIER_BIN=target/release/courtier
    [ -x "$COURTIER_BIN" ] || COURTIER_BIN=target/debug/courtier
fi
[ -x "$COURTIER_BIN" ] || { echo "no broker binary: cargo build -p courtier" >&2; exit 2; }
exec python3 scripts/crash_loop.py --rounds "$rounds" --bin "$COURTIER_BIN" "$@"
