#!/usr/bin/env bash
# tests/bench/run.sh: actiongap against nginx and against Redis' own append
# ceiling, on loopback, in one run (not part of ./deploy/test.sh).
#
#   tests/bench/run.sh [--quick] [--reps N] [--threads N] [--no-aof] [--rate N]
#                      [--wrk-threads N] [--connections N] [--build-dir DIR] [--keep-tmp]
#
#   --quick      < 60 s: wrk 3 s once, 100,000 hits for the aggregator
#                (default: full, < 10 min: wrk 10 s x 3 runs, median; 1,000,000 hits)
#   --reps N     saturation runs per HTTP server (median reported)
#   --threads N  collector threads = nginx worker_processes (default 1)
#   --no-aof     redis-server without persistence (default: AOF, appendfsync everysec)
#   --rate N     the fixed rate of the latency test (default 20000 req/s)
#
# Measures, in this order (each server fresh, everything in a temp dir on
# free ports, every process killed by the EXIT trap, every client bounded by
# `timeout` and the whole run by a watchdog):
#   nginx+access_log  nginx empty_gif, access_log (combined, unbuffered) to a file
#   nginx no log      nginx empty_gif, access_log off
#   actiongap         private redis-server + actiongap-collector + actiongap-aggregator
#   redis XADD        redis-benchmark XADD -P 64 on a fresh private redis-server
#   aggregator        1,000,000 pre-filled hits (100,000 with --quick) applied
#                     by actiongap-aggregator on that redis-server
# For every HTTP server: req/s at saturation (wrk, keep-alive), CPU µs per
# recorded hit (/proc/PID/stat utime+stime of the server processes over the
# run ÷ hits recorded), p50/p99 at a fixed rate (h2load --h1 --rps), peak RSS
# (VmHWM) and RSS with 10,000 idle keep-alive connections; and ZERO LOSS:
# every pixel answered 2xx must be in the stream (or the access log), exactly.
# Progress goes to stderr; the one markdown table to stdout. Exit status 1
# when a loss check fails (loudly), 2 on bad usage, 3 when a tool fails.
set -euo pipefail
BENCH=bench    # its name in messages (lib.sh)
# shellcheck source=tests/bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=full
THREADS=1
AOF=everysec
RATE=20000
WRK_THREADS=1
WRK_CONNS=64
BUILD_DIR="${AG_BENCH_BUILD_DIR:-/tmp/actiongap-build-bench}"
KEEP_TMP=0
REPS=""

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MODE=quick ;;
    --reps) REPS="$2"; shift ;;
    --full) MODE=full ;;
    --threads) THREADS="$2"; shift ;;
    --no-aof) AOF=no ;;
    --rate) RATE="$2"; shift ;;
    --wrk-threads) WRK_THREADS="$2"; shift ;;
    --connections) WRK_CONNS="$2"; shift ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --keep-tmp) KEEP_TMP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

if [ "$MODE" = quick ]; then
  WARM=1; DUR=3; DRAIN=0.4; LAT_SECS=1.5; XADD_N=200000; AGG_N=100000; AGG_TIMEOUT=25; WATCHDOG=110; REPS=${REPS:-1}
else
  WARM=2; DUR=10; DRAIN=0.5; LAT_SECS=5; XADD_N=1000000; AGG_N=1000000; AGG_TIMEOUT=300; WATCHDOG=590; REPS=${REPS:-3}
fi
IDLE_N=10000
LAT_CLIENTS=100
LAT_N=$(awk "BEGIN { printf \"%d\", $RATE * $LAT_SECS }")

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="python3 $HERE/bench.py"
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)


# ------------------------------------------------------------ packages, build

