#!/usr/bin/env bash
# test.sh: installs what is missing, builds, runs every test — unit,
# integration, browser and cluster, plain and under AddressSanitizer +
# UndefinedBehaviorSanitizer (all but suite `once`: tests of no C code of
# ours), the unit tests under valgrind, each fuzz target for 20 s — and ends
# with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# systemd: systemd-analyze (test_units); prometheus: promtool (test_monitoring);
# zbar-tools: zbarimg (test_links decodes the QR codes)
AG_DEPS_EXTRA="clang libclang-rt-14-dev valgrind chromium chromium-driver python3-selenium systemd prometheus zbar-tools" ./deploy/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0
run_suite() { # name builddir [meson setup args...]; MESON_TEST_ARGS: more for meson test
  local name=$1 dir=$2; shift 2
  echo "== $name: build ($dir)"
  if ! ./deploy/build.sh "$dir" "$@"; then
    echo "== $name: build failed"
    failed=$((failed + 1))
    return
  fi
  echo "== $name: test"
  local log; log=$(mktemp)
  # shellcheck disable=SC2086
  meson test -C "$dir" --print-errorlogs --num-processes 2 ${MESON_TEST_ARGS:-} 2>&1 | tee "$log"
  local ok fail
  ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -1)
  fail=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$log")
  [ -z "$ok" ] && { ok=0; fail=$((fail + 1)); }
  passed=$((passed + ok)); failed=$((failed + fail))
  rm -f "$log"
}

run_suite plain build
if [ "${AG_SKIP_ASAN:-}" != 1 ]; then
  # suite `once` (the units, alert rules, package layout, cluster fixture: not
  # the programs' C code) ran in the plain build already; AG_TEST_SHORT: the
  # 30 s shard outage lasts 12 s here (memory errors, not durations, are sought)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    AG_TEST_SHORT=1 MESON_TEST_ARGS="--no-suite once" run_suite sanitizers build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
if [ "${AG_SKIP_VALGRIND:-}" != 1 ]; then
  echo "== valgrind: unit tests"
  log=$(mktemp)
  meson test -C build --setup valgrind --suite unit --print-errorlogs 2>&1 | tee "$log"
  ok=$(awk '/^Ok:/ {print $2}' "$log" | tail -1)
  fail=$(awk '/^(Fail|Unexpected Pass|Timeout):/ {s += $2} END {print s + 0}' "$log")
  [ -z "$ok" ] && { ok=0; fail=$((fail + 1)); }
  passed=$((passed + ok)); failed=$((failed + fail))
  rm -f "$log"
fi

if [ "${AG_SKIP_FUZZ:-}" != 1 ]; then
  echo "== fuzz: every target for ${AG_FUZZ_SECONDS:-20} s"
  log=$(mktemp)
  AG_FUZZ_PARALLEL=2 tests/fuzz/run.sh "${AG_FUZZ_SECONDS:-20}" 2>&1 | tee "$log"
  ok=$(grep -cE '^fuzz_[a-z]+: .* 0 crashes' "$log" || true)
  fail=$(grep -E '^fuzz_[a-z]+: ' "$log" | grep -vcE ' 0 crashes' || true)
  [ "$ok" -eq 0 ] && [ "$fail" -eq 0 ] && fail=1   # the fuzz build itself failed
  passed=$((passed + ok)); failed=$((failed + fail))
  rm -f "$log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
