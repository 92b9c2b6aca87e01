#!/usr/bin/env bash
# bitsandbytes' schemes on the CPU against their peers, same machine, same
# run (a benchmark, not a test):
#   runtime/bench/bitsandbytes-cpu.sh [-t "1 2"] [-i "native avx2"]
# For each thread count (default: 1 and all cores) and kernel build (default:
# the machine's best and AVX2, forced with QRT_ISA), through qrt-cpu-bench:
#  - LLM.int8() decode GEMV (int8Matmul, threshold 6 with 4 outlier columns,
#    and 0) on Llama-2-7B's 4096x11008 and 11008x4096 in GB/s of weight
#    bytes, against the read bandwidth measured in the same run and against
#    our int8 weight-only GEMV of the same weights (f32 activations);
#  - LLM.int8() prefill GEMM at m = 64 and 512 in GOP/s against our f32
#    GEMM's GFLOP/s on the same shapes;
#  - FP4 against NF4 (blocks of 64, f32 absmax and double quantization).
# Prints one table per build and thread count; the ratios are per shape.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
threads="1 $(nproc)" isas="native avx2"
while [ $# -gt 0 ]; do
  case "$1" in
    -t) threads="$2"; shift 2 ;;
    -i) isas="$2"; shift 2 ;;
    *) echo "usage: $0 [-t \"THREADS ...\"] [-i \"native avx2 ...\"]" >&2; exit 2 ;;
  esac
done

"$root/tools/scripts/install-deps.sh" >/dev/null
"$root/tools/scripts/build.sh" qrt-cpu-bench >/dev/null
work="$build/bench/bitsandbytes"
mkdir -p "$work"
filter='ReadBandwidth|QuantGEMV/(llm-int8|int8-perchannel-sym-f32|nf4-b64|fp4-b64)'
filter="$filter|QuantGEMM/m(64|512)/llm-int8|^GEMM/m(64|512)/f32"

for t in $threads; do
  for isa in $isas; do
    out="$work/bench-$isa-$t.json"
    if [ "$isa" = native ]; then
      QRT_BENCH_THREADS="$t" "$build/bin/qrt-cpu-bench" --benchmark_filter="$filter" \
        --benchmark_format=json >"$out" 2>/dev/null
    else
      QRT_ISA="$isa" QRT_BENCH_THREADS="$t" "$build/bin/qrt-cpu-bench" \
        --benchmark_filter="$filter" --benchmark_format=json >"$out" 2>/dev/null
    fi
    /usr/bin/python3 - "$out" <<'PY'
import json
import sys

data = json.load(open(sys.argv[1]))
rows = {b["name"].split("/min_time")[0]: b for b in data["benchmarks"]}
ctx = data["context"]
bandwidth = max(rows[n]["GB/s"] for n in rows if n.startswith("ReadBandwidth"))
print("\n## %s, %s threads (read bandwidth %.1f GB/s)\n" % (
    ctx["qrt_isa"], ctx["qrt_threads"], bandwidth))
print("| kernel | 4096x11008 | 11008x4096 |")
print("| --- | ---: | ---: |")
shapes = ("4096x11008", "11008x4096")


def row(label, name, key, fmt, peer=None, scale=1.0):
    cells = []
    for shape in shapes:
        b = rows.get("%s/%s" % (name, shape))
        if b is None:
            cells.append("-")
            continue
        cell = fmt % (scale * b[key])
        if peer:
            p = rows.get("%s/%s" % (peer, shape))
            if p:
                cell += " (%.2fx)" % (b[key] / p[key])
        cells.append(cell)
    print("| %s | %s |" % (label, " | ".join(cells)))


for name in ("llm-int8-t6", "llm-int8-t0"):
    row("GEMV %s GB/s (x int8 weight-only)" % name, "QuantGEMV/" + name, "GB/s", "%.1f",
        "QuantGEMV/int8-perchannel-sym-f32")
    row("GEMV %s of read bandwidth" % name, "QuantGEMV/" + name, "of_bw", "%.0f%%",
        scale=100.0)
row("GEMV int8 weight-only GB/s", "QuantGEMV/int8-perchannel-sym-f32", "GB/s", "%.1f")
for m in (64, 512):
    for name in ("llm-int8-t6", "llm-int8-t0"):
        row("GEMM m=%d %s GOP/s (x f32 GEMM)" % (m, name), "QuantGEMM/m%d/%s" % (m, name),
            "GFLOP/s", "%.0f", "GEMM/m%d/f32" % m)
    row("GEMM m=%d f32 GFLOP/s" % m, "GEMM/m%d/f32" % m, "GFLOP/s", "%.0f")
for dq in ("f32", "dq256"):
    row("GEMV fp4-b64-%s GB/s (x nf4)" % dq, "QuantGEMV/fp4-b64-" + dq, "GB/s", "%.1f",
        "QuantGEMV/nf4-b64-" + dq)
    row("GEMV nf4-b64-%s GB/s" % dq, "QuantGEMV/nf4-b64-" + dq, "GB/s", "%.1f")
PY
  done
done
