#!/usr/bin/env bash
# Run every fuzz target for N seconds each (default 10), starting from the committed seed
# corpus; exits non-zero on the first crash (libFuzzer leaves the input in
# tests/fuzz/artifacts/<target>/). New corpus entries go to a scratch directory, so the
# committed seeds stay small.
#
#   tests/fuzz/run-all.sh [seconds]
set -euo pipefail

secs="${1:-10}"
fuzz_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$fuzz_dir/../.." && pwd)"
cd "$root"

# cargo-fuzz needs nightly features; the stable toolchain provides them when asked.
export RUSTC_BOOTSTRAP=1
cargo fuzz build --fuzz-dir tests/fuzz

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in $(cargo fuzz list --fuzz-dir tests/fuzz); do
    echo "=== $target (${secs}s)"
    mkdir -p "$scratch/$target" "tests/fuzz/corpus/$target"
    if ! cargo fuzz run --fuzz-dir tests/fuzz "$target" \
        "$scratch/$target" "tests/fuzz/corpus/$target" \
        -- -max_total_time="$secs" -print_final_stats=1 2>"$scratch/$target.log"; then
        tail -n 40 "$scratch/$target.log"
        failed+=("$target")
    else
        grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/$target.log" | tail -n 2 || true
    fi
done

if ((${#failed[@]})); then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all fuzz targets ran ${secs}s without a crash"
