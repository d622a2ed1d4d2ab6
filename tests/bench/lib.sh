# tests/bench/lib.sh: what run.sh and cluster.sh share, sourced by both —
# messages, arithmetic, the cleanup of every process started (PIDS) and the
# temp dir (TMP, kept with KEEP_TMP=1), the watchdog (WATCHDOG seconds),
# results (RES) and loss checks (FAILS), CPU ticks from /proc, waiting for
# HTTP, stopping processes, reading Prometheus metrics. The sourcing script
# sets BENCH (its name in messages) and T_START first.

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
log() { echo "$BENCH: [$(($(date +%s) - T_START))s] $*" >&2; }
die() { echo "$BENCH: ERROR: $*" >&2; exit 3; }
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
now() { date +%s.%N; }
res() { echo "$1=$2" >>"$RES"; }
fail() { FAILS+=("$*"); echo "$BENCH: !!!!!!!! LOSS CHECK FAILED: $*" >&2; }
field() { sed -n "s/.*[ ]$2=\([0-9.]*\).*/\1/p" "$1" | head -1; }

# cleanup: every process of PIDS thawed and TERMed, then KILLed after 5 s;
# the temp dir removed; the exit status kept
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$KEEP_TMP" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}

# start_guards: the cleanup on exit and on a signal, and the watchdog that
# bounds the whole run in time
start_guards() {
  trap cleanup EXIT
  trap 'log "interrupted"; exit 130' INT TERM
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$WATCHDOG" & sp=$!
    wait "$sp"
    echo "$BENCH: ERROR: time limit ${WATCHDOG}s reached" >&2
    kill -TERM $$
  ) &
  PIDS+=($!)
}

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() {   # sum of utime+stime of the given pids, in clock ticks
  local t=0 p s rest f
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${s##*) }
    read -ra f <<<"$rest"          # f[0] is field 3 (state): utime 14, stime 15
    t=$((t + f[11] + f[12]))
  done
  echo $t
}

wait_http() {   # wait_http URL SECS
  local i
  for i in $(seq $(($2 * 20))); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.05
  done
  return 1
}

forget() {  # forget PID: drop a reaped pid from the cleanup list
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

stop_pid() {  # stop_pid PID...: TERM them all, wait up to 15 s, KILL, reap
  local p i alive
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for i in $(seq 300); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.05
  done
  for p in "$@"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    forget "$p"
  done
}

prom() {  # prom URL NAME: the sum of a Prometheus metric's samples
  curl -sf --max-time 5 "$1" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d\n", s }'
}
