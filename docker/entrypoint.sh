#!/bin/sh
# The container's entrypoint: runs courtier on what is mounted, as eclipse-mosquitto's does.
#
# - /mosquitto/config/mosquitto.conf, when there is one, is read (--mosquitto-conf); the
#   *.toml files of /etc/courtier/conf.d always are (--config-dir).
# - Started as root (the default), it gives /mosquitto/data and /mosquitto/log to the broker's
#   user (courtier, uid 1883), then drops to that user. Started as another user (compose
#   `user: "1026:100"`), it checks that it can write there. Either way, a folder it cannot use
#   stops it with one line naming the folder, its owner and the fix.
# - The broker replaces this script (exec): it is the process `docker stop` signals, and it
#   logs to standard output.
# - `docker-entrypoint.sh healthcheck` runs `courtier healthcheck` on the same configuration
#   (the image's HEALTHCHECK); any other command (e.g. `courtier passwd ...`, `sh`) runs as given.
#
# The COURTIER_* variables below exist for scripts/check-docker.sh, which runs this script
# outside a container.
set -eu

bin="${COURTIER_BIN:-/usr/local/bin/courtier}"
config="${COURTIER_CONFIG:-/mosquitto/config}"
data="${COURTIER_DATA:-/mosquitto/data}"
logs="${COURTIER_LOGS:-/mosquitto/log}"
conf_d="${COURTIER_CONF_D:-/etc/courtier/conf.d}"
user="${COURTIER_USER:-courtier}"

die() {
    echo "docker-entrypoint: $*" >&2
    exit 1
}

healthcheck=false
if [ "${1:-}" = healthcheck ]; then
    healthcheck=true
    shift
elif [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

if [ -f "$config/mosquitto.conf" ]; then
    set -- --mosquitto-conf "$config/mosquitto.conf" "$@"
else
    # No mosquitto.conf: the store goes in the data folder. (With one, persistence_location
    # says where, as for Mosquitto.)
    store="$data/courtier"
    # A volume of the image before 0.2 (mounted at /var/lib/courtier then) has data/store.
    if [ -d "$data/data/store" ] && [ ! -e "$store" ]; then store="$data/data"; fi
    set -- --data-dir "$store" "$@"
fi
if [ -d "$conf_d" ]; then
    set -- --config-dir "$conf_d" "$@"
fi

if $healthcheck; then
    exec "$bin" "$@" healthcheck
fi

# The broker's user (when started as another user: that one, for the messages below).
if id -u "$user" >/dev/null 2>&1; then
    uid="$(id -u "$user")" gid="$(id -g "$user")"
elif [ "$(id -u)" = 0 ]; then
    die "no user $user in this image"
else
    uid="$(id -u)" gid="$(id -g)"
fi

# What is mounted on $1, who owns it, and what to do: one line.
owner_error() {
    folder="$1"
    why="$2"
    owner="$(stat -c '%u:%g' "$folder" 2>/dev/null || echo unknown)"
    mode="$(stat -c '%a' "$folder" 2>/dev/null || echo '?')"
    fix="on the host, give the folder mounted there to uid $uid (sudo chown -R $uid:$gid FOLDER)"
    if [ "$(id -u)" = 0 ]; then
        fix="$fix; on a network share, allow chown or map its files to uid $uid"
    else
        fix="$fix, or run the container as its owner (compose: user: \"$owner\"), or start it as root so this script does it"
    fi
    die "$folder (owner uid:gid $owner, mode $mode): $why. Fix: $fix"
}

if [ "$(id -u)" = 0 ]; then
    for folder in "$data" "$logs"; do
        mkdir -p "$folder" 2>/dev/null || owner_error "$folder" "cannot create it"
        # Only what is not the broker's yet: a large store is not walked file by file.
        if ! err="$(find "$folder" \! -user "$uid" -exec chown "$uid:$gid" '{}' + 2>&1)"; then
            owner_error "$folder" "cannot give it to $user (uid $uid): ${err##*: }"
        fi
    done
    exec setpriv --reuid="$uid" --regid="$gid" --init-groups "$bin" "$@" 2>&1
fi

me="$(id -u)"
for folder in "$data" "$logs"; do
    if [ ! -d "$folder" ]; then
        mkdir -p "$folder" 2>/dev/null || owner_error "$(dirname "$folder")" \
            "uid $me cannot create $folder there"
    fi
    if [ ! -w "$folder" ] || [ ! -x "$folder" ]; then
        owner_error "$folder" "the broker runs as uid $me and cannot write there"
    fi
done
exec "$bin" "$@" 2>&1
