#!/usr/bin/env bash
# The main job: installs what is missing, builds, then takes a Llama 2 model
# from its llama2.c checkpoint to generated text with our runtime:
#   llama2.c checkpoint -> standard-op ONNX (python/llama2c_to_onnx.py)
#   -> qllm (quant-translate --import-onnx)
#   -> plan-ready IR (quant-opt, quant-compile: raising, f32 compute,
#      prefill/decode entries, weight layout, kernels, memory plan)
#   -> model.qplan (quant-translate --export-plan)
#   -> quant-run: text, perplexity, logits checked against numpy.
#   tools/scripts/demo.sh [CHECKPOINT.bin [TOKENIZER.bin]]   (default: stories260K)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
data="${QUANT_DATA_DIR:-$(dirname "$root")/shared/data}"
checkpoint="${1:-$data/models/stories260K/stories260K.bin}"
tokenizer="${2:-$data/models/stories260K/tok512.bin}"
work="$build/demo"

"$root/tools/scripts/install-deps.sh"
"$root/tools/scripts/build.sh" quant-opt quant-translate quant-run
mkdir -p "$work"
bin="$build/bin"

echo "== export $(basename "$checkpoint") to ONNX =="
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" "$checkpoint" -o "$work/model.onnx"
echo
echo "== import, compile (quant-compile{method=fp32 target=cpu}), export the plan =="
"$bin/quant-translate" --import-onnx "$work/model.onnx" --emit-bytecode -o "$work/imported.mlirbc"
"$bin/quant-opt" "$work/imported.mlirbc" \
  --pass-pipeline="builtin.module(quant-compile{method=fp32 target=cpu tokenizer=$tokenizer})" \
  -o "$work/compiled.mlir"
"$bin/quant-translate" --export-plan "$work/compiled.mlir" -o "$work/model.qplan"
echo "plan-ready IR, decode entry, first layer (weights elided):"
"$bin/quant-opt" "$work/compiled.mlir" --mlir-elide-resource-strings-if-larger=16 |
  sed -n '/func.func @decode/,$p' | grep -v "qllm.weight\|qllm.constant" | sed -n '2,16p' |
  sed -E 's/ : \(.*//' | cut -c1-150
echo
"$bin/quant-run" "$work/model.qplan" --info
echo
echo "== generate (greedy) =="
"$bin/quant-run" "$work/model.qplan" --prompt "Once upon a time" -n 200
echo
echo "== perplexity, first 200 TinyStories validation documents =="
"$bin/quant-run" "$work/model.qplan" --perplexity "$data/text/tinystories_val_first1000.txt" \
  --max-docs 200 2>&1 | tail -3
echo
echo "== logits of quant-run vs the numpy reference (tokens 1,403,407,261,378) =="
"$bin/quant-run" "$work/model.qplan" --tokens 1,403,407,261,378 --dump-logits "$work/run.f32" -q
/usr/bin/python3 "$root/test/e2e/reference/llama2c_numpy.py" "$checkpoint" --no-tokenizer \
  --logits 1,403,407,261,378 --out "$work/numpy.npy"
/usr/bin/python3 "$root/test/e2e/reference/compare_logits.py" "$work/run.f32" \
  "$work/numpy.npy" --vocab "$(/usr/bin/python3 -c "import struct,sys; print(abs(struct.unpack('7i', open(sys.argv[1], 'rb').read(28))[5]))" "$checkpoint")" \
  --last --atol 1e-4
echo
echo "== quantized weights: int8, int4 g128, NF4 and FP4 + double quantization, LLM.int8() =="
for options in "method=int8" "method=int4 group-size=128" "method=nf4 double-quant=true" \
    "method=fp4 double-quant=true" "method=llm-int8 outlier-threshold=6.0"; do
  echo "-- quant-compile{$options}"
  "$bin/quant-translate" --onnx-to-plan "$work/model.onnx" \
    --compile-options="$options tokenizer=$tokenizer" -o "$work/quantized.qplan"
  "$bin/quant-run" "$work/quantized.qplan" --info | grep "^quantized"
  "$bin/quant-run" "$work/quantized.qplan" --prompt "Once upon a time" -n 40 -q
  echo
  "$bin/quant-run" "$work/quantized.qplan" --perplexity "$data/text/tinystories_val_first1000.txt" \
    --max-docs 200 -q | tail -1
done
echo
echo "== GPTQ int4 g128 (calibrated on documents 200-327) next to round to nearest =="
calibration="calibration=$data/text/tinystories_val_first1000.txt calibration-offset=200"
calibration="$calibration calibration-samples=128 calibration-seqlen=256"
for options in "method=int4 group-size=128" "method=gptq group-size=128 $calibration" \
    "method=gptq group-size=128 act-order=true $calibration"; do
  echo "-- quant-compile{${options%% calibration=*}}"
  "$bin/quant-translate" --onnx-to-plan "$work/model.onnx" \
    --compile-options="$options tokenizer=$tokenizer" -o "$work/gptq.qplan"
  echo "plan: $(stat -c %s "$work/gptq.qplan") bytes; $("$bin/quant-run" "$work/gptq.qplan" --info | grep "^quantized")"
  "$bin/quant-run" "$work/gptq.qplan" --perplexity "$data/text/tinystories_val_first1000.txt" \
    --max-docs 200 -q | tail -1
done
echo
echo "== CUDA: kernels generated into the plan (NVRTC), run where a GPU is =="
if "$bin/quant-translate" --onnx-to-plan "$work/model.onnx" \
    --compile-options="method=int4 group-size=128 target=cuda tokenizer=$tokenizer" \
    -o "$work/cuda.qplan"; then
  "$bin/quant-run" "$work/cuda.qplan" --info | grep -E "^(cuda code|device):"
  "$bin/quant-translate" --plan-cuda-source "$work/cuda.qplan" | grep -c "__global__" |
    sed 's/^/generated kernels: /'
  # --device auto: the GPU when there is one, else the CPU (same tokens).
  "$bin/quant-run" "$work/cuda.qplan" --prompt "Once upon a time" -n 40 -q
  echo
else
  echo "(no NVRTC here: target=cuda plans cannot be exported; see docs/cuda.md)"
fi
echo
echo "== Which method? python -m quant_opt.compare (every method: size, speed, quality) =="
if [ -d "$build/python/quant_opt" ]; then
  PYTHONPATH="$build/python" /usr/bin/python3 -m quant_opt.compare "$work/model.onnx" \
    --text "$data/text/tinystories_val_first1000.txt" --tokenizer "$tokenizer" \
    -o "$work/compare"
  sed -n '/^| method/,/^$/p' "$work/compare/report.md"
  echo "report and plots: $work/compare"
else
  echo "(the Python package is not built: see docs/python.md)"
fi
