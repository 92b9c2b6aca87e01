#!/usr/bin/env bash
# A Llama-2-7B-shaped weightless plan (a benchmark, not a test):
#   runtime/bench/llama7b-weightless.sh [-m METHOD_OPTIONS] [--no-build] [--cpu-run] [-n TOKENS] [-t THREADS]
# Exports the graph of a Llama 2 7B (dim 4096, hidden 11008, 32 layers, 32
# heads, vocab 32000, context 4096; fp32) with --random --weightless: its
# initializers refer to a data file that is never written, so the ONNX file
# is about half a MB. Compiles it with quant-translate --onnx-to-plan
# --weightless (default: int4, group size 128) into a plan of metadata and
# code only, and prints the time, peak memory and sizes. The runtime
# synthesizes the weights (about 4.4 GB) from the plan's seed at load:
# speed figures only, never quality. --cpu-run also decodes N tokens
# (default 8) with quant-run on T threads (default: all cores) and prints
# the figures. Outputs go to build/bench/llama7b-weightless/ ($QUANT_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
options="method=int4 group-size=128" build_tools=1 cpu_run=0 tokens=8 threads="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    -m) options="$2"; shift 2 ;;
    --no-build) build_tools=0; shift ;;
    --cpu-run) cpu_run=1; shift ;;
    -n) tokens="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    *) echo "usage: $0 [-m METHOD_OPTIONS] [--no-build] [--cpu-run] [-n TOKENS] [-t THREADS]" >&2
       exit 2 ;;
  esac
done

if [ "$build_tools" = 1 ]; then
  "$root/tools/scripts/build.sh" quant-translate quant-run >/dev/null
fi
work="$build/bench/llama7b-weightless"
mkdir -p "$work"
rm -f "$work/llama7b.onnx" "$work/llama7b.qplan"
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" --random --weightless --llama2-7b \
  -o "$work/llama7b.onnx" >/dev/null
/usr/bin/time -f "%e %M" -o "$work/compile.time" \
  "$build/bin/quant-translate" --onnx-to-plan --weightless --compile-options="$options" \
  "$work/llama7b.onnx" -o "$work/llama7b.qplan"
read -r seconds rss_kib < "$work/compile.time"

echo "model:   Llama-2-7B-shaped (dim 4096, hidden 11008, 32 layers, vocab 32000), weightless"
echo "onnx:    $work/llama7b.onnx, $(stat -c %s "$work/llama7b.onnx") bytes (no weight data)"
echo "compile: --compile-options=\"$options\": ${seconds} s, peak RSS $((rss_kib / 1024)) MiB"
echo "plan:    $work/llama7b.qplan, $(stat -c %s "$work/llama7b.qplan") bytes"
"$build/bin/quant-run" "$work/llama7b.qplan" --info | sed 's/^/         /'

if [ "$cpu_run" = 1 ]; then
  "$build/bin/quant-run" "$work/llama7b.qplan" --tokens 1,450,4996 -n "$tokens" --print-ids \
    --threads "$threads" --context 512 -q --stats-json "$work/cpu-run.json" >/dev/null
  /usr/bin/python3 - "$work/cpu-run.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("cpu run: %s threads, isa %s: load (synthesis) %.2f s, prefill %.2f tok/s, "
      "decode %.2f tok/s (%d tokens), peak RSS %.0f MiB" % (
          s["threads"], s["isa"], s["load_seconds"], s["prefill_tokens_per_second"],
          s["decode_tokens_per_second"], s["generated_tokens"], s["peak_rss_bytes"] / 2**20))
PY
fi
