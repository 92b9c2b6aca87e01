#!/usr/bin/env bash
# Fuzzes the runtime's plan loader with libFuzzer: verification (with and
# without weight checksums, the CUDA executable's verifier included), the
# JSON view, loading from memory, and a CPU session running the plan.
#   tools/scripts/fuzz-plan.sh [RUNS]        (default 1000000 executions)
#   QUANT_FUZZ_SECONDS=600 tools/scripts/fuzz-plan.sh 0    (a time bound)
# Installs clang-22 if missing, builds a runtime-only build-fuzz-plan/ with
# coverage and AddressSanitizer (QUANT_RUNTIME_ONLY=ON,
# QUANT_ENABLE_FUZZING=ON: no MLIR), seeds a corpus with valid plans of every
# structure (plan-fuzzer-seeds) plus the regression inputs of
# test/fuzz/plan-corpus, runs one fuzzing job per core, and exits non-zero if
# the fuzzer finds a crash, a leak, a hang (> 10 s on one input) or an input
# using more than 2 GiB. Findings are written to build-fuzz-plan/fuzz/artifacts.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
runs="${1:-1000000}"
build="${QUANT_FUZZ_PLAN_BUILD_DIR:-$root/build-fuzz-plan}"
work="$build/fuzz"
jobs="${QUANT_FUZZ_JOBS:-$(nproc)}"

"$root/tools/scripts/install-deps.sh" --fuzz >/dev/null

if [ ! -f "$build/build.ninja" ]; then
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release -DQUANT_RUNTIME_ONLY=ON -DQUANT_ENABLE_FUZZING=ON >/dev/null
fi
ninja -C "$build" -j"$(nproc)" plan-loader-fuzzer plan-fuzzer-seeds

mkdir -p "$work/corpus" "$work/artifacts"
"$build/bin/plan-fuzzer-seeds" "$work/corpus"
if [ -d "$root/test/fuzz/plan-corpus" ]; then
  cp "$root"/test/fuzz/plan-corpus/* "$work/corpus/" 2>/dev/null || true
fi

cd "$work"
limits=(-timeout=10 -rss_limit_mb=2048 -max_len=262144
        -artifact_prefix="$work/artifacts/" -print_final_stats=1)
if [ "$runs" -gt 0 ]; then
  # RUNS executions in all, split over the jobs.
  per=$(( (runs + jobs - 1) / jobs ))
  limits+=(-runs="$per")
else
  limits+=(-max_total_time="${QUANT_FUZZ_SECONDS:-300}")
fi
status=0
pids=()
for j in $(seq 1 "$jobs"); do
  "$build/bin/plan-loader-fuzzer" corpus "${limits[@]}" -seed="$j" \
    > "job$j.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
total=0
for j in $(seq 1 "$jobs"); do
  n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "job$j.log" | grep -o '[0-9]*$' || echo 0)
  total=$((total + n))
  tail -n 12 "job$j.log" | grep -E 'stat::|ERROR|Done' || true
done
echo "fuzz-plan: $total executions over $jobs jobs"
if [ "$status" -ne 0 ] || ls "$work"/artifacts/* >/dev/null 2>&1; then
  echo "fuzz-plan: FINDINGS in $work/artifacts (logs: $work/job*.log)"
  exit 1
fi
echo "fuzz-plan: no finding"
