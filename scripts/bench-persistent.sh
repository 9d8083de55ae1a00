#!/usr/bin/env bash
# Persistent sessions with larger queues than bench-compare.sh allows (its brokers queue at
# most 8,192 messages): courtier, courtier-base ($BASELINE, an older build) and Mosquitto
# (persistence off, as in bench-compare.sh), each started fresh with an empty store for every
# run, the order rotating per round; broker on core 0, generator on core 1. One JSON line per
# run to OUTFILE (courtier-bench's, plus round and payload).
#
#   BASELINE=/path/to/older/courtier scripts/bench-persistent.sh ROUNDS MESSAGES PAYLOAD OUTFILE
#   SUBS=1 ...   # sessions (default 10)
#
# Build first: cargo build --release -p courtier -p courtier-bench
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=$1 MESSAGES=$2 PAYLOAD=$3 OUTF=$4
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
NEW=$TARGET/release/courtier
BASE=${BASELINE:?BASELINE=/path/to/an/older/courtier}
BENCH=$TARGET/release/courtier-bench
mkdir -p $D/conf
cat >$D/conf/10-bench.toml <<EOT
[listener]
port = 18840
[limits]
max_inflight_messages = 100
max_queued_messages = 0
[log]
level = "warn"
[http]
enabled = false
EOT
cat >$D/mosquitto.conf <<EOT
listener 18843 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 100
max_queued_messages 0
max_connections -1
log_dest stderr
log_type error
EOT
for round in $(seq $ROUNDS); do
  all=(courtier courtier-base mosquitto)
  order=("${all[@]:$((round % 3))}" "${all[@]:0:$((round % 3))}")
  for b in "${order[@]}"; do
    case $b in
      courtier) rm -rf $D/new; taskset -c 0 $NEW --config-dir $D/conf -p 18841 --data-dir $D/new 2>>$D/new.log & port=18841 ;;
      courtier-base) rm -rf $D/base; taskset -c 0 $BASE --config-dir $D/conf -p 18842 --data-dir $D/base 2>>$D/base.log & port=18842 ;;
      mosquitto) taskset -c 0 mosquitto -c $D/mosquitto.conf 2>>$D/mosq.log & port=18843 ;;
    esac
    pid=$!
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
    line=$(timeout 300 taskset -c 1 $BENCH persistent -q 1 --subscribers ${SUBS:-10} --messages $MESSAGES --payload $PAYLOAD -p $port --broker-pid $pid --label $b 2>>$D/bench.log) || line='{"failed":true}'
    echo "{\"round\":$round,\"payload\":$PAYLOAD,${line#\{}" | tee -a $OUTF
    kill $pid; wait $pid 2>/dev/null || true
  done
done
