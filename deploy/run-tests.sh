#!/usr/bin/env bash
# README command (2), and what CI runs: install every package, build, and run the whole
# test suite (unit + integration through ctest), then the unit tests once more under
# AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root bash deploy/install-deps.sh

jobs=$(nproc)
build=${PORTCULLIS_BUILD_DIR:-build}
asan=${PORTCULLIS_ASAN_DIR:-build-asan}

echo "== build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"

echo "== tests"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

echo "== unit tests under AddressSanitizer + UBSan ($asan)"
cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPORTCULLIS_SANITIZE=ON -DPORTCULLIS_BENCH=OFF
unit_targets=$(sed -n 's/^portcullis_unit_test(\([a-z_]*\)$/\1/p' tests/CMakeLists.txt)
cmake --build "$asan" -j "$jobs" --target $unit_targets
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$asan" --output-on-failure -j "$jobs" -L unit
