#!/usr/bin/env bash
# README command (2), and what CI runs: install every package, build, and run the whole
# test suite (unit + integration through ctest, with the short fault-injection runs of
# tests/faults/: kill -9, disk full on a tmpfs (needs root), SIGHUP storm, floods), then
# one clang build with AddressSanitizer + UBSan that runs the unit tests once more,
# replays the kept fuzz crash inputs and runs every fuzz target briefly
# (tests/fuzz/run.sh), and the unit tests of the threaded parts (ledger group commit,
# identity index, RADIUS listener and sessions, metrics and the webhook notifier) under
# ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root bash deploy/install-deps.sh

jobs=$(nproc)
build=${PORTCULLIS_BUILD_DIR:-build}
san=${PORTCULLIS_FUZZ_DIR:-build-fuzz}
tsan=${PORTCULLIS_TSAN_DIR:-build-tsan}

echo "== build ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$build" -j "$jobs"

echo "== tests"
ctest --test-dir "$build" --output-on-failure -j "$jobs"

echo "== unit tests and fuzz targets under AddressSanitizer + UBSan, one clang build ($san)"
# -DPORTCULLIS_FUZZ=ON compiles every library with ASan, UBSan and libFuzzer's coverage
# hooks; the unit tests link them as they are, only the fuzz targets link libFuzzer.
CC=clang CXX=clang++ cmake -S . -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_FUZZ=ON -DPORTCULLIS_BENCH=OFF
unit_targets=$(sed -n 's/^portcullis_unit_test(\([a-z_]*\)$/\1/p' tests/CMakeLists.txt)
fuzz_targets=$(sed -n 's/^portcullis_fuzz_target(\(fuzz_[a-z_]*\) .*/\1/p' tests/fuzz/CMakeLists.txt)
cmake --build "$san" -j "$jobs" --target $unit_targets $fuzz_targets
# Leak detection stays at ASan's default (on), so a target that turns it off for a
# library's known leak (radius_differential) can.
ASAN_OPTIONS=abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$san" --output-on-failure -j "$jobs" -L unit
echo "== fuzz targets: 10 s each from the corpus"
tests/fuzz/run.sh "$san" "${PORTCULLIS_FUZZ_SECONDS:-10}"

echo "== threaded unit tests under ThreadSanitizer ($tsan)"
cmake -S . -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_TSAN=ON -DPORTCULLIS_BENCH=OFF
tsan_targets="unit_ca_ledger unit_radius_server unit_radius_dynauth unit_app_metrics"
cmake --build "$tsan" -j "$jobs" --target $tsan_targets
# The executables directly: ctest would also list the unit targets not built here.
for t in $tsan_targets; do
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$tsan/tests/$t" --gtest_brief=1
done
