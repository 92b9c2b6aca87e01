#!/usr/bin/env bash
# Tensor parallelism on the CPU (a benchmark, not a test): a Llama-2-7B-shaped
# model (dim 4096, hidden 11008, 32 heads, vocab 32000, LAYERS layers,
# weightless: the runtime synthesizes the weights) in one plan and split in
# two, run in one session on the same machine:
#   runtime/bench/tensor-parallel.sh [-L LAYERS] [-p PROMPT] [-n TOKENS] [-r RUNS]
#                                    [-s "METHOD OPTIONS"]
#  - whole, 1 thread; whole, 2 threads; split, 2 ranks (mpirun -np 2) of 1
#    thread each: prefill of PROMPT ids (default 64) and TOKENS greedy tokens
#    (default 32), the median of RUNS (default 3) runs, interleaved;
#  - per rank: the weight bytes its steps read (quant-run --info), its peak
#    resident set, and what its collectives moved per token against the
#    theory (2 all-reduces of dim floats per layer, one all-gather of
#    vocab / 2 logits).
# The scheme: -s, default "method=int4 quantize-output=true". Outputs go to
# build/bench/tensor-parallel/ ($QUANT_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
layers=4 prompt=64 tokens=32 runs=3 scheme="method=int4 quantize-output=true"
while [ $# -gt 0 ]; do
  case "$1" in
    -L) layers="$2"; shift 2 ;;
    -p) prompt="$2"; shift 2 ;;
    -n) tokens="$2"; shift 2 ;;
    -r) runs="$2"; shift 2 ;;
    -s) scheme="$2"; shift 2 ;;
    *) echo "usage: $0 [-L LAYERS] [-p PROMPT] [-n TOKENS] [-r RUNS] [-s \"OPTIONS\"]" >&2
       exit 2 ;;
  esac
done
"$root/tools/scripts/install-deps.sh" >/dev/null
"$root/tools/scripts/build.sh" quant-translate quant-run >/dev/null
work="$build/bench/tensor-parallel"
mkdir -p "$work"
onnx="$work/llama7b-${layers}L.onnx"
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" --random --weightless --llama2-7b \
  --layers "$layers" -o "$onnx" >/dev/null
options="$scheme max-context=$((prompt + tokens + 64))"
"$build/bin/quant-translate" --onnx-to-plan --weightless --compile-options="$options" \
  "$onnx" -o "$work/whole.qplan"
"$build/bin/quant-translate" --onnx-to-plan --weightless \
  --compile-options="$options tensor-parallel=2" "$onnx" -o "$work/split.qplan"
ids="$(/usr/bin/python3 -c "print(','.join(str(3 + i * 7919 % 31990) for i in range($prompt)))")"
mpirun=(mpirun --oversubscribe --bind-to none -np 2)
[ "$(id -u)" -eq 0 ] && mpirun+=(--allow-run-as-root)

echo "== $scheme, $layers layers, prompt $prompt, $tokens tokens, $runs runs"
"$build/bin/quant-run" "$work/whole.qplan" --info | grep -E '^(weights|quantized):'
"$build/bin/quant-run" "$work/split.qplan" --info | grep -E '^tensor parallel:'
results="$work/results.jsonl"
: > "$results"
for run in $(seq "$runs"); do
  for row in whole-1 whole-2 split-2x1; do
    case "$row" in
      whole-1) cmd=("$build/bin/quant-run" "$work/whole.qplan" --threads 1) ;;
      whole-2) cmd=("$build/bin/quant-run" "$work/whole.qplan" --threads 2) ;;
      split-2x1) cmd=("${mpirun[@]}" "$build/bin/quant-run" "$work/split.qplan" --threads 1) ;;
    esac
    "${cmd[@]}" --tokens "$ids" -n "$tokens" --print-ids -q --stats-json "$work/run.json" >/dev/null
    /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['row']=sys.argv[2]; print(json.dumps(d))" \
      "$work/run.json" "$row" >> "$results"
  done
done
/usr/bin/python3 - "$results" "$layers" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
layers = int(sys.argv[2])
print("%-10s %12s %12s %14s %14s" % ("row", "prefill t/s", "decode t/s", "peak RSS MiB",
                                     "rank weights"))
base = None
for name in ("whole-1", "whole-2", "split-2x1"):
    rs = [r for r in rows if r["row"] == name]
    pre = statistics.median(r["prefill_tokens_per_second"] for r in rs)
    dec = statistics.median(r["decode_tokens_per_second"] for r in rs)
    rss = statistics.median(r["peak_rss_bytes"] for r in rs) / 2**20
    weights = rs[0].get("rank_weights_bytes")
    print("%-10s %12.2f %12.2f %14.0f %14s" % (name, pre, dec, rss,
          "%.0f MiB" % (weights / 2**20) if weights else "-"))
    if name == "whole-2":
        base = (pre, dec)
    if name == "split-2x1":
        print("split-2x1 / whole-2: prefill %.2fx, decode %.2fx" % (pre / base[0], dec / base[1]))
        r = rs[0]
        forwards = r["generated_tokens"]  # the prompt's chunk, then one per decoded token
        print("ISA %s; rank 0 per forward (%d): all_reduce %.1f calls (theory 2 x %d layers), "
              "all_gather %.1f calls" % (r["isa"], forwards, r["all_reduce_calls"] / forwards,
                                         layers, r["all_gather_calls"] / forwards))
        decode_bytes = 2 * layers * 4096 * 4
        print("per decoded token: all_reduce %d bytes (theory 2 x %d layers x 4096 floats = %d), "
              "all_gather %d bytes (16000 logits)" % (
                  (r["all_reduce_bytes"] - decode_bytes * r["prompt_tokens"])
                  / (r["generated_tokens"] - 1), layers, decode_bytes,
                  (r["all_gather_bytes"] - 16000 * 4 * r["prompt_tokens"])
                  / (r["generated_tokens"] - 1)))
EOF
