#!/usr/bin/env bash
# README command (2), and what CI runs: install every package, build, and run the whole
# test suite (unit + integration through ctest, with the short fault-injection runs of
# tests/faults/: kill -9, disk full on a tmpfs (needs root), SIGHUP storm, floods), then
# the unit tests once more under AddressSanitizer + UBSan, and the unit tests of the threaded parts (ledger group commit,
# identity index, RADIUS listener and sessions, metrics and the webhook notifier) under ThreadSanitizer,
# and every fuzz target briefly (tests/fuzz/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root bash deploy/install-deps.sh

jobs=$(nproc)
build=${PORTCULLIS_BUILD_DIR:-build}
asan=${PORTCULLIS_ASAN_DIR:-build-asan}
tsan=${PORTCULLIS_TSAN_DIR:-build-tsan}

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

echo "== threaded unit tests under ThreadSanitizer ($tsan)"
cmake -S . -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_TSAN=ON -DPORTCULLIS_BENCH=OFF
tsan_targets="unit_ca_ledger unit_radius_server unit_radius_dynauth unit_app_metrics"
cmake --build "$tsan" -j "$jobs" --target $tsan_targets
# The executables directly: ctest would also list the unit targets not built here.
for t in $tsan_targets; do
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" "$tsan/tests/$t" --gtest_brief=1
done

echo "== fuzz targets: the kept crash inputs, then 10 s each from the corpus (clang, tests/fuzz)"
fuzz=${PORTCULLIS_FUZZ_DIR:-build-fuzz}
CC=clang CXX=clang++ cmake -S . -B "$fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTCULLIS_FUZZ=ON -DPORTCULLIS_BENCH=OFF
fuzz_targets=$(sed -n 's/^portcullis_fuzz_target(\(fuzz_[a-z_]*\) .*/\1/p' tests/fuzz/CMakeLists.txt)
cmake --build "$fuzz" -j "$jobs" --target $fuzz_targets
ctest --test-dir "$fuzz" -R fuzz_regressions --output-on-failure
tests/fuzz/run.sh "$fuzz" "${PORTCULLIS_FUZZ_SECONDS:-10}"
