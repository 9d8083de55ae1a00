#!/usr/bin/env bash
# Runs the fuzz targets: `fuzz/run.sh [SECS] [TARGET...]` (default 60 s, every target).
# For each target: replays the regression inputs in fuzz/regressions/<target>/ (each must pass),
# then fuzzes for SECS seconds, one worker, no sanitizer (`-s none`, works on stable), starting
# from the committed seeds in fuzz/corpus/<target>/. The inputs the fuzzer grows go to a
# scratch directory, so the committed corpus is never modified. A crash, a breach of libFuzzer's time or
# memory limits (timeout, out-of-memory), or a failed property fails the run; its input is
# kept in fuzz/artifacts/.
# Prints one `fuzz: <target> ...` line per target at the end (used by the CI summary).
# Installs cargo-fuzz when it is missing. FUZZ_TARGETS (space-separated) overrides the list.
# FUZZ_LOG_DIR keeps each target's libFuzzer log (<target>.log) there instead of discarding it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

secs="${1:-60}"
shift || true
all="codec_packet codec_stream topic config_toml store_records mosquitto_conf mosquitto_db password_file acl"
targets="${*:-${FUZZ_TARGETS:-$all}}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "==> installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "==> cargo fuzz build"
cargo fuzz build -s none

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
logs="${FUZZ_LOG_DIR:-$scratch}"
mkdir -p "$logs"
mkdir -p artifacts
results=()
status=0
for t in $targets; do
    if [ -d "regressions/$t" ] && [ -n "$(ls -A "regressions/$t")" ]; then
        echo "==> $t: replaying regressions/$t"
        if ! cargo fuzz run -s none "$t" regressions/"$t"/* -- -runs=1 >"$logs/$t-regressions.log" 2>&1; then
            grep -E 'Running:|panicked|memory allocation|ERROR: libFuzzer|^SUMMARY' "$logs/$t-regressions.log" || true
            tail -n 25 "$logs/$t-regressions.log"
            results+=("fuzz: $t FAILED a regression input in regressions/$t")
            status=1
            continue
        fi
    fi
    echo "==> $t: fuzzing for $secs s"
    mkdir -p "$scratch/$t"
    if cargo fuzz run -s none "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="artifacts/$t-" \
        >"$logs/$t.log" 2>&1; then
        done_line="$(grep -a -E '#[0-9]+[[:space:]]+DONE' "$logs/$t.log" | tail -n 1)"
        results+=("fuzz: $t ok, $(sed -E 's/^#([0-9]+).*(cov: [0-9]+ ft: [0-9]+).*exec\/s: ([0-9]+).*/\1 runs, \2, \3 exec\/s/' <<<"$done_line") in $secs s")
    else
        grep -a -E 'panicked|memory allocation|ERROR: libFuzzer|^SUMMARY|Test unit written' "$logs/$t.log" || true
        grep -a -vE '^#[0-9]+' "$logs/$t.log" | tail -n 60
        results+=("fuzz: $t FAILED (input in fuzz/artifacts/, log above)")
        status=1
    fi
done
printf '%s\n' "${results[@]}"
exit "$status"
