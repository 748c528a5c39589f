#!/usr/bin/env bash
# Coverage-guided fuzzing of the engine's readers (cargo-fuzz, nightly Rust).
#
#   bench/fuzz/run.sh [SECONDS_PER_TARGET]      (default 60)
#
# Builds the fuzz targets of fuzz/, then runs each for SECONDS_PER_TARGET seconds in one
# process (one worker), starting from the committed seeds in fuzz/corpus/<target>/ and the
# inputs earlier runs found (fuzz/target/corpus/<target>/, not committed). Prints, per
# target: executions, executions per second, coverage (libFuzzer's cov and ft counters), new
# inputs added and crashes found. Exits non-zero if any target crashed, hung or broke a
# property; the input is then in fuzz/artifacts/<target>/.
#
# TARGETS="amounts snapshot" bench/fuzz/run.sh 30 runs only those. Needs `cargo +nightly` and
# cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -u
secs=${1:-60}
cd "$(dirname "$0")/../../fuzz"
targets=${TARGETS:-"command_line amounts rules_toml snapshot snapshot_mutate http_bodies"}

cargo +nightly fuzz build >/dev/null || { echo "fuzz build failed" >&2; exit 2; }

status=0
printf '%-16s %12s %9s %7s %7s %6s %8s\n' target executions exec/s cov ft new crashes
for t in $targets; do
    work=target/corpus/$t
    mkdir -p "$work" "corpus/$t" "artifacts/$t"
    log=target/fuzz-$t.log
    before=$(find "artifacts/$t" -type f | wc -l)
    cargo +nightly fuzz run "$t" "$work" "corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    after=$(find "artifacts/$t" -type f | wc -l)
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi
    printf '%-16s %12s %9s %7s %7s %6s %8s\n' "$t" "$(stat number_of_executed_units)" \
        "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "$(stat new_units_added)" "$crashes"
    if [ "$crashes" -ne 0 ]; then
        status=1
        echo "  $t: see fuzz/$log and fuzz/artifacts/$t/" >&2
    fi
done
exit $status
