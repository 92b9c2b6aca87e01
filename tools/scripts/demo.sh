#!/usr/bin/env bash
# The main job, until ONNX import and the runtime land: installs what is
# missing, builds, then runs the dialect pipeline on the bundled example of
# three Llama 2 decoder layers (int4 g128 act-order, NF4 double-quant and
# int8 per-channel weights): fuse dequantize into matmul, canonicalize, and
# report every weight's storage.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
example="$root/test/Dialect/qllm/llama2-decoder-layers.mlir"

"$root/tools/scripts/install-deps.sh"
"$root/tools/scripts/build.sh" quant-opt quant-translate

echo "== quant-opt --qllm-fuse-dequant-matmul --canonicalize $(basename "$example") =="
"$build/bin/quant-opt" "$example" --qllm-fuse-dequant-matmul --canonicalize
echo
echo "== quant-translate --weight-report =="
"$build/bin/quant-translate" --weight-report "$example"
