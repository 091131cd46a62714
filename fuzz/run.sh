#!/usr/bin/env bash
# Runs every fuzz target (or those named) one after the other, each for
# RUNS executions or MAX_TIME seconds, whichever comes first, single
# process, at the lowest CPU priority. The working corpus grows in
# $CORPUS_ROOT/<target> (outside git); the committed seeds in
# fuzz/corpus/<target> are read as well. Logs go to $LOG_ROOT/<target>.log.
#
#   fuzz/run.sh                  # all targets, 10 million runs each
#   RUNS=100000 fuzz/run.sh frame tcp_reader
#   FUZZ_ARGS=-rss_limit_mb=4096 fuzz/run.sh browser_msgpack   # more libFuzzer flags
set -euo pipefail
# From the repository root: libFuzzer's job process (-jobs=1) writes its
# output to ./fuzz-0.log, which is appended to the target's log.
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-1800}
CORPUS_ROOT=${CORPUS_ROOT:-${CARGO_TARGET_DIR:-fuzz/target}/fuzz-corpus}
LOG_ROOT=${LOG_ROOT:-$CORPUS_ROOT}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
for target in "${targets[@]}"; do
    mkdir -p "$CORPUS_ROOT/$target" "fuzz/corpus/$target" "$LOG_ROOT"
    echo "== $target: $RUNS runs or $MAX_TIME s" >&2
    nice -n 19 cargo +nightly fuzz run "$target" "$CORPUS_ROOT/$target" "fuzz/corpus/$target" -- \
        -runs="$RUNS" -max_total_time="$MAX_TIME" -jobs=1 -workers=1 -print_final_stats=1 ${FUZZ_ARGS:-} \
        >"$LOG_ROOT/$target.log" 2>&1 || echo "!! $target failed: see $LOG_ROOT/$target.log" >&2
    if [ -f fuzz-0.log ]; then
        cat fuzz-0.log >>"$LOG_ROOT/$target.log"
        rm fuzz-0.log
    fi
    grep -E "^(Done|stat::number_of_executed_units|SUMMARY)" "$LOG_ROOT/$target.log" >&2 || true
done
