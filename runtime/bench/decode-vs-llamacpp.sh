#!/usr/bin/env bash
# Decode and prefill of a Llama-2-7B-shaped model, ours next to llama.cpp, in
# one run on the same machine (a benchmark, not a test):
#   runtime/bench/decode-vs-llamacpp.sh [-L LAYERS] [-p PROMPT] [-n TOKENS] [-r RUNS]
#                                       [-t "THREADS ..."] [-i "native avx2 avx-vnni"]
#                                       [-s "SCHEMES ..."]
# The model: dim 4096, hidden 11008, 32 heads, vocab 32000, LAYERS layers
# (default 8: far past the caches), random weights.
#  - ours: weightless plans (python/llama2c_to_onnx.py --random --weightless,
#    quant-translate --weightless: the runtime synthesizes the weights, into
#    huge-page memory as quant-run copies a plan file's weights) for
#    int4 g32 symmetric (Q4_0's bytes), int4 g128, NF4 and int8 (the output
#    projection quantized too, as in llama.cpp's files), each with the
#    scheme's default activations (8-bit), plus, by -s, nf4-f32 /
#    int4-g128-f32 / int4-g32-sym-f32 / int8-f32 (f32 activations); run by
#    quant-run on a prompt of PROMPT random ids (prefill, default 128) then
#    TOKENS greedy tokens (decode, default 32), the median of RUNS runs (3),
#    under each kernel build: native; avx2 (QRT_ISA=avx2 QRT_VNNI=0: what
#    an AVX2 + FMA CPU runs); avx-vnni (QRT_ISA=avx2 with VNNI), by default
#    where the CPU has AVX-VNNI;
#  - llama.cpp: ../shared/anchors/llamacpp (its prebuilt CPU library from
#    npm, no compiling; see its README) on GGUF files of the same shapes, Q4_0
#    and Q8_0 (every matrix, embedding and output included), `bench --pp PROMPT --tg
#    TOKENS`, its internal counters, under its own pick of CPU build (zen4 or
#    sapphirerapids on AVX-512 machines) next to our native rows, its AVX2
#    (haswell) build next to our avx2 rows and its AVX2 + AVX-VNNI
#    (alderlake) build next to our avx-vnni rows; skipped, saying so, when
#    ../shared or node is missing;
#  - the limit: tokens/s at the read bandwidth measured in the same run
#    (qrt-cpu-bench ReadBandwidth), counting the weight bytes read per decoded
#    token (every matrix and one embedding row).
# For each thread count (default: 1 and all cores). Outputs go to
# build/bench/decode-vs-llamacpp/ ($QUANT_BUILD_DIR); GGUF files to
# $GGUF_DIR (default /tmp/llamacpp-anchor).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
layers=8 prompt=128 tokens=32 runs=3 threads="1 $(nproc)" isas="native avx2"
# AVX2 CPUs with AVX-VNNI (Alder Lake and later, Sierra Forest, Zen 5) get a
# row of their own: our AVX2 build with VNNI, llama.cpp's alderlake build.
grep -qw avx_vnni /proc/cpuinfo 2>/dev/null && isas="$isas avx-vnni"
order="int4-g32-sym int4-g128 nf4 int8"
while [ $# -gt 0 ]; do
  case "$1" in
    -L) layers="$2"; shift 2 ;;
    -p) prompt="$2"; shift 2 ;;
    -n) tokens="$2"; shift 2 ;;
    -r) runs="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -i) isas="$2"; shift 2 ;;
    -s) order="$2"; shift 2 ;;
    *) echo "usage: $0 [-L LAYERS] [-p PROMPT] [-n TOKENS] [-r RUNS] [-t \"THREADS ...\"]" \
            "[-i \"native avx2 avx-vnni\"] [-s \"SCHEMES ...\"]" >&2; exit 2 ;;
  esac
done

"$root/tools/scripts/install-deps.sh" >/dev/null
"$root/tools/scripts/build.sh" quant-translate quant-run qrt-cpu-bench >/dev/null
work="$build/bench/decode-vs-llamacpp"
mkdir -p "$work"
onnx="$work/llama7b-${layers}L.onnx"
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" --random --weightless --llama2-7b \
  --layers "$layers" -o "$onnx" >/dev/null
declare -A schemes=(
  [int4-g32-sym]="method=int4 group-size=32 symmetric=true"
  [int4-g128]="method=int4 group-size=128"
  [nf4]="method=nf4"
  [int8]="method=int8"
  [nf4-f32]="method=nf4 activations=f32"
  [int4-g32-sym-f32]="method=int4 group-size=32 symmetric=true activations=f32"
  [int4-g128-f32]="method=int4 group-size=128 activations=f32"
  [int8-f32]="method=int8 activations=f32"
)
for name in $order; do
  [ -n "${schemes[$name]:-}" ] || { echo "unknown scheme $name (${!schemes[*]})" >&2; exit 2; }
  "$build/bin/quant-translate" --onnx-to-plan --weightless \
    --compile-options="${schemes[$name]} quantize-output=true max-context=$((prompt + tokens + 64))" \
    "$onnx" -o "$work/$name.qplan"
