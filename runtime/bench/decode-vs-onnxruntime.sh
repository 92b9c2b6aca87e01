#!/usr/bin/env bash
# Decode speed of quant-run against onnxruntime on the same model, same
# machine, same run (a benchmark, not a test):
#   runtime/bench/decode-vs-onnxruntime.sh [CHECKPOINT.bin] [-n TOKENS] [-r RUNS] [-t THREADS]
# Exports the llama2.c checkpoint (default: stories260K) to fp32 ONNX, compiles
# it to a plan, then alternates R greedy decodes of N tokens from BOS by
# quant-run and by onnxruntime-node (intra-op threads = T, default: all cores)
# and prints each side's median decode tokens/s and their ratio. Both decode
# one token per step with a KV cache; the figures include feeding the inputs
# and picking the argmax. The token ids of both must agree.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
data="${QUANT_DATA_DIR:-$(dirname "$root")/shared/data}"
checkpoint="$data/models/stories260K/stories260K.bin"
tokens=256 runs=7 threads="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    -n) tokens="$2"; shift 2 ;;
    -r) runs="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -*) echo "usage: $0 [CHECKPOINT.bin] [-n TOKENS] [-r RUNS] [-t THREADS]" >&2; exit 2 ;;
    *) checkpoint="$1"; shift ;;
  esac
done

"$root/tools/scripts/install-deps.sh" >/dev/null
"$root/tools/scripts/build.sh" quant-translate quant-run >/dev/null
work="$build/bench/decode"
mkdir -p "$work"
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" "$checkpoint" -o "$work/model.onnx" >/dev/null
"$build/bin/quant-translate" --onnx-to-plan "$work/model.onnx" -o "$work/model.qplan"
read -r layers kv_heads head_dim < <(/usr/bin/python3 -c "
import struct, sys
d, h, l, nh, kv, v, s = struct.unpack('7i', open(sys.argv[1], 'rb').read(28))
print(l, kv, d // nh)" "$checkpoint")

rm -f "$work"/ours-*.json "$work/ort.jsonl"
for run in $(seq 1 "$runs"); do
  "$build/bin/quant-run" "$work/model.qplan" --tokens 1 -n "$tokens" --print-ids \
    --threads "$threads" -q --stats-json "$work/ours-$run.json" > "$work/ours.ids"
  NODE_PATH="$build/npm/node_modules" node "$root/runtime/bench/ort_decode.js" "$work/model.onnx" \
    --layers "$layers" --kv-heads "$kv_heads" --head-dim "$head_dim" --tokens "$tokens" \
    --threads "$threads" >> "$work/ort.jsonl"
done

/usr/bin/python3 - "$work" "$runs" "$threads" "$checkpoint" <<'PY'
import json, statistics, sys
work, runs, threads, checkpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ours = [json.load(open(f"{work}/ours-{r}.json")) for r in range(1, runs + 1)]
ort = [json.loads(line) for line in open(f"{work}/ort.jsonl")]
ours_ids = open(f"{work}/ours.ids").read().split()
same = all(o["ids"].split() == ours_ids for o in ort)
a = statistics.median(o["decode_tokens_per_second"] for o in ours)
b = statistics.median(o["decode_tokens_per_second"] for o in ort)
print(f"model: {checkpoint}, {len(ours_ids)} tokens greedy from BOS, {runs} runs each, "
      f"{threads} threads, isa {ours[0]['isa']}")
print(f"quant-run    decode: median {a:10.1f} tok/s  (runs: " +
      ", ".join(f"{o['decode_tokens_per_second']:.0f}" for o in ours) + ")")
print(f"onnxruntime  decode: median {b:10.1f} tok/s  (runs: " +
      ", ".join(f"{o['decode_tokens_per_second']:.0f}" for o in ort) + ")")
print(f"ratio quant-run / onnxruntime: {a / b:.2f}x; same token ids: {'yes' if same else 'NO'}")
print(f"quant-run peak RSS {ours[0]['peak_rss_bytes'] / 2**20:.1f} MiB, "
      f"weights {ours[0]['weights_bytes'] / 2**20:.2f} MiB, arenas {ours[0]['arena_bytes'] / 2**20:.2f} MiB, "
      f"KV cache {ours[0]['kv_cache_bytes'] / 2**20:.2f} MiB")
sys.exit(0 if same else 1)
PY
