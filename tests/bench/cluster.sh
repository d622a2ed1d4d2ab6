#!/usr/bin/env bash
# tests/bench/cluster.sh: actiongap on one redis-server against a Redis
# Cluster of three masters, on loopback, in one run (issue 14, item 6; not
# part of ./deploy/test.sh).
#
#   tests/bench/cluster.sh [--quick] [--threads N] [--aggs N] [--rate N] [--no-aof]
#                          [--no-replicas] [--wrk-threads N] [--connections N]
#                          [--build-dir DIR] [--keep-tmp]
#
#   --quick        < 90 s: wrk 2 s, 20,000 pre-filled hits per drain, 2 s at
#                  the fixed rate (default: full, < 10 min: wrk 10 s,
#                  400,000 hits per drain, 10 s at the fixed rate)
#   --threads N    collector threads (default 2)
#   --aggs N       aggregator processes in the scaled cluster runs (default 3)
#   --rate N       the fixed rate of the replicas_ack runs (default 5000 req/s)
#   --no-aof       redis-servers without persistence (default: AOF everysec)
#   --no-replicas  leave out part (b), the 3+3 cluster
#
# (a) one redis-server, then a 3-master cluster (no replicas, partitions
#     spread 6/5/5 by `actiongap cluster --balance`), the same collector
#     (threads N): saturation req/s (wrk, keep-alive), with 1 aggregator and
#     then N aggregators (partitions shared through their leases); CPU µs per
#     hit of every process (/proc/PID/stat utime+stime over the run and until
#     the aggregators have counted every hit of it, ÷ hits), hits and CPU per
#     master; then the drain of a pre-filled backlog (bench.py's mix, each
#     hit on its campaign's partition, the RESP piped to the partition's
#     master with redis-cli --pipe) by 1 and by N aggregators; INFO
#     commandstats per node (stderr).
# (b) a 3+3 cluster: replicas_ack 0 against 1 (WAIT) in both daemons: CPU
#     µs per hit of every process and p50/p99 (h2load --h1 --rps) at a
#     fixed rate, the collector's queue and the aggregator's backlog
#     sampled, then a drain of a pre-filled backlog.
# Zero loss everywhere: every pixel answered 2xx is in a stream (sent N,
# found N), and the counters of every campaign sum to every entry of the
# streams. Ratios are against the one-node baseline (or replicas_ack 0) of
# the same run. Two cores here: the cluster's three redis-servers share them
# with the collector, the aggregators and the load generator, so this shows
# what a hit costs on a cluster, not how a cluster scales.
# Progress to stderr, one markdown table to stdout. Exit 1 when a loss check
# fails, 2 on bad usage, 3 when a tool fails.
set -euo pipefail
BENCH=cbench    # its name in messages (lib.sh)
# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=full
THREADS=2
NAGGS=3
RATE=5000
AOF=everysec
REPLICAS=1
WRK_THREADS=1
WRK_CONNS=64
BUILD_DIR="${AG_BENCH_BUILD_DIR:-/tmp/actiongap-build-cluster-bench}"
KEEP_TMP=0

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --threads) THREADS="$2"; shift ;;
    --aggs) NAGGS="$2"; shift ;;
    --rate) RATE="$2"; shift ;;
    --no-aof) AOF=no ;;
    --no-replicas) REPLICAS=0 ;;
    --wrk-threads) WRK_THREADS="$2"; shift ;;
    --connections) WRK_CONNS="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --keep-tmp) KEEP_TMP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ "$MODE" = quick ]; then
  WARM=1; DUR=2; DRAIN=0.3; AGG_N=20000; LAT_SECS=2; AGG_TIMEOUT=30; WATCHDOG=170; MEM_PER=10
else
  WARM=2; DUR=10; DRAIN=0.5; AGG_N=400000; LAT_SECS=10; AGG_TIMEOUT=120; WATCHDOG=590; MEM_PER=100
fi
# the memory probe: MEM_CAMPS campaigns x MEM_HOURS hours x MEM_PER hits,
# MEM_SUBJ subjects a campaign
MEM_CAMPS=20; MEM_HOURS=24; MEM_SUBJ=20000
PARTS=16
LAT_CLIENTS=25
LAT_N=$(awk "BEGIN { printf \"%d\", $RATE * $LAT_SECS }")

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="python3 $HERE/bench.py"
CB="python3 $HERE/clusterbench.py"
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)


for t in wrk h2load redis-server redis-cli python3 curl meson ninja; do
  command -v "$t" >/dev/null || die "$t is missing (tests/bench/run.sh installs what the benches need; or ./deploy/deps.sh)"
done

