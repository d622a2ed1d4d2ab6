#!/usr/bin/env bash
# run.sh: installs what is missing, builds, starts a private redis-server
# under ./var (unless AG_REDIS names one), then the collector and the
# aggregator and the dashboard in the foreground. Ctrl-C stops everything
# cleanly.
# --cluster: a private Redis Cluster of 3 masters under ./var/cluster
# instead (ports AG_CLUSTER_PORT.. +2, default 6401; AG_CLUSTER_REPLICAS=1
# adds a replica to each), the programs given redis+cluster://...
set -euo pipefail
cluster=""
for arg in "$@"; do
  case $arg in
    --cluster) cluster=1 ;;
    *) echo "usage: $0 [--cluster]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
# AG_NO_BUILD=1: use ./build as it is (the README tour's test: AG_RUN_ROOT
# names a directory holding build/, and var/ is made there)
if [ -z "${AG_NO_BUILD:-}" ]; then
  ./deploy/deps.sh
  ./deploy/build.sh build
fi
cd "${AG_RUN_ROOT:-.}"
root=$PWD

mkdir -p var/redis var/spool
pids=()
redis_pid=""
cluster_pids=() cluster_ports=()
# gone PID...: waits up to 30 s for the processes to end (SIGKILL after that)
gone() {
  for _ in $(seq 300); do
    local alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null; done
  return 0
}
stop() {
  trap '' INT TERM      # a second Ctrl-C must not cut the cleanup short
  trap - EXIT
  # finish the cleanup even if the terminal or a pipe reading our output
  # is gone (an echo failing must not leave Redis running)
  set +e
  trap '' PIPE
  echo
  echo "stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # polled, not `wait`ed: this runs as a trap inside `wait -n`, where a
  # `wait PID` of bash 5.2 was seen to block for good on a child gone already
  gone "${pids[@]}"
  if [ -n "$redis_pid" ]; then
    redis-cli -p "$redis_port" shutdown >/dev/null 2>&1 || kill "$redis_pid" 2>/dev/null || true
    gone "$redis_pid"
  fi
  if [ "${#cluster_pids[@]}" -gt 0 ]; then
    for i in "${!cluster_pids[@]}"; do
      redis-cli -p "${cluster_ports[$i]}" shutdown >/dev/null 2>&1 || kill "${cluster_pids[$i]}" 2>/dev/null || true
    done
    gone "${cluster_pids[@]}"
  fi
  echo "stopped."
}
trap stop INT TERM EXIT

# cluster_up: starts the nodes of var/cluster (each in its own session, like
# the single server), creates the cluster on the first run (later runs find
# it in the nodes' nodes.conf and AOF), waits for cluster_state:ok
cluster_up() {
  local base=${AG_CLUSTER_PORT:-6401} replicas=${AG_CLUSTER_REPLICAS:-0}
  local n=$((3 * (1 + replicas))) i p fresh=1
  for i in $(seq 0 $((n - 1))); do
    p=$((base + i))
    cluster_ports+=("$p")
    mkdir -p "$root/var/cluster/$p"
    [ -s "$root/var/cluster/$p/nodes.conf" ] && fresh=""
    setsid redis-server --port "$p" --bind 127.0.0.1 --dir "$root/var/cluster/$p" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --cluster-announce-ip 127.0.0.1 --repl-diskless-sync-delay 0 \
      --appendonly yes --appendfsync everysec --save "" --daemonize no \
      --logfile "$root/var/cluster/$p/redis.log" &
    cluster_pids+=($!)
  done
  for p in "${cluster_ports[@]}"; do
    for _ in $(seq 100); do
      redis-cli -p "$p" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -p "$p" ping >/dev/null || { echo "redis-server :$p did not start: see var/cluster/$p/redis.log"; exit 1; }
  done
  if [ -n "$fresh" ]; then
    redis-cli --cluster create "${cluster_ports[@]/#/127.0.0.1:}" --cluster-replicas "$replicas" \
      --cluster-yes </dev/null >var/cluster/create.log 2>&1 ||
      { echo "redis-cli --cluster create failed: see var/cluster/create.log"; exit 1; }
  fi
  for p in "${cluster_ports[@]}"; do
    for _ in $(seq 200); do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && break
      sleep 0.1
    done
    redis-cli -p "$p" cluster info | grep -q '^cluster_state:ok' ||
      { echo "the cluster is not ok on :$p (var/cluster/$p/redis.log; remove var/cluster to start afresh)"; exit 1; }
  done
  # and every replica known as one and synced with its master
  for p in "${cluster_ports[@]}"; do
    for _ in $(seq 200); do
      redis-cli -p "$p" info replication | grep -qE '^(role:master|master_link_status:up)' && break
      sleep 0.1
    done
  done
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$base" cluster nodes | grep -c slave)" = $((3 * replicas)) ] && break
    sleep 0.1
  done
  local seeds
  seeds=$(printf '127.0.0.1:%s,' "${cluster_ports[@]:0:3}")
  export AG_REDIS="redis+cluster://${seeds%,}"
  if [ -n "$fresh" ]; then
    # the 16 hit stream partitions shared evenly by the masters (6/5/5, not 6/6/4)
    ./build/aggregator/actiongap cluster --balance >var/cluster/balance.log 2>&1 ||
      echo "actiongap cluster --balance failed: see var/cluster/balance.log (the cluster still works)"
  fi
}

