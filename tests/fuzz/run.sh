#!/usr/bin/env bash
# Runs every libFuzzer target of a -DPORTCULLIS_FUZZ=ON build for SECONDS each, starting
# from a temporary copy of its seed corpus (tests/fuzz/corpus/<target>/, so the repository
# is not modified) with its dictionary (tests/fuzz/dict/<target>.dict) when there is one.
# Fails if any target crashes, leaks or times out; prints per target the executions,
# the coverage (cov: edges, ft: features, from libFuzzer's last status line) and crashes.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]    (TARGET: radius_packet, …)
#
# With FUZZ_WORK=DIR the corpora grow in DIR/<target>/corpus and are kept, so that several
# runs add up to one long campaign (the seeds are copied in the first time only).
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
bin_dir="$build/tests/fuzz"
if [ ! -d "$bin_dir" ]; then
  echo "run.sh: no $bin_dir (configure with CC=clang CXX=clang++ -DPORTCULLIS_FUZZ=ON)" >&2
  exit 2
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for b in "$bin_dir"/fuzz_*; do
    [ -x "$b" ] && targets+=("$(basename "$b" | sed 's/^fuzz_//')")
  done
fi

if [ -n "${FUZZ_WORK:-}" ]; then
  work=$FUZZ_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-fuzz-run-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
failed=0
printf '%-22s %12s %8s %8s %8s  %s\n' target executions cov ft crashes result
for t in "${targets[@]}"; do
  bin="$bin_dir/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "run.sh: $bin is not built" >&2
    failed=1
    continue
  fi
  corpus="$work/$t/corpus"
  artifacts="$work/$t/artifacts/"
  if [ ! -d "$corpus" ]; then
    mkdir -p "$corpus"
    [ -d "$here/corpus/$t" ] && cp -r "$here/corpus/$t/." "$corpus/"
  fi
  mkdir -p "$artifacts"
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts" -detect_leaks=1)
  [ -f "$here/dict/$t.dict" ] && args+=(-dict="$here/dict/$t.dict")
  log="$work/$t/log"
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  status=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  crashes=$(find "$artifacts" -type f | wc -l)
  result=ok
  if [ $rc -ne 0 ] || [ "$crashes" -gt 0 ]; then
    result="FAILED (exit $rc)"
    failed=1
    mkdir -p "$build/fuzz-artifacts/$t"
    cp "$artifacts"* "$build/fuzz-artifacts/$t/" 2>/dev/null
    cp "$log" "$build/fuzz-artifacts/$t/log"
    grep -m1 -E 'ERROR: |SUMMARY: |==[0-9]+==' "$log" | sed 's/^/    /'
  fi
  printf '%-22s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes" "$result"
done
if [ $failed -ne 0 ]; then
  echo "run.sh: failures; inputs and logs in $build/fuzz-artifacts/" >&2
fi
exit $failed
