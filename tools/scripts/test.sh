#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (lit
# with a round-trip check of every quant-opt input, the GoogleTest unit tests
# under ctest, then the runtime's unit tests again in a runtime-only build
# under AddressSanitizer and UBSan) and exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"

"$root/tools/scripts/install-deps.sh"
"$root/tools/scripts/build.sh" all quant-docs

status=0
echo "== lit =="
/usr/lib/llvm-22/bin/lit -sv -Dverify_roundtrip=1 "$build/test" || status=1
echo "== ctest =="
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" || status=1
echo "== runtime under ASan+UBSan =="
"$root/tools/scripts/test-asan.sh" || status=1

if [ "$status" -ne 0 ]; then
  echo "test.sh: FAILED"
else
  echo "test.sh: all tests passed"
fi
exit "$status"
