#!/usr/bin/env bash
# Configures (once) and builds quant-opt into build/ (or $QUANT_BUILD_DIR).
# Incremental: a rerun rebuilds only what changed (ccache helps across
# clean builds).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE="${QUANT_BUILD_TYPE:-Release}" \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit
fi
ninja -C "$build" -j"${QUANT_JOBS:-$(nproc)}" "$@"
