#!/usr/bin/env bash
# Soak test (issue #19, item 7): `scripts/soak.sh [SECONDS] [soak.py options]` runs a compressed
# day of home-hub life against the real broker for SECONDS (default 1800; 60 is a quick check),
# sampling its RSS and open fds, and fails on a slope above the noise or a lost, duplicated or
# misordered acknowledged message. See scripts/soak.py and docs/RELIABILITY.md.
# The broker is COURTIER_BIN, else target/release/courtier, else target/debug/courtier.
# Needs python3 with paho-mqtt 2.x (scripts/install-prereqs.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${1:-1800}"
shift || true
if [ -z "${COURTIER_BIN:-}" ]; then
    COURTIER_BIN=target/release/courtier
    [ -x "$COURTIER_BIN" ] || COURTIER_BIN=target/debug/courtier
fi
[ -x "$COURTIER_BIN" ] || { echo "no broker binary: cargo build --release -p courtier" >&2; exit 2; }
exec python3 scripts/soak.py --duration "$secs" --bin "$COURTIER_BIN" "$@"
