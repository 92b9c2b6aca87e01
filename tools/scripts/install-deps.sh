#!/usr/bin/env bash
# Installs what quant-opt needs on Debian 12, skipping what is present: the
# Debian packages, and onnxruntime-node (the reference runtime of the tests)
# into the build tree ($QUANT_BUILD_DIR/npm, default build/npm).
# Idempotent: a second run installs nothing and touches no package list.
#   tools/scripts/install-deps.sh [--fuzz]
# --fuzz adds clang-22, its runtime libraries (libFuzzer, sanitizers) and its
# OpenMP (the quantizers use OpenMP) for
# the fuzzing scripts.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache python3
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev
  libprotobuf-dev protobuf-compiler libonnx-dev python3-onnx python3-numpy
  flatbuffers-compiler libflatbuffers-dev libsentencepiece-dev nlohmann-json3-dev
  python3-sentencepiece libbenchmark-dev nodejs
  libeigen3-dev
  pybind11-dev python3-pybind11 python3-pytest python3-matplotlib
  python3-torch
  libopenmpi-dev openmpi-bin
)
if [ "${1:-}" = "--fuzz" ]; then
  packages+=(clang-22 libclang-rt-22-dev libomp-22-dev)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

root="$(cd "$(dirname "$0")/../.." && pwd)"
npm_prefix="${QUANT_BUILD_DIR:-$root/build}/npm"
ort_version=1.30.0
if [ "$(node -p "require('$npm_prefix/node_modules/onnxruntime-node/package.json').version" 2>/dev/null)" = "$ort_version" ]; then
  echo "install-deps: onnxruntime-node $ort_version present"
else
  echo "install-deps: installing onnxruntime-node $ort_version into $npm_prefix"
  mkdir -p "$npm_prefix"
  npm install --ignore-scripts --no-save --no-audit --no-fund --prefix "$npm_prefix" \
    "onnxruntime-node@$ort_version"
fi
