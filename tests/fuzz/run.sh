#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets with clang (ASan + UBSan) under
# build-fuzz/ and runs each for SECONDS on a temporary copy of its seed
# corpus; prints one line per target and exits non-zero on any crash, leak
# or timeout (the input is kept in build-fuzz/crashes/).
#
#   tests/fuzz/run.sh SECONDS [TARGET...]    TARGET: http query body redirect spool
#   AG_FUZZ_PARALLEL=2   run that many targets at a time (default 1)
#   CC=clang-15          another clang
set -euo pipefail

usage() { echo "usage: $0 SECONDS [http|query|body|redirect|spool ...]" >&2; exit 2; }
[ $# -ge 1 ] && [[ "$1" =~ ^[0-9]+$ ]] || usage
secs=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/build-fuzz"
all=(http query body redirect spool)
targets=()
for t in "${@:-${all[@]}}"; do
  t=${t#fuzz_}
  [[ " ${all[*]} " == *" $t "* ]] || { echo "run.sh: unknown target $t" >&2; usage; }
  targets+=("$t")
done

# ---- toolchain
CC=${CC:-clang}
command -v "$CC" >/dev/null || { echo "run.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
PKGS="libevent libevent_pthreads hiredis libcjson libcrypto"
pkg_cflags=$(pkg-config --cflags $PKGS)
pkg_libs=$(pkg-config --libs $PKGS)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter $SAN \
  -I$root/proto -I$root/collector -I$here $pkg_cflags"
probe="$out/.probe"
mkdir -p "$out/obj" "$out/crashes"
printf 'int LLVMFuzzerTestOneInput(const char *d, long n){(void)d;(void)n;return 0;}\n' > "$probe.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log"; then
  echo "run.sh: $CC cannot link -fsanitize=fuzzer (install libclang-rt-14-dev):" >&2
  cat "$probe.log" >&2; exit 2
fi

# ---- build: library sources once (fuzzer-no-link), then one link per target
# every library source: proto/*.c and collector/*.c but main.c (so that a
# file split in those directories needs no change here)
objs=()
compile() {  # compile SRC OBJ: rebuilds OBJ when SRC or a header is newer
  local src=$1 obj=$2
  if [ ! -e "$obj" ] || [ -n "$(find "$src" "$root/proto" "$root/collector" "$here" -name '*.h' -newer "$obj" -o -path "$src" -newer "$obj" | head -1)" ]; then
    "$CC" $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
}
for src in "$root"/proto/*.c "$root"/collector/*.c; do
  [ "$src" = "$root/collector/main.c" ] && continue
  d=$(basename "$(dirname "$src")"); o="$out/obj/lib_${d}_$(basename "$src" .c).o"
  compile "$src" "$o"
  objs+=("$o")
done
for t in "${all[@]}"; do
  compile "$here/fuzz_$t.c" "$out/obj/fuzz_$t.o"
  wrap=""
  [ "$t" = http ] && wrap="-Wl,--wrap=coll_sink_push"   # fuzz_http checks every accepted hit
  "$CC" $SAN -fsanitize=fuzzer $wrap "$out/obj/fuzz_$t.o" "${objs[@]}" $pkg_libs -lm -lpthread \
    -o "$out/fuzz_$t"
done

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
  (cd "$work" && AG_FUZZ_TMP="$work" "$out/fuzz_$t" "${dict[@]}" -max_total_time="$secs" -max_len="$maxlen" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -close_fd_mask=2 \
      -artifact_prefix="$out/crashes/fuzz_$t-" "$work/corpus" >"$out/fuzz_$t.log" 2>&1) || rc=$?
  local execs new after crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz_$t.log" | tail -1)
  new=$(sed -n 's/^stat::new_units_added: *//p' "$out/fuzz_$t.log" | tail -1)
  after=$(find "$out/crashes" -maxdepth 1 -name "fuzz_$t-*" | wc -l)
  crashes=$((after - before))
  [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1   # e.g. a leak at exit
  echo "fuzz_$t: ${execs:-0} execs, ${new:-0} new units, $crashes crashes" >"$out/fuzz_$t.result"
  [ "$rc" -ne 0 ] && echo "  see $out/fuzz_$t.log; reproduce: $out/fuzz_$t $out/crashes/fuzz_$t-*" \
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
