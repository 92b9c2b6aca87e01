#!/usr/bin/env bash
# GPTQ of a Llama-2-7B-shaped model end to end (a benchmark, not a test):
#   runtime/bench/gptq-llama7b.sh [-l LAYERS] [-s SAMPLES] [-q SEQLEN] [-m GPTQ_OPTIONS] [--no-build]
# Exports a random fp16 model with Llama 2 7B's shapes (dim 4096, hidden
# 11008, 32 heads, vocab 32000) and LAYERS layers (default 2), imports it,
# and runs qllm-gptq (default: int4 g128, act order) calibrated on SAMPLES
# (default 32) windows of SEQLEN (default 512) tokens of TinyStories with the
# Llama 2 tokenizer. Prints the pass's per-weight report (seconds of the
# stage's calibration forwards and of each solve), the wall time and peak
# RSS of the run (GNU time) against the size of the model's weights, then
# compiles the GPTQ plan and a round-to-nearest plan of the same scheme and
# prints both decode speeds (quant-run, all cores). Outputs go to
# build/bench/gptq-llama7b/ ($QUANT_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
data="${QUANT_DATA_DIR:-$(dirname "$root")/shared/data}"
layers=2 samples=32 seqlen=512 options="group-size=128 act-order=true" build_tools=1
while [ $# -gt 0 ]; do
  case "$1" in
    -l) layers="$2"; shift 2 ;;
    -s) samples="$2"; shift 2 ;;
    -q) seqlen="$2"; shift 2 ;;
    -m) options="$2"; shift 2 ;;
    --no-build) build_tools=0; shift ;;
    *) echo "usage: $0 [-l LAYERS] [-s SAMPLES] [-q SEQLEN] [-m GPTQ_OPTIONS] [--no-build]" >&2
       exit 2 ;;
  esac
done
if [ "$build_tools" = 1 ]; then
  "$root/tools/scripts/build.sh" quant-opt quant-translate quant-run
fi
bin="$build/bin"
work="$build/bench/gptq-llama7b"
mkdir -p "$work"
tokenizer="$data/tokenizers/llama2/tokenizer.model"
text="$data/text/tinystories_val_first1000.txt"

echo "== export: random fp16, Llama-2-7B shapes, $layers layers =="
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" --random --llama2-7b --layers "$layers" \
  --dtype fp16 --seed 1 -o "$work/model.onnx"
"$bin/quant-translate" --import-onnx "$work/model.onnx" --emit-bytecode -o "$work/imported.mlirbc"
"$bin/quant-opt" "$work/imported.mlirbc" --emit-bytecode \
  --pass-pipeline="builtin.module(quant-import-cleanup,func.func(qllm-promote-to-f32))" \
  -o "$work/float.mlirbc"
weights=$(stat -c %s "$work/model.onnx.data")
echo "model weights (fp16): $weights bytes"

echo
echo "== qllm-gptq{$options}: $samples windows x $seqlen tokens =="
gptq="calibration=$text calibration-mode=windows calibration-samples=$samples"
gptq="$gptq calibration-seqlen=$seqlen tokenizer=$tokenizer report=true $options"
/usr/bin/time -v "$bin/quant-opt" "$work/float.mlirbc" --emit-bytecode \
  --qllm-gptq="$gptq" -o "$work/gptq.mlirbc" 2> "$work/gptq.log" || {
  cat "$work/gptq.log" >&2; exit 1; }
grep -v "^\s*\(Command\|Average\|Major\|Minor\|Voluntary\|Involuntary\|Swaps\|File system\|Socket\|Signals\|Page size\|Exit\|Percent\|System time\|User time\)" "$work/gptq.log"
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/gptq.log")
echo "peak RSS: $((rss / 1024)) MiB, $(/usr/bin/python3 -c "print('%.2f' % ($rss * 1024 / $weights))")x the fp16 weights"

echo
echo "== decode speed (quant-run, $(nproc) threads, ISA ${QRT_ISA:-best}; embedding and output in f16) =="
# gptq: act order folded (contiguous groups, gathers); gptq-gidx: the same
# weights with g_idx (the generic kernel); rtn: round to nearest, plain.
"$bin/quant-opt" "$work/gptq.mlirbc" --emit-bytecode \
  --pass-pipeline="builtin.module(quant-compile{method=fp16})" -o "$work/gptq-plan.mlirbc"
"$bin/quant-translate" --export-plan "$work/gptq-plan.mlirbc" -o "$work/gptq.qplan"
"$bin/quant-opt" "$work/gptq.mlirbc" --emit-bytecode -o "$work/gptq-gidx-plan.mlirbc" \
  --pass-pipeline="builtin.module(qllm-fuse-dequant-matmul,qllm-specialize-entries,qllm-layout-weights{weight-type=f16},canonicalize,cse,func.func(qllm-select-kernels,qllm-plan-memory))"
"$bin/quant-translate" --export-plan "$work/gptq-gidx-plan.mlirbc" -o "$work/gptq-gidx.qplan"
rtn=$(echo "$options" | sed -E 's/act-order=[a-z]+//; s/static-groups=[a-z]+//; s/clip-search=[a-z]+//')
"$bin/quant-translate" --onnx-to-plan "$work/model.onnx" \
  --compile-options="method=int4 $rtn float-weights=f16" -o "$work/rtn.qplan"
for plan in gptq rtn gptq-gidx gptq rtn gptq rtn; do
  printf "%-9s %s bytes  " "$plan" "$(stat -c %s "$work/$plan.qplan")"
  "$bin/quant-run" "$work/$plan.qplan" --tokens 1,450,4996,338 --print-ids -n 32 \
    --stats-json "$work/$plan.json" -q >/dev/null
  /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('decode %.2f tokens/s' % d['decode_tokens_per_second'])" "$work/$plan.json"
done
