#!/usr/bin/env bash
# The main job: installs what is missing, builds, then takes a Llama 2 model
# through the compiler as far as it goes today (the runtime is next):
#   llama2.c checkpoint -> standard-op ONNX (python/llama2c_to_onnx.py)
#   -> qllm (quant-translate --import-onnx)
#   -> LLM ops (quant-opt --quant-import-cleanup)
# then shows the raised graph and its weights, and checks the raised graph's
# logits (reference evaluation) against the independent numpy forward.
#   tools/scripts/demo.sh [CHECKPOINT.bin]   (default: stories260K)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
data="${QUANT_DATA_DIR:-$(dirname "$root")/shared/data}"
checkpoint="${1:-$data/models/stories260K/stories260K.bin}"
work="$build/demo"

"$root/tools/scripts/install-deps.sh"
"$root/tools/scripts/build.sh" quant-opt quant-translate
mkdir -p "$work"

echo "== export $(basename "$checkpoint") to ONNX =="
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" "$checkpoint" -o "$work/model.onnx"
echo
echo "== import and raise =="
"$build/bin/quant-translate" --import-onnx "$work/model.onnx" -o "$work/imported.mlir"
"$build/bin/quant-opt" "$work/imported.mlir" --quant-import-cleanup -o "$work/raised.mlir"
echo "imported: $(grep -c '= qllm\.' "$work/imported.mlir") ops; raised: $(grep -c '= qllm\.' "$work/raised.mlir") ops"
echo
echo "== the raised graph, first layer (weights elided) =="
"$build/bin/quant-opt" "$work/raised.mlir" --mlir-elide-resource-strings-if-larger=16 |
  grep -v "qllm.weight\|qllm.constant" | sed -n '3,20p' | cut -c1-160
echo
echo "== weights =="
"$build/bin/quant-translate" --weight-report "$work/raised.mlir" | { head -4; echo "..."; tail -1; }
echo
echo "== logits of the raised graph vs the numpy reference (tokens 1,403,407,261,378) =="
"$build/bin/quant-translate" --reference-logits "$work/raised.mlir" \
  --reference-tokens=1,403,407,261,378 -o "$work/raised.f32"
/usr/bin/python3 "$root/test/e2e/reference/llama2c_numpy.py" "$checkpoint" --no-tokenizer \
  --logits 1,403,407,261,378 --out "$work/numpy.npy"
/usr/bin/python3 "$root/test/e2e/reference/compare_logits.py" "$work/raised.f32" \
  "$work/numpy.npy" --vocab "$(/usr/bin/python3 -c "import struct,sys; print(abs(struct.unpack('7i', open(sys.argv[1], 'rb').read(28))[5]))" "$checkpoint")" \
  --last --atol 1e-3