done
ids="$(/usr/bin/python3 -c "print(','.join(str(3 + i * 7919 % 31990) for i in range($prompt)))")"

# llama.cpp, when its anchor is here.
anchor="$root/../shared/anchors/llamacpp"
llama=1
if [ ! -d "$anchor" ]; then
  echo "note: $anchor not found: llama.cpp is not measured (our figures only)" >&2
  llama=0
elif ! command -v node >/dev/null; then
  echo "note: node not found: llama.cpp is not measured (our figures only)" >&2
  llama=0
fi
if [ "$llama" = 1 ]; then
  export LLAMACPP_NODE_DIR="${LLAMACPP_NODE_DIR:-/tmp/llamacpp-node}"
  [ -d "$LLAMACPP_NODE_DIR/node_modules" ] || "$anchor/install.sh" >&2
  gguf_dir="${GGUF_DIR:-/tmp/llamacpp-anchor}"
  mkdir -p "$gguf_dir"
  tok="${QUANT_DATA_DIR:-$root/../shared/data}/tokenizers/llama2/tokenizer.bin"
  for type in q4_0 q8_0; do
    # The writer's random models store the embedding and the output
    # projection in the projections' type too: our plans quantize the output
    # projection to match (quantize-output=true).
    gguf="$gguf_dir/rand7b-${layers}L-$type.gguf"
    [ -s "$gguf" ] || /usr/bin/python3 "$anchor/llama2c_to_gguf.py" --random "$gguf" \
      --tok "$tok" --layers "$layers" --type "$type" >&2
  done
  # llama.cpp picks its CPU build by the machine's features (zen4 or
  # sapphirerapids on AVX-512 machines). Its AVX2 build (haswell) is the
  # peer of our forced-AVX2 rows, its AVX2 + AVX-VNNI build (alderlake) of
  # our avx-vnni rows: copies of the package (hard links) holding only that
  # CPU library.
  bins=node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
  for cpu in haswell alderlake; do
    dir="$LLAMACPP_NODE_DIR-$cpu"
    if [ ! -e "$dir/$bins/libggml-cpu-$cpu.so" ]; then
      rm -rf "$dir"
      cp -al "$LLAMACPP_NODE_DIR" "$dir" 2>/dev/null || cp -r "$LLAMACPP_NODE_DIR" "$dir"
      find "$dir/$bins" -name 'libggml-cpu-*.so' ! -name "libggml-cpu-$cpu.so" -delete
    fi
  done
fi
llama_dir() {  # the llama.cpp package whose CPU build matches our ISA $1
  case "$1" in
    native) echo "$LLAMACPP_NODE_DIR" ;;
    avx2) echo "$LLAMACPP_NODE_DIR-haswell" ;;
    avx-vnni) echo "$LLAMACPP_NODE_DIR-alderlake" ;;
    *) echo "" ;;
  esac
}
isa_env() {  # our environment for ISA $1
  case "$1" in
    native) ;;
    avx2) echo "QRT_ISA=avx2 QRT_VNNI=0" ;;  # an AVX2 + FMA CPU, as haswell
    avx-vnni) echo "QRT_ISA=avx2" ;;
    *) echo "QRT_ISA=$1" ;;
  esac
}

results="$work/results.jsonl"
: > "$results"
# Runs are interleaved (run 1 of every row, then run 2, ...) so that a slow
# minute of this shared machine falls on every row alike.
for t in $threads; do
  bw="$(QRT_BENCH_THREADS="$t" "$build/bin/qrt-cpu-bench" \
          --benchmark_filter='ReadBandwidth' --benchmark_format=json 2>/dev/null |
        /usr/bin/python3 -c "import json,sys; print(max(b['GB/s'] for b in json.load(sys.stdin)['benchmarks']))")"
  echo "{\"kind\": \"bandwidth\", \"threads\": $t, \"gbps\": $bw}" >> "$results"
  for run in $(seq "$runs"); do
    for isa in $isas; do
      for name in $order; do
        # shellcheck disable=SC2046
        env $(isa_env "$isa") \
          "$build/bin/quant-run" "$work/$name.qplan" --tokens "$ids" -n "$tokens" --print-ids \
          --threads "$t" -q --stats-json "$work/run.json" >/dev/null
        /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.update(kind='ours', scheme=sys.argv[2], isa_asked=sys.argv[3]); print(json.dumps(d))" \
          "$work/run.json" "$name" "$isa" >> "$results"
      done
      dir="$(llama_dir "$isa")"
      if [ "$llama" = 1 ] && [ -n "$dir" ]; then
        for type in q4_0 q8_0; do
          LLAMACPP_NODE_DIR="$dir" node "$anchor/anchor.mjs" bench \
            "$gguf_dir/rand7b-${layers}L-$type.gguf" --pp "$prompt" \
            --tg "$tokens" --threads "$t" --reps 1 2>/dev/null |
            /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); d.update(kind='llama.cpp', type=sys.argv[1], threads_asked=int(sys.argv[2]), isa_asked=sys.argv[3]); print(json.dumps(d))" \
              "$type" "$t" "$isa" >> "$results"
        done
      fi
    done
  done