if [ -n "$cluster" ] && [ -z "${AG_REDIS:-}" ]; then
  cluster_up
  cli_redis="redis-cli -c -p ${cluster_ports[0]}"
elif [ -z "${AG_REDIS:-}" ]; then
  redis_port=${AG_REDIS_PORT:-6399}
  # its own session: Ctrl-C reaches the daemons first, Redis is stopped last
  setsid redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$root/var/redis" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no \
    --logfile "$root/var/redis/redis.log" &
  redis_pid=$!
  for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -p "$redis_port" ping >/dev/null || { echo "redis-server did not start: see var/redis/redis.log"; exit 1; }
  export AG_REDIS="redis://127.0.0.1:$redis_port/0"
  cli_redis="redis-cli -p $redis_port"
elif [[ $AG_REDIS == redis+cluster://* ]]; then
  # someone else's cluster: redis-cli -c on the first seed, with the URL's user:password
  seeds=${AG_REDIS#redis+cluster://}
  seeds=${seeds%%[/?]*}
  auth=""
  [[ $seeds == *@* ]] && { auth="${seeds%%@*}@"; seeds=${seeds#*@}; }
  cli_redis="redis-cli -c -u redis://$auth${seeds%%,*}"
else
  cli_redis="redis-cli -u $AG_REDIS"
fi
export AG_SPOOL_DIR=${AG_SPOOL_DIR:-$root/var/spool}
export AG_LISTEN=${AG_LISTEN:-127.0.0.1:8080}
# secrets made once per checkout under var/ (mode 0600), kept between runs
secret() { # file: prints its content, making it first (32 hex characters)
  [ -s "$1" ] || (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$1")
  cat "$1"
}
export AG_SIGNING_KEY=${AG_SIGNING_KEY:-$(secret var/signing-key)}
export AG_API_TOKEN=${AG_API_TOKEN:-$(secret var/api-token)}
export AG_BASE_URL=${AG_BASE_URL:-http://$AG_LISTEN}
export AG_METRICS_LISTEN=${AG_METRICS_LISTEN:-127.0.0.1:8081}
export AG_FOLLOWUP_SLA_S=${AG_FOLLOWUP_SLA_S:-60}
export AG_DASHBOARD_LISTEN=${AG_DASHBOARD_LISTEN:-127.0.0.1:8082}
if [ -z "${AG_DASHBOARD_TOKEN:-}" ]; then
  # one token per checkout, kept in var/ so the printed URL stays valid
  AG_DASHBOARD_TOKEN=$(secret var/dashboard-token)
fi
export AG_DASHBOARD_TOKEN
# inbound hooks (SPEC 2): a HubSpot app's webhooks and a workflow's "call
# logged" webhook for campaign spring, written once; edit var/hooks.conf
# to add your own (its secret is your HubSpot app's client secret)
if [ ! -s var/hooks.conf ]; then
  hs_secret=$(secret var/hubspot-secret)
  (umask 077 && cat > var/hooks.conf <<HOOKS
# var/hooks.conf: the collector's inbound hooks (docs/SPEC.md §2, Inbound hooks)
hook.hubspot.source = hubspot
hook.hubspot.secret = $hs_secret
hook.hubspot.campaign = spring
hook.hubspot-calls.source = hubspot
hook.hubspot-calls.secret = $hs_secret
hook.hubspot-calls.campaign = spring
hook.hubspot-calls.event = followup
HOOKS
  )
fi

# a demo landing page tagged with /ag.js, for the short links of the README tour
mkdir -p var/demo
cat > var/demo/join.html <<PAGE
<!doctype html><html lang=en><head><meta charset=utf-8><title>Join the spring appeal</title>
<style>body{font:18px system-ui,sans-serif;margin:3em auto;max-width:36em}input,button{font:inherit;padding:.4em}</style>
</head><body><h1>Join the spring appeal</h1><p>Add your name and we will be in touch.</p>
<form onsubmit="ag('signup',{s:this.email.value});document.getElementById('done').hidden=false;return false">
<label>E-mail <input name=email type=email required></label> <button>Sign up</button></form>
<p id=done hidden>Thank you: a colleague will call you back.</p>
<script src="http://$AG_LISTEN/ag.js" data-campaign="spring"></script></body></html>
PAGE
demo_listen=${AG_DEMO_LISTEN:-127.0.0.1:8083}
python3 -m http.server --bind "${demo_listen%:*}" "${demo_listen##*:}" --directory var/demo >/dev/null 2>&1 &
pids+=($!)

./build/collector/actiongap-collector --config var/hooks.conf &
pids+=($!)
./build/aggregator/actiongap-aggregator &
pids+=($!)
./build/aggregator/dashboard/actiongap-dashboard &
pids+=($!)
sleep 0.5
# the stream of campaign spring: crc16(spring) mod partitions (16 on a cluster)
spring_part=0
[[ $AG_REDIS == redis+cluster://* ]] && [ -z "${AG_PARTITIONS:-}" ] && spring_part=9
cat <<MSG

actiongap is running (Ctrl-C stops it).
MSG
if [[ $AG_REDIS == redis+cluster://* ]]; then
  echo "  cluster: $AG_REDIS$([ "${#cluster_ports[@]}" -gt 0 ] && echo "   (under var/cluster)")"
  # id, address, role, slots of each node, as the cluster itself says
  $cli_redis cluster nodes 2>/dev/null | sort -k2 |
    awk '{ split($2, a, "@"); role = ($3 ~ /master/) ? "master" : "replica of " substr($4, 1, 8);
           s = ""; for (i = 9; i <= NF; i++) s = s " " $i;
           printf "           %s %s %s%s\n", a[1], substr($1, 1, 8), role, s }' || true
fi
cat <<MSG
  dashboard: http://$AG_DASHBOARD_LISTEN/?t=$AG_DASHBOARD_TOKEN
  pixel:   curl -s -o /dev/null -w '%{http_code}\\n' 'http://$AG_LISTEN/p.gif?c=spring&e=open&s=contact-1'
  stream:  $cli_redis XRANGE 'ag:hits:{$spring_part}' - +$([ "$spring_part" != 0 ] && echo "   (spring's partition; actiongap cluster lists them)")
  health:  curl -s http://$AG_LISTEN/healthz
MSG
echo "  stats:   export AG_REDIS=$AG_REDIS AG_FOLLOWUP_SLA_S=$AG_FOLLOWUP_SLA_S \\"
echo "             AG_SIGNING_KEY=\$(cat var/signing-key) AG_BASE_URL=$AG_BASE_URL \\"
echo "             AG_DASHBOARD_LISTEN=$AG_DASHBOARD_LISTEN"
echo "           ./build/aggregator/actiongap stats spring"
echo "  share:   ./build/aggregator/actiongap share spring --leaderboard"
echo "  alerts:  ./build/aggregator/actiongap alerts --follow"
echo "  api:     curl -s -H \"Authorization: Bearer \$(cat var/api-token)\" -d c=spring -d e=followup -d s=contact-2 \\"
echo "             http://$AG_LISTEN/api/hits     (var/api-token is also the dashboard's operator token)"
echo "  hooks:   http://$AG_LISTEN/api/hooks/hubspot and /api/hooks/hubspot-calls (var/hooks.conf)"
echo "  demo:    http://$demo_listen/join.html   (a landing page tagged with /ag.js)"
echo
wait -n "${pids[@]}" || true
