#!/usr/bin/env bash
# Builds the runtime alone (QUANT_RUNTIME_ONLY: no MLIR/LLVM) with
# AddressSanitizer and UndefinedBehaviorSanitizer and runs its unit tests:
#   tools/scripts/test-asan.sh
# The build goes to build-asan/ ($QUANT_ASAN_BUILD_DIR to move it),
# RelWithDebInfo, -fsanitize=address,undefined with no recovery (the first
# UB report fails the test) and LeakSanitizer on. Needs what the runtime
# needs (a C++17 compiler, cmake, ninja, flatc, GoogleTest, nlohmann-json:
# tools/scripts/install-deps.sh). Exits non-zero if the build or any test
# fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_ASAN_BUILD_DIR:-$root/build-asan}"
jobs="${QUANT_ASAN_JOBS:-2}"
tests=(qrt-runtime-tests qrt-core-tests qrt-cpu-tests qrt-text-tests)

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -G Ninja -S "$root" -B "$build" \
  -DQUANT_RUNTIME_ONLY=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="$sanitize" \
  -DCMAKE_CXX_FLAGS="$sanitize" \
  -DCMAKE_EXE_LINKER_FLAGS="$sanitize" \
  -DCMAKE_SHARED_LINKER_FLAGS="$sanitize" >/dev/null
ninja -C "$build" -j"$jobs" "${tests[@]}"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
for test in "${tests[@]}"; do
  echo "== $test (ASan+UBSan) =="
  start=$SECONDS
  if "$build/bin/$test" --gtest_brief=1; then
    echo "$test: passed in $((SECONDS - start)) s"
  else
    echo "$test: FAILED"
    status=1
  fi
done

if [ "$status" -ne 0 ]; then
  echo "test-asan.sh: FAILED"
else
  echo "test-asan.sh: all runtime tests passed under ASan+UBSan"
fi
exit "$status"