ensure_packages() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v h2load >/dev/null || need+=(nghttp2-client)
  command -v redis-server >/dev/null || need+=(redis-server)
  { command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null; } || need+=(redis-tools)
  command -v python3 >/dev/null || need+=(python3)
  command -v curl >/dev/null || need+=(curl)
  { command -v meson >/dev/null && command -v ninja >/dev/null; } || need+=(meson ninja-build)
  [ ${#need[@]} -eq 0 ] && return 0
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${need[*]}"
    SUDO=sudo
  fi
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # keep apt from starting a system nginx/redis-server (port 80/6379)
  local rc_made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    $SUDO sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' && rc_made=1
  fi
  local ok=0
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || ok=$?
  [ $rc_made = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
  [ $ok = 0 ] || die "apt-get install ${need[*]} failed"
}
ensure_packages
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
if [ ! -f "$ROOT/deploy/deps.sh" ] || ! pkg-config --exists libevent hiredis libcjson check 2>/dev/null; then
  [ -f "$ROOT/deploy/deps.sh" ] && "$ROOT/deploy/deps.sh"
fi

log "building (release) in $BUILD_DIR"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  meson setup "$BUILD_DIR" "$ROOT" --buildtype=release >"/tmp/ag-bench-meson.$$.log" 2>&1 ||
    { cat "/tmp/ag-bench-meson.$$.log" >&2; die "meson setup failed"; }
  rm -f "/tmp/ag-bench-meson.$$.log"
fi
ninja -C "$BUILD_DIR" collector/actiongap-collector aggregator/actiongap-aggregator >/dev/null ||
  die "build failed (ninja -C $BUILD_DIR)"
COLLECTOR="$BUILD_DIR/collector/actiongap-collector"
AGGREGATOR="$BUILD_DIR/aggregator/actiongap-aggregator"

# ------------------------------------------------------------ temp dir, cleanup

TMP="$(mktemp -d /tmp/ag-bench.XXXXXX)"
RES="$TMP/results"
: >"$RES"
PIDS=()
FAILS=()

start_guards

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=65536
if [ "$NOFILE" -lt $((IDLE_N + 1000)) ]; then
  IDLE_N=$((NOFILE - 1000))
  log "WARNING: open-file limit $NOFILE: idle-connection test reduced to $IDLE_N connections"
fi


# ------------------------------------------------------------ /proc helpers

status_kb() {   # status_kb FIELD pids...: sum of a /proc/PID/status kB field
  local f=$1 t=0 p v; shift
  for p in "$@"; do
    v=$(awk -v f="$f:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || true)
    t=$((t + ${v:-0}))
  done
  echo $t
}
ticks_us() { calc "$1 * 1000000 / $CLK_TCK" 0; }
freeport() { $PY freeport; }

# ------------------------------------------------------------ servers

start_redis() {  # start_redis NAME -> sets REDIS_PORT REDIS_PID
  local d="$TMP/$1"
  mkdir -p "$d"
  REDIS_PORT=$(freeport)
  local persist=(--appendonly no)
  [ "$AOF" = everysec ] && persist=(--appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$d" --save '' "${persist[@]}" \
    --daemonize no --logfile "$d/redis.log" --maxclients 20000 >/dev/null 2>&1 &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  local i
  for i in $(seq 100); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  die "redis-server did not start (see $d/redis.log)"
}
rcli() { timeout 60 redis-cli -p "$REDIS_PORT" "$@"; }
# cmdstats LABEL HITS: logs what each Redis command cost per hit since the
# last CONFIG RESETSTAT (INFO commandstats: usec of each command ÷ HITS, its
# share of the total), the dearest first, so the next person sees where
# counting spends Redis's time
cmdstats() {
  rcli INFO commandstats | tr -d '\r' | awk -F'[:,=]' -v label="$1" -v hits="$2" '
    /^cmdstat_/ { name = substr($1, 9); for (i = 2; i < NF; i += 2) { if ($i == "calls") c[name] = $(i+1); if ($i == "usec") u[name] = $(i+1) } total += u[name] }
    END {
      n = 0; for (k in u) keys[n++] = k
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (u[keys[j]] > u[keys[i]]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
      line = sprintf("  %s: redis per hit (INFO commandstats) %.2f µs:", label, total / (hits > 0 ? hits : 1))
      for (i = 0; i < n && i < 8; i++) line = line sprintf(" %s %.2f µs (%.0f%%, %.3f calls/hit);", keys[i], u[keys[i]] / (hits > 0 ? hits : 1), total ? 100 * u[keys[i]] / total : 0, c[keys[i]] / (hits > 0 ? hits : 1))
      print line
    }'
}


start_nginx() {  # start_nginx NAME on|off -> NGX_PORT NGX_PID NGX_DIR
  NGX_DIR="$TMP/$1"
  mkdir -p "$NGX_DIR/tmp"
  NGX_PORT=$(freeport)
  local logdir="access_log off;"
  [ "$2" = on ] && logdir="access_log $NGX_DIR/access.log combined;"
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user $(id -un) $(id -gn);"
  cat >"$NGX_DIR/nginx.conf" <<EOF
$user
worker_processes $THREADS;
daemon off;
master_process on;
pid $NGX_DIR/nginx.pid;
error_log $NGX_DIR/error.log warn;
worker_rlimit_nofile $NOFILE;
events { worker_connections $((NOFILE - 200)); }
http {
  access_log off;
  client_body_temp_path $NGX_DIR/tmp/body;
  proxy_temp_path $NGX_DIR/tmp/proxy;
  fastcgi_temp_path $NGX_DIR/tmp/fastcgi;
  uwsgi_temp_path $NGX_DIR/tmp/uwsgi;
  scgi_temp_path $NGX_DIR/tmp/scgi;
  keepalive_timeout 60s;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$NGX_PORT backlog=4096;
    server_name _;
    location = /p.gif {
      empty_gif;
      $logdir
      add_header Cache-Control "no-store, no-cache, must-revalidate, max-age=0";
      add_header Pragma no-cache;
      add_header Expires 0;
    }
    location / { return 404; }
  }
}
EOF
  "$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" -e "$NGX_DIR/error.log" >"$NGX_DIR/stderr.log" 2>&1 &
  NGX_PID=$!
  PIDS+=("$NGX_PID")
  wait_http "http://127.0.0.1:$NGX_PORT/p.gif?c=warm" 10 ||
    { cat "$NGX_DIR/stderr.log" "$NGX_DIR/error.log" >&2 2>/dev/null; die "nginx did not start"; }
  [ "$2" = on ] && : >"$NGX_DIR/access.log"   # truncate: keeps the warm-up request out
  return 0
}
nginx_pids() { echo "$NGX_PID" $(pgrep -P "$NGX_PID" || true); }

start_actiongap() {  # -> COLL_PORT COLL_PID AGG_PID AGG_MPORT (redis already up)
  COLL_PORT=$(freeport)
  AGG_MPORT=$(freeport)
  mkdir -p "$TMP/ag/spool"
  "$COLLECTOR" --listen "127.0.0.1:$COLL_PORT" --redis "redis://127.0.0.1:$REDIS_PORT/0" \
    --spool-dir "$TMP/ag/spool" --threads "$THREADS" --max-connections 20000 \
    >"$TMP/ag/collector.log" 2>&1 &
  COLL_PID=$!
  PIDS+=("$COLL_PID")
  "$AGGREGATOR" --redis "redis://127.0.0.1:$REDIS_PORT/0" --metrics-listen "127.0.0.1:$AGG_MPORT" \
    >"$TMP/ag/aggregator.log" 2>&1 &
  AGG_PID=$!
  PIDS+=("$AGG_PID")
  local i
  for i in $(seq 200); do
    curl -s --max-time 1 "http://127.0.0.1:$COLL_PORT/healthz" 2>/dev/null | grep -q '"redis":"up"' && break
    sleep 0.05
  done
  curl -s --max-time 1 "http://127.0.0.1:$COLL_PORT/healthz" | grep -q '"redis":"up"' ||
    { cat "$TMP/ag/collector.log" >&2; die "collector did not start"; }
  wait_http "http://127.0.0.1:$AGG_MPORT/metrics" 10 ||
    { cat "$TMP/ag/aggregator.log" >&2; die "aggregator did not start"; }
}
coll_metric() { prom "http://127.0.0.1:$COLL_PORT/metrics" "$1"; }
agg_metric() { prom "http://127.0.0.1:$AGG_MPORT/metrics" "$1"; }

# ------------------------------------------------------------ what a server recorded

# recorded NAME: hits the server has durably recorded so far
recorded() {
  case "$1" in
    ag) rcli XLEN 'ag:hits:{0}' ;;
    nginx_log) wc -l <"$NGX_DIR/access.log" | tr -d ' ' ;;
    *) echo 0 ;;
  esac
}
# settle NAME: waits until everything accepted is recorded (queue drained)
settle() {
  local prev=-1 cur i stable=0
  for i in $(seq 300); do
    cur=$(recorded "$1")
    if [ "$1" = ag ]; then
      local q s
      q=$(coll_metric ag_queue_depth); s=$(coll_metric ag_spool_records)
      [ "$q" = 0 ] && [ "$s" = 0 ] || { prev=-1; sleep 0.1; continue; }
    fi
    if [ "$cur" = "$prev" ]; then stable=$((stable + 1)); [ $stable -ge 2 ] && return 0; else stable=0; fi
    prev=$cur
    sleep 0.1
  done
  log "WARNING: $1 did not settle in 30 s"
}
check_loss() {  # check_loss NAME PHASE EXPECTED DELTA
  local d=$(($4 - $3))
  if [ "$d" -ne 0 ]; then
    if [ "$d" -lt 0 ]; then fail "$1 $2: $3 pixels answered 2xx, $4 recorded: $((-d)) LOST"
    else fail "$1 $2: $3 pixels answered 2xx, $4 recorded: $d more than answered"; fi
  else
    log "  $1 $2: zero loss ($3 answered 2xx = $4 recorded)"
  fi
  LOSS_TOTAL=$((LOSS_TOTAL + (d < 0 ? -d : d)))
}

# ------------------------------------------------------------ the HTTP benchmark

UA="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
# h2load paths: varied campaigns/subjects/events, every client walks the list
awk -v n=$((LAT_N / LAT_CLIENTS + 1)) 'BEGIN {
  srand(42); split("open view click signup", ev, " ");
  for (i = 0; i < n; i++)
    printf "/p.gif?c=camp-%d&e=%s&s=subj-%d&n=lat-%d\n", int(rand()*1000), ev[int(rand()*4)+1], int(rand()*100000), i
}' >"$TMP/lat-paths"

