#!/usr/bin/env bash
# Fuzzes the ONNX importer with libFuzzer for a bounded time (default 300 s):
#   tools/scripts/fuzz-import.sh [SECONDS]
# Installs clang-22 if missing, builds build-fuzz/ with coverage and
# AddressSanitizer (QUANT_ENABLE_FUZZING=ON), seeds a corpus with real and
# generated models, and exits non-zero if the fuzzer finds a crash, a leak, a
# hang (> 20 s on one input) or an input using more than 4 GiB.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-300}"
build="$root/build-fuzz"
work="$build/fuzz"
data="${QUANT_DATA_DIR:-$(dirname "$root")/shared/data}"

"$root/tools/scripts/install-deps.sh" --fuzz

if [ ! -f "$build/build.ninja" ]; then
  CC=clang-22 CXX=clang++-22 cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release -DQUANT_ENABLE_FUZZING=ON \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit
fi
ninja -C "$build" -j"$(nproc)" onnx-import-fuzzer

# Seeds: the ONNX Runtime GenAI export, small generated models with their
# weights embedded (the fuzzer resolves no external data), and stories260K in
# other exporters' forms.
mkdir -p "$work/corpus" "$work/artifacts"
if [ -f "$data/models/ortgenai-tiny-llama-fp16/model.onnx" ]; then
  cp "$data/models/ortgenai-tiny-llama-fp16/model.onnx" "$work/corpus/ortgenai.onnx"
fi
/usr/bin/python3 "$root/python/llama2c_to_onnx.py" --random --dim 16 --hidden-dim 24 \
  --layers 1 --heads 2 --kv-heads 1 --vocab 32 --max-seq-len 16 -o "$work/tiny.onnx" >/dev/null
/usr/bin/python3 - "$work/tiny.onnx" "$work/corpus/tiny-embedded.onnx" <<'PY'
import sys, onnx
model = onnx.load(sys.argv[1])          # loads the external data
onnx.save(model, sys.argv[2])           # one file, weights embedded
PY

# Other exporters' forms of stories260K (weights embedded): torch.onnx.export
# (If, run-time Slice bounds, the 4.38 mask's And/ScatterND), ONNX Runtime
# GenAI's packed GroupQueryAttention with padded MatMulNBits, optimum's If,
# and QDQ int4 (opset 21).
ckpt="$data/models/stories260K/stories260K.bin"
if [ -f "$ckpt" ]; then
  ref="$root/test/e2e/reference"
  /usr/bin/python3 "$ref/hf_llama_torch.py" "$ckpt" --mask triu -o "$work/corpus/torch-triu.onnx" \
    >/dev/null 2>&1
  for variant in gqa-packed-int4 qdq-int4-blocked optimum-merged; do
    /usr/bin/python3 "$ref/onnx_variants.py" "$ckpt" --variant "$variant" \
      -o "$work/corpus/$variant.onnx" >/dev/null 2>&1
  done
fi
cd "$work"
# MLIR's prebuilt libraries are not instrumented: manual poisoning from
# LLVM's allocators would be reported falsely, so it is not checked.
ASAN_OPTIONS=allow_user_poisoning=0 "$build/bin/onnx-import-fuzzer" corpus \
  -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1
echo "fuzz-import: no crash in $seconds s"