log "building (release) in $BUILD_DIR"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$ROOT" --buildtype=release >"/tmp/ag-cbench-meson.$$.log" 2>&1 ||
    { cat "/tmp/ag-cbench-meson.$$.log" >&2; die "meson setup failed"; }
  rm -f "/tmp/ag-cbench-meson.$$.log"
fi
ninja -C "$BUILD_DIR" collector/actiongap-collector aggregator/actiongap-aggregator aggregator/actiongap >/dev/null ||
  die "build failed (ninja -C $BUILD_DIR)"
COLLECTOR="$BUILD_DIR/collector/actiongap-collector"
AGGREGATOR="$BUILD_DIR/aggregator/actiongap-aggregator"
AGCLI="$BUILD_DIR/aggregator/actiongap"

# ------------------------------------------------------------ temp dir, cleanup

TMP="$(mktemp -d /tmp/ag-cbench.XXXXXX)"
RES="$TMP/results"
: >"$RES"
PIDS=()
FAILS=()

start_guards

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true



# ------------------------------------------------------------ Redis: one node or a cluster

persist_args() {
  if [ "$AOF" = everysec ]; then echo --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0
  else echo --appendonly no; fi
}
wait_ping() {
  local i
  for i in $(seq 100); do
    [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  die "redis-server :$1 did not start (see $TMP/$2/redis.log)"
}

# start_one NAME -> SEED (the port), MASTERS=(port), REPLS=(), RPIDS=(pid), URL
start_one() {
  local d="$TMP/$1"
  mkdir -p "$d"
  SEED=$($CB ports 1)
  # shellcheck disable=SC2046
  redis-server --port "$SEED" --bind 127.0.0.1 --dir "$d" --save '' $(persist_args) \
    --daemonize no --logfile "$d/redis.log" --maxclients 20000 >/dev/null 2>&1 &
  RPIDS=($!)
  PIDS+=("${RPIDS[0]}")
  wait_ping "$SEED" "$1"
  MASTERS=("$SEED"); REPLS=()
  declare -gA PID_OF=(["$SEED"]="${RPIDS[0]}")
  URL="redis://127.0.0.1:$SEED/0"
  CPARTS=1
}

# start_cluster NAME MASTERS REPLICAS -> SEED, MASTERS=(ports, lowest slot
# first), REPLS=(ports, in their masters' order), RPIDS, PID_OF[port], URL
start_cluster() {
  local name=$1 m=$2 r=$3 n=$(($2 * (1 + $3))) i
  local ps=($($CB ports $((2 * n)))) ports=()
  declare -gA PID_OF=()
  RPIDS=()
  for i in $(seq 0 $((n - 1))); do
    local p=${ps[$((2 * i))]} bus=${ps[$((2 * i + 1))]} d="$TMP/$name/${ps[$((2 * i))]}"
    mkdir -p "$d"
    # shellcheck disable=SC2046
    redis-server --port "$p" --bind 127.0.0.1 --dir "$d" --cluster-enabled yes \
      --cluster-config-file nodes.conf --cluster-node-timeout 5000 --cluster-port "$bus" \
      --cluster-announce-ip 127.0.0.1 --save '' $(persist_args) --repl-diskless-sync-delay 0 \
      --daemonize no --logfile "$d/redis.log" --maxclients 20000 >/dev/null 2>&1 &
    PID_OF[$p]=$!
    RPIDS+=($!)
    PIDS+=($!)
    ports+=("$p")
  done
  for p in "${ports[@]}"; do wait_ping "$p" "$name/$p"; done
  # the cluster made by hand (what redis-cli --cluster create does, without
  # its one-second polls): slots in three even ranges, a config epoch each,
  # MEET, then each replica REPLICATEs its master
  MASTERS=("${ports[@]:0:$m}"); REPLS=("${ports[@]:$m}")
  local id=() j
  for i in $(seq 0 $((n - 1))); do id+=("$(redis-cli -p "${ports[$i]}" cluster myid)"); done
  for i in $(seq 0 $((m - 1))); do
    redis-cli -p "${MASTERS[$i]}" cluster addslotsrange $((i * 16384 / m)) $(((i + 1) * 16384 / m - 1)) >/dev/null
    redis-cli -p "${MASTERS[$i]}" cluster set-config-epoch $((i + 1)) >/dev/null
  done
  for i in $(seq 1 $((n - 1))); do
    redis-cli -p "${ports[$i]}" cluster meet 127.0.0.1 "${ps[0]}" "${ps[1]}" >/dev/null
  done
  for p in "${ports[@]}"; do
    for j in $(seq 200); do
      [ "$(redis-cli -p "$p" cluster nodes | grep -c -v handshake)" = "$n" ] && break
      sleep 0.05
    done
  done
  for i in $(seq 0 $((${#REPLS[@]} - 1))); do
    redis-cli -p "${REPLS[$i]}" cluster replicate "${id[$((i % m))]}" >/dev/null ||
      die "cluster: CLUSTER REPLICATE on :${REPLS[$i]} failed"
  done
  # REPLS in their masters' order (replica i of master i % m; m replicas at most here)
  for p in "${ports[@]}"; do
    for j in $(seq 300); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      sleep 0.05
    done
    redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' || die "cluster not ok on :$p (see $TMP/$name/$p/redis.log)"
  done
  for p in "${REPLS[@]}"; do
    for j in $(seq 300); do
      redis-cli -p "$p" info replication | tr -d '\r' | grep -q '^master_link_status:up' && break
      sleep 0.05
    done
    redis-cli -p "$p" info replication | tr -d '\r' | grep -q '^master_link_status:up' || die "replica :$p not in sync"
  done
  SEED=${ports[0]}
  local seen; seen=($($CB topo "$SEED" 0 | awk '$1 == "master" { print $2 }'))
  [ "${seen[*]}" = "${MASTERS[*]}" ] || die "cluster: masters ${seen[*]}, not ${MASTERS[*]}"
  URL="redis+cluster://$(printf '127.0.0.1:%s,' "${ports[@]:0:3}")"
  URL=${URL%,}
  CPARTS=$PARTS
  log "  cluster $name: masters ${MASTERS[*]}${REPLS:+, replicas ${REPLS[*]}} (in $(($(date +%s) - T_START))s of the run)"
}
stop_redis() { stop_pid "${RPIDS[@]}"; RPIDS=(); }
mpids() { local p; for p in "${MASTERS[@]}"; do echo -n "${PID_OF[$p]} "; done; }
rpids() { local p; for p in "${REPLS[@]}"; do echo -n "${PID_OF[$p]} "; done; }
flushall() { local p; for p in "${MASTERS[@]}"; do timeout 60 redis-cli -p "$p" FLUSHALL >/dev/null; done; }
resetstat() { local p; for p in "${MASTERS[@]}" "${REPLS[@]}"; do timeout 10 redis-cli -p "$p" CONFIG RESETSTAT >/dev/null; done; }
balance() {
  timeout 120 "$AGCLI" --redis "$URL" cluster --balance >"$TMP/balance.log" 2>&1 ||
    { cat "$TMP/balance.log" >&2; die "actiongap cluster --balance failed"; }
  local spread
  spread=$($CB topo "$SEED" "$PARTS" | awk '$1 == "part" { n[$4]++ } END { for (p in n) printf "%s:%d ", p, n[p] }')
  log "  actiongap cluster --balance: partitions per master $spread"
}
# recorded: entries in every partition stream ("total=N port=N ...")
xlens() { $CB xlen "$SEED" "$CPARTS"; }
recorded() { xlens | sed 's/^total=\([0-9]*\).*/\1/'; }
per_master() { local x p out=""; x=$(xlens); for p in "${MASTERS[@]}"; do out+="$(echo "$x" | tr ' ' '\n' | sed -n "s/^$p=//p") "; done; echo "$out"; }

# ------------------------------------------------------------ the programs

COLL_PID=""; AGG_PIDS=(); AGG_URLS=()
start_collector() {  # start_collector [replicas_ack]
  COLL_PORT=$($CB ports 1)
  rm -rf "$TMP/spool"; mkdir -p "$TMP/spool"
  "$COLLECTOR" --listen "127.0.0.1:$COLL_PORT" --redis "$URL" --spool-dir "$TMP/spool" \
    --threads "$THREADS" --max-connections 20000 --replicas-ack "${1:-0}" >>"$TMP/collector.log" 2>&1 &
  COLL_PID=$!
  PIDS+=("$COLL_PID")
  local i
  for i in $(seq 200); do
    curl -s --max-time 1 "http://127.0.0.1:$COLL_PORT/healthz" 2>/dev/null | grep -q '"redis":"up"' && break
    sleep 0.05
  done
  curl -s --max-time 1 "http://127.0.0.1:$COLL_PORT/healthz" | grep -q '"redis":"up"' ||
    { tail -20 "$TMP/collector.log" >&2; die "collector did not start"; }
}
stop_collector() { [ -z "$COLL_PID" ] || stop_pid "$COLL_PID"; COLL_PID=""; }
start_aggs() {  # start_aggs N [replicas_ack]: consumers agg-0..agg-N-1
  local i
  AGG_PIDS=(); AGG_URLS=()
  for i in $(seq 0 $(($1 - 1))); do
    local mp
    mp=$($CB ports 1)
    "$AGGREGATOR" --redis "$URL" --metrics-listen "127.0.0.1:$mp" --consumer "agg-$i" \
      --replicas-ack "${2:-0}" >>"$TMP/aggregator-$i.log" 2>&1 &
    AGG_PIDS+=($!)
    PIDS+=($!)
    AGG_URLS+=("http://127.0.0.1:$mp/metrics")
  done
  for i in "${!AGG_URLS[@]}"; do
    wait_http "${AGG_URLS[$i]}" 10 || { tail -20 "$TMP/aggregator-$i.log" >&2; die "aggregator $i did not start"; }
  done
}
stop_aggs() { [ ${#AGG_PIDS[@]} = 0 ] || stop_pid "${AGG_PIDS[@]}"; AGG_PIDS=(); AGG_URLS=(); }
agg_sum() { local u t=0; for u in "${AGG_URLS[@]}"; do t=$((t + $(prom "$u" "$1"))); done; echo $t; }
owned() { $CB owned "${AGG_URLS[@]}"; }
# wait_counted SECS: every entry of every stream acknowledged by the group
wait_counted() {
  local i n
  for i in $(seq $(($1 * 10))); do
    n=$($CB backlog "$SEED" "$CPARTS")
    [ "$n" = 0 ] && return 0
    sleep 0.1
  done
  log "WARNING: $n entries still not counted after $1 s"
  return 1
}
settle() {  # the collector's queue and spool empty, the streams' length stable
  local prev=-1 cur i stable=0 q s
  for i in $(seq 300); do
    q=$(prom "http://127.0.0.1:$COLL_PORT/metrics" ag_queue_depth)
    s=$(prom "http://127.0.0.1:$COLL_PORT/metrics" ag_spool_records)
    if [ "$q" != 0 ] || [ "$s" != 0 ]; then prev=-1; sleep 0.1; continue; fi
    cur=$(recorded)
    if [ "$cur" = "$prev" ]; then stable=$((stable + 1)); [ $stable -ge 2 ] && return 0; else stable=0; fi
    prev=$cur
    sleep 0.1
  done
  log "WARNING: the collector did not settle in 30 s"
}
check_loss() {  # check_loss WHAT SENT FOUND
  if [ "$2" != "$3" ]; then
    fail "$1: sent $2, found $3 ($(($3 - $2)))"; return 1
  fi
  log "  $1: zero loss: sent $2, found $3"
}
check_counters() {  # check_counters WHAT: counters of every campaign = every stream entry
  local c t x
  c=$($CB counters "$SEED")
  t=$(echo "$c" | sed 's/total=\([0-9]*\).*/\1/')
  x=$(recorded)
  if [ "$t" != "$x" ]; then fail "$1: $x entries in the streams, counters sum to $t"; return 1; fi
  log "  $1: counted exactly: $x entries in the streams, counters sum to $t ($c)"
}

# per-process CPU: snapshot every process of the setup, then µs/hit each
snap() { SNAP_COLL=$([ -n "$COLL_PID" ] && cpu_ticks "$COLL_PID" || echo 0); SNAP_M=(); SNAP_R=(); SNAP_A=()
  local p; for p in "${MASTERS[@]}"; do SNAP_M+=("$(cpu_ticks "${PID_OF[$p]}")"); done
  for p in "${REPLS[@]}"; do SNAP_R+=("$(cpu_ticks "${PID_OF[$p]}")"); done
  for p in "${AGG_PIDS[@]}"; do SNAP_A+=("$(cpu_ticks "$p")"); done; }
us() { calc "$1 * 1000000 / $CLK_TCK / ($2 > 0 ? $2 : 1)" 2; }
# cpu_rows ROW HITS: the µs/hit of each process since snap, into the results
cpu_rows() {
  local r=$1 h=$2 i p out
  [ -z "$COLL_PID" ] || res "$r.cpu_coll" "$(us $(($(cpu_ticks "$COLL_PID") - SNAP_COLL)) "$h")"
  out=""; for i in "${!MASTERS[@]}"; do p=${MASTERS[$i]}; out+="$(us $(($(cpu_ticks "${PID_OF[$p]}") - SNAP_M[i])) "$h") "; done
  res "$r.cpu_redis" "$out"
  out=""; for i in "${!REPLS[@]}"; do p=${REPLS[$i]}; out+="$(us $(($(cpu_ticks "${PID_OF[$p]}") - SNAP_R[i])) "$h") "; done
  res "$r.cpu_repl" "$out"
  out=""; for i in "${!AGG_PIDS[@]}"; do out+="$(us $(($(cpu_ticks "${AGG_PIDS[$i]}") - SNAP_A[i])) "$h") "; done
  res "$r.cpu_agg" "$out"
  log "  $r: CPU µs/hit: collector $(grep "^$r.cpu_coll=" "$RES" | cut -d= -f2) | masters $(grep "^$r.cpu_redis=" "$RES" | cut -d= -f2)|" \
      "replicas $(grep "^$r.cpu_repl=" "$RES" | cut -d= -f2)| aggregators $(grep "^$r.cpu_agg=" "$RES" | cut -d= -f2)"
}
cmdstats() { $CB cmdstats "$1" "$2" "${MASTERS[@]}" >&2; }

# ------------------------------------------------------------ load

run_wrk() {  # run_wrk SECS OUTFILE
  timeout $(($1 + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$1"s --timeout 5s -s "$HERE/pixel.lua" \
    "http://127.0.0.1:$COLL_PORT" -- "$(calc "$1 - $DRAIN" 2)" >"$2" 2>&1 || { cat "$2" >&2; die "wrk failed"; }
  grep -q '^BENCH ' "$2" || { cat "$2" >&2; die "wrk printed no BENCH line"; }
}

# saturation ROW SETUP AGGS: wrk at saturation; CPU of every process until
# the aggregators have counted the run's every hit
saturation() {
  local r=$1
  log "$r: warm-up ${WARM}s"
  run_wrk "$WARM" "$TMP/$r.warm"
  settle; wait_counted 60 || true
  local m0 m1 x0 x1 i
  m0=($(per_master)); x0=$(recorded)
  resetstat; snap
  log "$r: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DUR}s (pixels for $(calc "$DUR - $DRAIN" 1) s, then a 404 drain)"
  local t0 t1 tc
  t0=$(now)
  run_wrk "$DUR" "$TMP/$r.wrk"
  t1=$(now)
  settle
  wait_counted 120 || true
  tc=$(now)
  x1=$(recorded); m1=($(per_master))
  local req non ok hits
  req=$(field "$TMP/$r.wrk" requests); non=$(field "$TMP/$r.wrk" non2xx)
  ok=$((req - non)); hits=$((x1 - x0))
  log "  $r: wrk requests=$req, 2xx pixels=$ok, non-2xx (the drain)=$non, socket errors" \
      "c/r/w/t=$(field "$TMP/$r.wrk" errors_connect)/$(field "$TMP/$r.wrk" errors_read)/$(field "$TMP/$r.wrk" errors_write)/$(field "$TMP/$r.wrk" errors_timeout);" \
      "every hit counted $(calc "$tc - $t1" 2) s after wrk ended"
  res "$r.hits" "$hits"
  res "$r.rate" "$(calc "$ok / ($DUR - $DRAIN)" 0)"
  res "$r.ratekind" sat
  local sp=""
  for i in "${!MASTERS[@]}"; do sp+="$((m1[i] - m0[i])) "; done
  res "$r.spread" "$sp"
  cpu_rows "$r" "$hits"
  cmdstats "$r" "$hits"
  if check_loss "$r wrk" "$ok" "$hits" && check_counters "$r"; then res "$r.loss" 0; else res "$r.loss" "**MISMATCH**"; fi
}

# prefill N SEED: N hits of bench.py's mix on the partition streams, each
# master's share piped to it by its own redis-cli --pipe, in parallel
prefill() {
  local n=$1 seed=$2 t0 t1 p pp=()
  t0=$(now)
  mkdir -p "$TMP/pf"; rm -f "$TMP/pf/"*.resp
  if [ "$CPARTS" = 1 ]; then
    timeout 300 $PY prefill "$n" 'ag:hits:{0}' "$seed" >"$TMP/pf/$SEED.resp" || die "prefill failed"
  else
    timeout 300 $CB prefill "$n" "$CPARTS" "$TMP/pf" "$seed" "$SEED" >"$TMP/pf/counts" || die "prefill failed"
  fi
  for p in "${MASTERS[@]}"; do
    timeout 300 redis-cli -p "$p" --pipe <"$TMP/pf/$p.resp" >"$TMP/pf/$p.log" 2>&1 &
    pp+=($!); PIDS+=($!)
  done
  for p in "${pp[@]}"; do wait "$p" || die "redis-cli --pipe failed ($(cat "$TMP"/pf/*.log | tail -3))"; forget "$p"; done
  t1=$(now)
  local got; got=$(recorded)
  [ "$got" = "$n" ] || die "pre-fill wrote $got entries, not $n"
  log "  pre-filled $n hits in $(calc "$t1 - $t0" 1) s: per master $(per_master)"
}

# drain ROW AGGS [replicas_ack] [seed-leases]: time AGGS aggregators
# counting the pre-filled backlog
drain() {
  local r=$1 na=$2 ra=${3:-0} seedl=${4:-0}
  local m0; m0=($(per_master))
  res "$r.hits" "$AGG_N"
  local sp="" i; for i in "${!MASTERS[@]}"; do sp+="${m0[$i]} "; done
  res "$r.spread" "$sp"
  resetstat
  if [ "$seedl" = 1 ]; then
    local cons=(); for i in $(seq 0 $((na - 1))); do cons+=("agg-$i"); done
    log "  leases seeded: $($CB seed-leases "$SEED" "$CPARTS" "${cons[@]}")"
  fi
  COLL_PID=""
  snap
  local t0 t1 applied=0 deadline
  t0=$(now)
  start_aggs "$na" "$ra"
  SNAP_A=(); for i in "${!AGG_PIDS[@]}"; do SNAP_A+=(0); done   # new processes: all their CPU
  deadline=$(calc "$t0 + $AGG_TIMEOUT" 3)
  while :; do
    sleep 0.1
    applied=$(agg_sum ag_agg_applied_total)
    [ "$applied" -ge "$AGG_N" ] && break
    if awk "BEGIN { exit !($(now) > $deadline) }"; then log "  $r: WARNING: ${AGG_TIMEOUT}s: $applied of $AGG_N applied"; break; fi
  done
  t1=$(now)
  local secs; secs=$(calc "$t1 - $t0" 3)
  res "$r.rate" "$(calc "$applied / $secs" 0)"
  log "  $r: $applied applied in $secs s = $(calc "$applied / $secs" 0) hits/s by $na aggregator(s) (partitions held $(owned))"
  cpu_rows "$r" "$applied"
  cmdstats "$r" "$applied"
  wait_counted 30 || true
  if [ "$applied" -ge "$AGG_N" ] && check_counters "$r"; then res "$r.loss" 0; else res "$r.loss" "**MISMATCH**"; fi
  local short; short=$(agg_sum ag_agg_replicas_short_total)
  [ "$short" = 0 ] || log "  $r: WARNING: $short rounds short of replicas_ack"
  stop_aggs
}

UA="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
# h2load_fixed TAG RATE N: N pixels at RATE req/s by LAT_CLIENTS h2load
# processes of one connection each. h2load's clients all walk one URI list
# from its start, so clients of one process would repeat each other's nonces
# (the aggregator would count them as dup, a cheaper path); one process a
# client, each with its own list, keeps every nonce unique. Sets H_OK (2xx),
# H_RATE (achieved), and TMP/TAG.lat (every request's latency).
h2load_fixed() {
  local tag=$1 rate=$2 n=$3 i per each pp=()
  each=$(( (n + LAT_CLIENTS - 1) / LAT_CLIENTS ))
  per=$((rate / LAT_CLIENTS))
  mkdir -p "$TMP/h2/$tag"
  for i in $(seq 0 $((LAT_CLIENTS - 1))); do
    awk -v n="$each" -v t="$tag-$i" -v seed=$((i + 1)) -v b="http://127.0.0.1:$COLL_PORT" 'BEGIN {
      srand(seed); split("open view click signup", ev, " ");
      for (k = 0; k < n; k++)
        printf "%s/p.gif?c=camp-%d&e=%s&s=subj-%d&n=%s-%d\n", b, int(rand()*1000), ev[int(rand()*4)+1], int(rand()*100000), t, k
    }' >"$TMP/h2/$tag/$i.uris"
  done
  local t0 t1
  t0=$(now)
  for i in $(seq 0 $((LAT_CLIENTS - 1))); do
    timeout $((n * 4 / rate + 30)) h2load --h1 -t1 -c1 --rps "$per" -n "$each" -H "User-Agent: $UA" \
      --log-file "$TMP/h2/$tag/$i.lat" -i "$TMP/h2/$tag/$i.uris" >"$TMP/h2/$tag/$i.out" 2>&1 &
    pp+=($!); PIDS+=($!)
  done
  for i in "${pp[@]}"; do wait "$i" || { cat "$TMP/h2/$tag/"*.out | tail -20 >&2; die "h2load failed"; }; forget "$i"; done
  t1=$(now)
  H_OK=$(cat "$TMP/h2/$tag/"*.out | sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
  H_RATE=$(calc "$((each * LAT_CLIENTS)) / ($t1 - $t0)" 0)
  cat "$TMP/h2/$tag/"*.lat >"$TMP/$tag.lat"
}
# fixed ROW REPLICAS_ACK: pixels at RATE for LAT_SECS
fixed() {
  local r=$1 ra=$2 n=$LAT_N x0 x1 m0 m1 i
  if [ "$MODE" = full ]; then
    log "$r: warm-up: $RATE req/s for 1 s"
    h2load_fixed "$r-warm" "$RATE" "$RATE"
    settle; wait_counted 60 || true
  fi
  m0=($(per_master)); x0=$(recorded)
  resetstat; snap
  $CB sample "$SEED" "$CPARTS" "http://127.0.0.1:$COLL_PORT/metrics" "$TMP/$r.sample" &
  local spid=$!; PIDS+=("$spid")
  log "$r: $LAT_CLIENTS x h2load --h1 -c1 --rps $(calc "$RATE / $LAT_CLIENTS" 1) (= $RATE req/s), $n pixels, replicas_ack $ra"
  h2load_fixed "$r" "$RATE" "$n"
  # CPU over the load's window only, ÷ the hits sent in it: in a steady
  # state the aggregator counts as many as arrive (the backlog it carries
  # into the window is about the one it leaves behind)
  cpu_rows "$r" "$H_OK"
  settle
  wait_counted 60 || true
  kill -TERM "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true; forget "$spid"
  x1=$(recorded); m1=($(per_master))
  local hits=$((x1 - x0)) ok=$H_OK pct
  pct=$($PY pct "$TMP/$r.lat")
  res "$r.hits" "$hits"
  res "$r.rate" "$H_RATE"
  res "$r.p50" "$(echo "$pct" | sed 's/.*p50=\([0-9]*\).*/\1/')"
  res "$r.p99" "$(echo "$pct" | sed 's/.*p99=\([0-9]*\).*/\1/')"
  local sp=""; for i in "${!MASTERS[@]}"; do sp+="$((m1[i] - m0[i])) "; done
  res "$r.spread" "$sp"
  log "  $r: $pct (µs); $(cat "$TMP/$r.sample") (collector queue: hits held awaiting Redis; backlog: entries not yet counted)"
  local hb; hb=$($CB hist "${AGG_URLS[0]}" ag_agg_batch_duration_seconds)
  log "  $r: aggregator batch duration (since it started, warm-up included): $hb"
  res "$r.queue_max" "$(field "$TMP/$r.sample" queue_max)"
  res "$r.backlog_max" "$(field "$TMP/$r.sample" backlog_max)"
  res "$r.batch" "$hb"
  res "note.$r" "$r ($RATE req/s, replicas_ack $ra): collector queue (hits held in memory awaiting Redis) at most $(field "$TMP/$r.sample" queue_max), aggregator backlog (entries not yet counted) at most $(field "$TMP/$r.sample" backlog_max) ($(calc "$(field "$TMP/$r.sample" backlog_max) / $RATE" 2) s of traffic), batch duration mean $(echo "$hb" | sed 's/mean=\([0-9.]*\).*/\1/') s"
  local short cshort
  short=$(agg_sum ag_agg_replicas_short_total)
  cshort=$(prom "http://127.0.0.1:$COLL_PORT/metrics" ag_redis_replicas_short_total)
  [ "$short" = 0 ] || log "  $r: WARNING: $short aggregator rounds short of replicas_ack"
  [ "$cshort" = 0 ] || log "  $r: WARNING: $cshort collector WAITs short of replicas_ack"
  cmdstats "$r" "$hits"
  if check_loss "$r h2load" "${ok:-0}" "$hits" && check_counters "$r"; then res "$r.loss" 0; else res "$r.loss" "**MISMATCH**"; fi
}

log "mode=$MODE collector threads=$THREADS aggregators=1 and $NAGGS, redis persistence=$([ "$AOF" = everysec ] && echo 'AOF everysec' || echo none)," \
    "fixed rate $RATE req/s, tmp=$TMP"
res rows "one_sat,c3_sat1,c3_satN,one_drain,c3_drain1,c3_drainN,ra0_fixed,ra1_fixed,ra0_drain,ra1_drain"
label() {  # label ROW SETUP AGGS LOAD BASE SHORT
  res "$1.setup" "$2"; res "$1.aggs" "$3"; res "$1.load" "$4"; res "$1.base" "$5"; res "$1.short" "$6"
}
label one_sat "one redis-server" 1 "wrk saturation" one_sat "one node"
label c3_sat1 "3 masters" 1 "wrk saturation" one_sat "one node"
label c3_satN "3 masters" "$NAGGS" "wrk saturation" one_sat "one node"
label one_drain "one redis-server" 1 "drain" one_drain "one node"
label c3_drain1 "3 masters" 1 "drain" one_drain "one node"
label c3_drainN "3 masters" "$NAGGS" "drain" one_drain "one node"
label ra0_fixed "3+3, replicas_ack 0" 1 "$RATE req/s" ra0_fixed "ack 0"
label ra1_fixed "3+3, replicas_ack 1" 1 "$RATE req/s" ra0_fixed "ack 0"
label ra0_drain "3+3, replicas_ack 0" 1 "drain" ra0_drain "ack 0"
label ra1_drain "3+3, replicas_ack 1" 1 "drain" ra0_drain "ack 0"

# ------------------------------------------------------------ (a) one node
log "one node: redis-server, collector (threads $THREADS), 1 aggregator"
start_one one
start_collector; start_aggs 1
saturation one_sat
stop_collector; stop_aggs
flushall
prefill "$AGG_N" 1
drain one_drain 1
stop_redis

# ------------------------------------------------------------ (a) three masters
log "3 masters (no replicas)"
start_cluster c3 3 0
balance
start_collector; start_aggs 1
saturation c3_sat1
stop_aggs
if [ "$NAGGS" -gt 1 ]; then
  start_aggs "$NAGGS"
  sleep 1.2
  o=$(owned)
  log "  $NAGGS aggregators started together hold $o partitions (leases as they come: the first takes every free one)"
  res note.leases "$NAGGS aggregators started together held $o of the $PARTS partitions (the lease loop takes every free lease; nothing spreads them); the $NAGGS-aggregator rows ran with the leases seeded first, each aggregator one master's partitions (ag:lease:{P} set to its consumer name, which it renews)"
  stop_aggs
  cons=(); for i in $(seq 0 $((NAGGS - 1))); do cons+=("agg-$i"); done
  if [ "$NAGGS" = "${#MASTERS[@]}" ]; then
    log "  leases seeded: $($CB seed-leases "$SEED" "$CPARTS" "${cons[@]}")"
  fi
  start_aggs "$NAGGS"
  sleep 1.5
  log "  partitions held by the $NAGGS aggregators: $(owned)"
  saturation c3_satN
  stop_aggs
fi
stop_collector
flushall
prefill "$AGG_N" 1
drain c3_drain1 1
if [ "$NAGGS" -gt 1 ]; then
  flushall
  prefill "$AGG_N" 2
  drain c3_drainN "$NAGGS" 0 $([ "$NAGGS" = "${#MASTERS[@]}" ] && echo 1 || echo 0)
fi
stop_redis

# ------------------------------------------------------------ (b) 3 + 3: replicas_ack
if [ "$REPLICAS" = 1 ]; then
  log "3 masters + 3 replicas: replicas_ack 0 against 1"
  start_cluster c33 3 1
  balance
  for ra in 0 1; do
    flushall
    start_collector "$ra"; start_aggs 1 "$ra"
    fixed "ra${ra}_fixed" "$ra"
    stop_collector; stop_aggs
    flushall
    prefill "$AGG_N" $((3 + ra))
    drain "ra${ra}_drain" 1 "$ra"
  done
  stop_redis
fi

# ------------------------------------------------------------ (c) memory per unit
MEM_HITS=$((MEM_CAMPS * MEM_HOURS * MEM_PER))
log "memory: $MEM_HITS hits = $MEM_CAMPS campaigns x $MEM_HOURS hours x $MEM_PER, $MEM_SUBJ subjects a campaign, on one redis-server"
start_one mem
start_aggs 1
timeout 120 bash -c "set -o pipefail; $CB genmem $SEED $MEM_CAMPS $MEM_HOURS $MEM_HITS $MEM_SUBJ | redis-cli -p $SEED --pipe" \
  >"$TMP/genmem.log" 2>&1 || { cat "$TMP/genmem.log" >&2; die "memory probe: pre-fill failed"; }
wait_counted 120 || true
check_counters memory || true
timeout 120 $CB memory "$SEED" "$MEM_CAMPS" "$MEM_HOURS" "$MEM_HITS" "$MEM_SUBJ" >"$TMP/memory" || die "memory probe failed"
sed 's/^/mem./' "$TMP/memory" >>"$RES"
res mem.shape "$MEM_CAMPS campaigns x $MEM_HOURS hours x $MEM_PER hits ($MEM_HITS), $MEM_SUBJ subjects a campaign"
log "  memory: $(tr '\n' ' ' <"$TMP/memory")"
stop_aggs
stop_redis

# ------------------------------------------------------------ the table
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "actiongap cluster benchmark — $MODE mode, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu_model)," \
     "collector threads $THREADS, $PARTS partitions on the cluster (1 on one node), redis $([ "$AOF" = everysec ] && echo 'AOF everysec' || echo 'without persistence')," \
     "wrk -t$WRK_THREADS -c$WRK_CONNS -d${DUR}s, drains of $AGG_N pre-filled hits, fixed rate $RATE req/s for ${LAT_SECS}s," \
     "$(($(date +%s) - T_START)) s, load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
$CB table "$RES"
if [ ${#FAILS[@]} -gt 0 ]; then
  echo >&2
  echo "cbench: !!!!!!!! ${#FAILS[@]} LOSS CHECK(S) FAILED:" >&2
  for f in "${FAILS[@]}"; do echo "cbench: !!!!!!!!   $f" >&2; done
  exit 1
fi