run_wrk() {  # run_wrk PORT SECS OUTFILE
  local pixel_secs
  pixel_secs=$(calc "$2 - $DRAIN" 2)
  timeout $(($2 + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$2"s --timeout 5s -s "$HERE/pixel.lua" \
    "http://127.0.0.1:$1" -- "$pixel_secs" >"$3" 2>&1 || { cat "$3" >&2; die "wrk failed"; }
  grep -q '^BENCH ' "$3" || { cat "$3" >&2; die "wrk printed no BENCH line"; }
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
wait_agg_idle() {  # the aggregator has caught up (lag 0), at most 60 s
  local i
  for i in $(seq 600); do
    local done=0 m
    for m in ag_agg_applied_total ag_agg_duplicates_total ag_agg_skipped_total ag_agg_malformed_total; do
      done=$((done + $(agg_metric $m)))
    done
    [ "$done" -ge "$(recorded ag)" ] && return 0
    sleep 0.1
  done
  log "WARNING: the aggregator did not catch up in 60 s"
}

# bench_http NAME PORT PIDS-FUNCTION
bench_http() {
  local name=$1 port=$2 pidfn=$3 pids
  LOSS_TOTAL=0
  log "$name: warm-up ${WARM}s"
  run_wrk "$port" "$WARM" "$TMP/$name.warm"
  settle "$name"

  # --- saturation: REPS runs, the median is reported
  local rep r0 c0 r1 c1 a0=0 a1=0 m0=0 m1=0 rps_list=() cpu_list=() main_list=() lag_list=() catch_list=()
  for rep in $(seq "$REPS"); do
    [ "$name" != ag ] || wait_agg_idle
    pids=$($pidfn)
    r0=$(recorded "$name"); c0=$(cpu_ticks $pids)
    [ "$name" != ag ] || { a0=$(cpu_ticks "$AGG_PID"); m0=$(cpu_ticks "$COLL_PID"); rcli CONFIG RESETSTAT >/dev/null; }
    log "$name: run $rep/$REPS: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DUR}s (pixels for $(calc "$DUR - $DRAIN" 1) s, then a 404 drain)"
    local lpid=""
    if [ "$name" = ag ]; then  # the aggregator's lag, sampled while wrk runs
      $PY lag "$REDIS_PORT" "http://127.0.0.1:$AGG_MPORT/metrics" "$TMP/ag.lag" &
      lpid=$!
      PIDS+=("$lpid")
    fi
    run_wrk "$port" "$DUR" "$TMP/$name.wrk"
    if [ -n "$lpid" ]; then
      local tl0 tl1
      tl0=$(now)
      kill -TERM "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null; forget "$lpid"
      wait_agg_idle
      tl1=$(now)
      lag_list+=("$(field "$TMP/ag.lag" max_lag)")
      catch_list+=("$(calc "$tl1 - $tl0" 2)")
    fi
    settle "$name"
    pids=$($pidfn)
    r1=$(recorded "$name"); c1=$(cpu_ticks $pids)
    local req non2xx ok rec ecn erd ewr eto rps cpu
    req=$(field "$TMP/$name.wrk" requests); non2xx=$(field "$TMP/$name.wrk" non2xx)
    ecn=$(field "$TMP/$name.wrk" errors_connect); erd=$(field "$TMP/$name.wrk" errors_read)
    ewr=$(field "$TMP/$name.wrk" errors_write); eto=$(field "$TMP/$name.wrk" errors_timeout)
    ok=$((req - non2xx))
    rec=$((r1 - r0))
    log "  $name: wrk requests=$req (pixels 2xx=$ok, non-2xx incl. the drain=$non2xx," \
        "socket errors connect/read/write/timeout=$ecn/$erd/$ewr/$eto), recorded=$rec"
    local denom=$rec
    [ "$name" = nginx_nolog ] && denom=$ok
    rps=$(calc "$ok / ($DUR - $DRAIN)" 0)
    cpu=$(calc "($c1 - $c0) * 1000000 / $CLK_TCK / ($denom > 0 ? $denom : 1)" 2)
    rps_list+=("$rps"); cpu_list+=("$cpu")
    log "  $name: $rps req/s, server CPU $(ticks_us $((c1 - c0))) µs over $denom hits = $cpu µs/hit"
    if [ "$name" = ag ]; then
      a1=$(cpu_ticks "$AGG_PID"); m1=$(cpu_ticks "$COLL_PID")
      main_list+=("$(calc "($m1 - $m0) * 1000000 / $CLK_TCK / $denom" 2)")
      log "  ag: of which the collector $(calc "($m1 - $m0) * 1000000 / $CLK_TCK / $denom" 2) µs/hit, redis-server the rest"
      log "  ag: aggregator CPU meanwhile $(ticks_us $((a1 - a0))) µs ($(calc "($a1 - $a0) * 1000000 / $CLK_TCK / $denom" 2) µs/hit, not in the table)"
      log "$(cmdstats "ag (appending and counting live)" "$denom")"
      log "  ag: aggregator lag during the run at most ${lag_list[-1]} entries (≈ $(calc "${lag_list[-1]} / ($rps > 0 ? $rps : 1)" 2) s of traffic), caught up ${catch_list[-1]} s after wrk ended"
    fi
    [ "$name" != nginx_nolog ] && check_loss "$name" "wrk run $rep" "$ok" "$rec"
  done
  res "$name.rps" "$(median "${rps_list[@]}")"
  res "$name.cpu_us" "$(median "${cpu_list[@]}")"
  [ "$name" != ag ] || res ag.cpu_main_us "$(median "${main_list[@]}")"
  if [ "$name" = ag ]; then
    res ag.lag_max "$(median "${lag_list[@]}")"
    res ag.lag_s "$(calc "$(median "${lag_list[@]}") / ($(median "${rps_list[@]}") > 0 ? $(median "${rps_list[@]}") : 1)" 2)"
    res ag.catchup_s "$(median "${catch_list[@]}")"
  fi
  log "  $name: median of $REPS: $(median "${rps_list[@]}") req/s (runs: ${rps_list[*]}), $(median "${cpu_list[@]}") µs/hit (runs: ${cpu_list[*]})"

  # --- actiongap only: the split. One more run with the aggregator paused
  # (SIGSTOP): the collector and Redis appending, nothing else; then the
  # aggregator resumed and timed catching up: what counting those hits cost
  # Redis and the aggregator.
  if [ "$name" = ag ]; then
    wait_agg_idle
    kill -STOP "$AGG_PID"
    pids=$($pidfn)
    r0=$(recorded ag); c0=$(cpu_ticks $pids); m0=$(cpu_ticks "$COLL_PID")
    log "ag: split run: wrk -t$WRK_THREADS -c$WRK_CONNS -d${DUR}s with the aggregator paused"
    run_wrk "$port" "$DUR" "$TMP/ag.split.wrk"
    settle ag
    r1=$(recorded ag); c1=$(cpu_ticks $pids); m1=$(cpu_ticks "$COLL_PID")
    local sreq snon sok srec
    sreq=$(field "$TMP/ag.split.wrk" requests); snon=$(field "$TMP/ag.split.wrk" non2xx)
    sok=$((sreq - snon)); srec=$((r1 - r0))
    check_loss ag "split run" "$sok" "$srec"
    local rc0 rc1 ac0 ac1 ts0 ts1
    rc0=$(cpu_ticks "$REDIS_PID"); ac0=$(cpu_ticks "$AGG_PID"); ts0=$(now)
    kill -CONT "$AGG_PID"
    wait_agg_idle
    rc1=$(cpu_ticks "$REDIS_PID"); ac1=$(cpu_ticks "$AGG_PID"); ts1=$(now)
    local d=$((srec > 0 ? srec : 1)) srps app coll cred cagg
    srps=$(calc "$sok / ($DUR - $DRAIN)" 0)
    app=$(calc "($c1 - $c0) * 1000000 / $CLK_TCK / $d" 2)
    coll=$(calc "($m1 - $m0) * 1000000 / $CLK_TCK / $d" 2)
    cred=$(calc "($rc1 - $rc0) * 1000000 / $CLK_TCK / $d" 2)
    cagg=$(calc "($ac1 - $ac0) * 1000000 / $CLK_TCK / $d" 2)
    res ag.split_rps "$srps"; res ag.append_us "$app"; res ag.append_coll_us "$coll"
    res ag.count_redis_us "$cred"; res ag.count_agg_us "$cagg"
    log "  ag: split: $srec hits appended at $srps req/s for $app µs/hit (collector $coll);" \
        "counting them took $(calc "$ts1 - $ts0" 2) s: Redis $cred µs/hit, aggregator $cagg µs/hit"
  fi

  # --- latency at a fixed rate
  local per=$((RATE / LAT_CLIENTS)) n=$LAT_N
  awk -v b="http://127.0.0.1:$port" '{ print b $0 }' "$TMP/lat-paths" >"$TMP/$name.uris"
  r0=$(recorded "$name")
  log "$name: h2load --h1 -c$LAT_CLIENTS --rps $per (= $((per * LAT_CLIENTS)) req/s) -n $n"
  timeout $((LAT_N * 4 / RATE + 30)) h2load --h1 -t1 -c"$LAT_CLIENTS" --rps "$per" -n "$n" \
    -H "User-Agent: $UA" --log-file "$TMP/$name.lat" -i "$TMP/$name.uris" >"$TMP/$name.h2load" 2>&1 ||
    { cat "$TMP/$name.h2load" >&2; die "h2load failed"; }
  settle "$name"
  r1=$(recorded "$name")
  local pct h2ok achieved
  pct=$($PY pct "$TMP/$name.lat")
  h2ok=$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$TMP/$name.h2load")
  achieved=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$TMP/$name.h2load")
  log "  $name: achieved ${achieved} req/s, $pct (µs), 2xx=$h2ok"
  res "$name.p50_us" "$(echo "$pct" | sed 's/.*p50=\([0-9]*\).*/\1/')"
  res "$name.p99_us" "$(echo "$pct" | sed 's/.*p99=\([0-9]*\).*/\1/')"
  res "$name.lat_achieved" "$achieved"
  [ "$name" != nginx_nolog ] && check_loss "$name" "h2load" "${h2ok:-0}" "$((r1 - r0))"

  # --- RSS with idle keep-alive connections
  r0=$(recorded "$name")
  log "$name: opening $IDLE_N idle keep-alive connections"
  timeout 120 $PY idle "$port" "$IDLE_N" >"$TMP/$name.idle" 2>&1 &
  local ipid=$! i
  PIDS+=("$ipid")
  for i in $(seq 1200); do
    grep -q '^READY' "$TMP/$name.idle" && break
    kill -0 "$ipid" 2>/dev/null || break
    sleep 0.05
  done
  grep -q '^READY' "$TMP/$name.idle" || { cat "$TMP/$name.idle" >&2; die "idle-connection client failed"; }
  sleep 0.5
  pids=$($pidfn)
  res "$name.idle_rss_kb" "$(status_kb VmRSS $pids)"
  [ "$name" != ag ] || res ag.idle_rss_main_kb "$(status_kb VmRSS "$COLL_PID")"
  local iok; iok=$(sed -n 's/^READY ok=\([0-9]*\).*/\1/p' "$TMP/$name.idle")
  local conns=""
  [ "$name" = ag ] && conns=" (collector reports $(coll_metric ag_http_connections) open connections)"
  log "  $name: $(head -1 "$TMP/$name.idle"), server RSS $(status_kb VmRSS $pids) kB$conns"
  stop_pid "$ipid"
  log "  $name: $(grep CLOSED_BY_SERVER "$TMP/$name.idle" || echo 'idle client ended abnormally')"
  settle "$name"
  r1=$(recorded "$name")
  [ "$name" != nginx_nolog ] && check_loss "$name" "idle" "${iok:-0}" "$((r1 - r0))"

  pids=$($pidfn)
  res "$name.hwm_kb" "$(status_kb VmHWM $pids)"
  [ "$name" != ag ] || res ag.hwm_main_kb "$(status_kb VmHWM "$COLL_PID")"
  if [ "$name" = nginx_nolog ]; then res "$name.loss" "n/a (no record)"
  elif [ $LOSS_TOTAL = 0 ]; then res "$name.loss" "0"
  else res "$name.loss" "**$LOSS_TOTAL MISMATCH**"; fi
}

log "mode=$MODE threads=$THREADS redis persistence=$([ "$AOF" = everysec ] && echo 'AOF appendfsync everysec' || echo none)" \
    "rate=$RATE tmp=$TMP"

# ------------------------------------------------------------ nginx
start_nginx nginx_log on
bench_http nginx_log "$NGX_PORT" nginx_pids
stop_pid "$NGX_PID"

start_nginx nginx_nolog off
bench_http nginx_nolog "$NGX_PORT" nginx_pids
stop_pid "$NGX_PID"

# ------------------------------------------------------------ actiongap
start_redis ag-redis
start_actiongap
ag_pids() { echo "$COLL_PID $REDIS_PID"; }
bench_http ag "$COLL_PORT" ag_pids
log "  ag: peak RSS collector $(status_kb VmHWM "$COLL_PID") kB + redis-server $(status_kb VmHWM "$REDIS_PID") kB;" \
    "aggregator $(status_kb VmHWM "$AGG_PID") kB (not in the table)"
rej=$(rcli XLEN ag:rejects)
[ "$rej" = 0 ] || fail "ag: $rej hits rejected (ag:rejects): the load is meant to be all valid"
stop_pid "$COLL_PID"; stop_pid "$AGG_PID"; stop_pid "$REDIS_PID"

# ------------------------------------------------------------ redis XADD ceiling
start_redis agg-redis
c0=$(cpu_ticks "$REDIS_PID")
log "xadd: redis-benchmark -c 4 -P 64 -n $XADD_N XADD (a hit's fields)"
timeout 300 redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c 4 -P 64 -n "$XADD_N" -r 100000 --csv \
  XADD bench:xadd '*' hid bench.0-__rand_int__ ts 1795457046631 campaign camp-__rand_int__ event open \
  subject subj-__rand_int__ nonce n-__rand_int__ ip 198.51.100.0 agent human ua "$UA" via pixel \
  >"$TMP/xadd.csv" 2>&1 || { cat "$TMP/xadd.csv" >&2; die "redis-benchmark failed"; }
c1=$(cpu_ticks "$REDIS_PID")
xrps=$(tail -1 "$TMP/xadd.csv" | awk -F'","' '{ print $2 }')
xlen=$(rcli XLEN bench:xadd)
res xadd.rps "$xrps"
res xadd.cpu_us "$(calc "($c1 - $c0) * 1000000 / $CLK_TCK / $xlen" 2)"
res xadd.hwm_kb "$(status_kb VmHWM "$REDIS_PID")"
if [ "$xlen" = "$XADD_N" ]; then res xadd.loss 0; else res xadd.loss "**$((XADD_N - xlen)) MISMATCH**"; fail "xadd: $XADD_N sent, $xlen in the stream"; fi
log "  xadd: $xrps XADD/s, redis CPU $(ticks_us $((c1 - c0))) µs for $xlen entries, redis peak RSS $(status_kb VmHWM "$REDIS_PID") kB"
rcli DEL bench:xadd >/dev/null

# ------------------------------------------------------------ aggregator
log "agg: pre-filling ag:hits:{0} with $AGG_N hits (1,000 campaigns Zipf, 100,000 subjects)"
t0=$(now)
timeout 300 bash -c "set -o pipefail; $PY prefill $AGG_N 'ag:hits:{0}' 1 | redis-cli -p $REDIS_PORT --pipe" >"$TMP/prefill.log" 2>&1 ||
  { cat "$TMP/prefill.log" >&2; die "pre-fill failed"; }
t1=$(now)
plen=$(rcli XLEN 'ag:hits:{0}')
[ "$plen" = "$AGG_N" ] || { cat "$TMP/prefill.log" >&2; die "pre-fill wrote $plen entries, not $AGG_N"; }
log "  agg: pre-filled in $(calc "$t1 - $t0" 1) s ($(tail -1 "$TMP/prefill.log"))"
AGG_MPORT=$(freeport)
rcli CONFIG RESETSTAT >/dev/null
c0=$(cpu_ticks "$REDIS_PID")
t0=$(now)
"$AGGREGATOR" --redis "redis://127.0.0.1:$REDIS_PORT/0" --metrics-listen "127.0.0.1:$AGG_MPORT" \
  >"$TMP/aggregator.log" 2>&1 &
AGG_PID=$!
PIDS+=("$AGG_PID")
applied=0
deadline=$(calc "$t0 + $AGG_TIMEOUT" 3)
while :; do
  sleep 0.1
  kill -0 "$AGG_PID" 2>/dev/null || { cat "$TMP/aggregator.log" >&2; die "aggregator died"; }
  applied=$(agg_metric ag_agg_applied_total 2>/dev/null || echo 0)
  if [ "${applied:-0}" -ge "$AGG_N" ]; then
    t1=$(now)
    break
  fi
  if awk "BEGIN { exit !($(now) > $deadline) }"; then
    t1=$(now)
    log "  agg: WARNING: time limit ${AGG_TIMEOUT}s: $applied of $AGG_N applied"
    break
  fi
done
c1=$(cpu_ticks "$REDIS_PID")
a1=$(cpu_ticks "$AGG_PID")
lag=$(rcli XINFO GROUPS 'ag:hits:{0}' | awk 'p { print; exit } $0 == "lag" { p = 1 }')
pend=$(rcli XINFO GROUPS 'ag:hits:{0}' | awk 'p { print; exit } $0 == "pending" { p = 1 }')
secs=$(calc "$t1 - $t0" 3)
res agg.rps "$(calc "$applied / $secs" 0)"
res agg.cpu_us "$(calc "($a1 + $c1 - $c0) * 1000000 / $CLK_TCK / ($applied > 0 ? $applied : 1)" 2)"
res agg.hwm_kb "$(status_kb VmHWM "$AGG_PID")"
log "  agg: $applied applied in $secs s = $(calc "$applied / $secs" 0)/s; group lag=$lag pending=$pend;" \
    "CPU aggregator $(ticks_us "$a1") µs + redis $(ticks_us $((c1 - c0))) µs;" \
    "peak RSS aggregator $(status_kb VmHWM "$AGG_PID") kB, redis $(status_kb VmHWM "$REDIS_PID") kB"
log "$(cmdstats agg "$applied")"
sleep 0.3  # let the batch in flight be acknowledged
cnt=$($PY counters "$REDIS_PORT")
total=$(echo "$cnt" | sed 's/total=\([0-9]*\).*/\1/')
log "  agg: counters: $cnt (every event counter + machine_* + dup of every campaign)"
if [ "$applied" -ge "$AGG_N" ] && [ "$total" = "$AGG_N" ]; then
  res agg.loss 0
else
  res agg.loss "**$((AGG_N - total)) MISMATCH**"
  fail "aggregator: $AGG_N hits in the stream, $applied applied, counters sum to $total"
fi
stop_pid "$AGG_PID"; stop_pid "$REDIS_PID"

# ------------------------------------------------------------ the table
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "actiongap benchmark — $MODE mode, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu_model)," \
     "collector threads = nginx workers = $THREADS, redis $([ "$AOF" = everysec ] && echo 'AOF appendfsync everysec' || echo 'without persistence')," \
     "wrk -t$WRK_THREADS -c$WRK_CONNS -d${DUR}s, latency at $RATE req/s (h2load --h1 --rps), $(($(date +%s) - T_START)) s," \
     "load average $LOAD_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
$PY table "$RES"
if [ ${#FAILS[@]} -gt 0 ]; then
  echo >&2
  echo "bench: !!!!!!!! ${#FAILS[@]} LOSS CHECK(S) FAILED:" >&2
  for f in "${FAILS[@]}"; do echo "bench: !!!!!!!!   $f" >&2; done
  exit 1
fi