done

/usr/bin/python3 - "$results" "$layers" "$prompt" "$tokens" <<'PY'
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
layers, prompt, tokens = sys.argv[2:5]
print("\n# Llama-2-7B-shaped, %s layers: prefill %s tokens, decode %s tokens" % (
    layers, prompt, tokens))
print("Ratios compare each row with llama.cpp's Q4_0 under the same ISA: our native "
      "build with llama.cpp's own pick, our forced AVX2 (no VNNI) with its haswell (AVX2) "
      "build, our AVX2 with AVX-VNNI with its alderlake build. Our ISA column: the build "
      "(the integer kernel of the 8-bit-activation matmuls).")
huge = [r.get("weights_huge_page_bytes", 0) / 1e6 for r in rows if r["kind"] == "ours"]
if huge:
    print("Our weights: synthesized into huge-page memory (qrt::WeightMemory, as quant-run "
          "copies a plan file; %.0f-%.0f MB of them on huge pages in these runs); "
          "llama.cpp's: its defaults (mmap on, the anchor's README)." % (min(huge), max(huge)))


def median(runs, key):
    return statistics.median(r[key] for r in runs)


for t in sorted({r["threads"] for r in rows if r["kind"] == "bandwidth"}):
    bw = next(r["gbps"] for r in rows if r["kind"] == "bandwidth" and r["threads"] == t)
    print("\n## %d thread(s), read bandwidth %.1f GB/s\n" % (t, bw))
    print("| runtime | scheme | ISA | weight bytes/token | decode tok/s | of the bandwidth limit "
          "| prefill tok/s | decode / llama.cpp Q4_0 | prefill / llama.cpp Q4_0 |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    ours = [r for r in rows if r["kind"] == "ours" and r["threads"] == t]
    peers = [r for r in rows if r["kind"] == "llama.cpp" and r["threads_asked"] == t]
    isas = []
    for r in ours + peers:
        if r["isa_asked"] not in isas:
            isas.append(r["isa_asked"])

    def ratios(isa, decode, prefill):
        q4 = [r for r in peers if r["isa_asked"] == isa and r["type"] == "q4_0"]
        if not q4:
            return "| - | - |"
        return "| %.2fx | %.2fx |" % (decode / median(q4, "tg_tok_s_llama_internal"),
                                      prefill / median(q4, "pp_tok_s_llama_internal"))
    for isa in isas:
        for scheme in sorted({r["scheme"] for r in ours if r["isa_asked"] == isa}):
            runs = [r for r in ours if (r["scheme"], r["isa_asked"]) == (scheme, isa)]
            decode = median(runs, "decode_tokens_per_second")
            prefill = median(runs, "prefill_tokens_per_second")
            # Bytes a decode step reads: the quantized matrices, the f32
            # output projection and norms (weights_bytes less the embedding
            # table), and one embedding row.
            r0 = runs[0]
            stored = r0.get("synthesized_weights_bytes") or r0["weights_bytes"]
            per_token = stored - 32000 * 4096 * 4 + 4096 * 4
            limit = bw * 1e9 / per_token
            print("| ours | %s | %s | %.0f MB | %.2f | %.0f%% | %.1f %s" % (
                scheme, "%s (%s)" % (r0["isa"], r0.get("integer_kernel", "?")),
                per_token / 1e6, decode, 100 * decode / limit, prefill,
                ratios(isa, decode, prefill)))
        for kind in ("q4_0", "q8_0"):
            runs = [r for r in peers if r["isa_asked"] == isa and r["type"] == kind]
            if not runs:
                continue
            # Its file less the embedding table (in the file's type: Q4_0 18
            # bytes, Q8_0 34 bytes per 32 weights), plus one row.
            per_weight = {"q4_0": 18 / 32, "q8_0": 34 / 32}[kind]
            per_token = runs[0]["size_MiB"] * 2**20 - (32000 - 1) * 4096 * per_weight
            tg = median(runs, "tg_tok_s_llama_internal")
            pp = median(runs, "pp_tok_s_llama_internal")
            print("| llama.cpp | %s | %s | %.0f MB | %.2f | %.0f%% | %.1f %s" % (
                kind, runs[0].get("cpu_backend", "?"), per_token / 1e6, tg,
                100 * tg * per_token / (bw * 1e9), pp, ratios(isa, tg, pp)))
PY
