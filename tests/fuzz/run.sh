#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets with clang (ASan + UBSan) under
# build-fuzz/ and runs each for SECONDS on a temporary copy of its seed
# corpus; prints one line per target and exits non-zero on any crash, leak
# or timeout (the input is kept in build-fuzz/crashes/).
#
#   tests/fuzz/run.sh SECONDS [TARGET...]    TARGET: http query body redirect spool hook
#   AG_FUZZ_PARALLEL=2   run that many targets at a time (default 1)
#   CC=clang-15          another clang
set -euo pipefail

usage() { echo "usage: $0 SECONDS [http|query|body|redirect|spool|hook ...]" >&2; exit 2; }
[ $# -ge 1 ] && [[ "$1" =~ ^[0-9]+$ ]] || usage
secs=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build-fuzz"
all=(http query body redirect spool hook)
targets=()
for t in "${@:-${all[@]}}"; do
  t=${t#fuzz_}
  [[ " ${all[*]} " == *" $t "* ]] || { echo "run.sh: unknown target $t" >&2; usage; }
  targets+=("$t")
done

# ---- toolchain and build: meson -Dfuzz=true in build-fuzz/ (ASan + UBSan)
CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
probe="$out/.probe"
mkdir -p "$out/crashes"
printf 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}\n' > "$probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log"; then
  echo "run.sh: $CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev):" >&2
  cat "$probe.log" >&2; exit 2
fi
if [ ! -f "$out/build.ninja" ]; then
  CC=$CC meson setup "$out" "$root" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args='-fno-sanitize-recover=all -fno-omit-frame-pointer' >/dev/null
fi
ninja -C "$out" $(printf 'tests/fuzz/fuzz_%s ' "${all[@]}") >/dev/null
bin="$out/tests/fuzz"

# ---- run
run_one() {  # run_one TARGET: fuzzes into a temp corpus; writes $out/fuzz_T.result
  local t=$1 maxlen=8192 work dict=() rc=0
  [ "$t" = http ] && maxlen=65536
  local base=${TMPDIR:-/tmp}
  [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm   # spool files of http/spool stay in memory
  work=$(mktemp -d "$base/agfuzz-$t.XXXXXX")
  mkdir -p "$work/corpus"
  for d in "$here/corpus/fuzz_$t" "$here/regressions/fuzz_$t"; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f -exec cp {} "$work/corpus/" \;
  done
  [ -f "$here/fuzz_$t.dict" ] && dict=(-dict="$here/fuzz_$t.dict")
  local before
  before=$(find "$out/crashes" -maxdepth 1 -name "fuzz_$t-*" | wc -l)
  (cd "$work" && AG_FUZZ_TMP="$work" "$bin/fuzz_$t" "${dict[@]}" -max_total_time="$secs" -max_len="$maxlen" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=2 \
      -artifact_prefix="$out/crashes/fuzz_$t-" "$work/corpus" >"$out/fuzz_$t.log" 2>&1) || rc=$?
  local execs new after crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz_$t.log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$out/fuzz_$t.log" | tail -1)
  after=$(find "$out/crashes" -maxdepth 1 -name "fuzz_$t-*" | wc -l)
  crashes=$((after - before))
  [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1   # e.g. a leak at exit
  echo "fuzz_$t: ${execs:-0} execs, ${new:-0} new units, $crashes crashes" >"$out/fuzz_$t.result"
  [ "$rc" -ne 0 ] && echo "  see $out/fuzz_$t.log; reproduce: $bin/fuzz_$t $out/crashes/fuzz_$t-*" \
    >>"$out/fuzz_$t.result"
  rm -rf "$work"
  return "$rc"
}

par=${AG_FUZZ_PARALLEL:-1}
fail=0
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$par" ]; then
    wait -n || fail=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || fail=1
  running=$((running - 1))
done
for t in "${targets[@]}"; do cat "$out/fuzz_$t.result"; done
exit "$fail"
