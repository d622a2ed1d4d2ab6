"""Redis settings the daemons cannot work under are refused with one line,
not retried forever. A Redis that evicts keys loses counters and hits
silently: both daemons refuse it at start (one line naming
maxmemory-policy, exit 1), the aggregator again when it reconnects, unless
allow_eviction = yes, which runs with a warning and a gauge. An ACL user
without a command the aggregator needs: one line naming it, exit 1."""
import subprocess, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

rs = RedisServer(extra=["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
r = rs.client()


def run(d, timeout=15):
    """Runs a daemon's command line to its exit; returns (code, output)."""
    p = subprocess.run(d.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


for name, d in (("aggregator", Aggregator(rs, start=False)), ("collector", Collector(rs, start=False))):
    rc, out = run(d)
    lines = [l for l in out.splitlines() if "maxmemory-policy" in l]
    check(rc == 1, f"{name} refuses an evicting Redis: exit {rc}")
    check(len(lines) == 1 and "maxmemory-policy=allkeys-lru" in lines[0] and "allow_eviction" in lines[0],
          f"{name}: one line naming the setting: {lines}")

# allowed: runs, warns, says so on /metrics, and counts
agg = Aggregator(rs, extra=["--allow-eviction", "yes"])
col = Collector(rs, extra=["--allow-eviction", "yes"])
for i in range(20):
    http_get(col.port, f"/p.gif?c=ev&e=open&s=s{i}",
             headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"})
wait_applied(r)
check(hgetall(r, "ag:c:{ev}").get("open") == "20", "allowed: 20 opens counted of 20")
check(agg.metric("ag_agg_redis_evicts") == 1, "allowed: ag_agg_redis_evicts 1")
check(sum("allow_eviction = yes" in l for l in agg.logs().splitlines()) == 1, "allowed: one warning line")
agg.stop()
col.stop()

# noeviction: runs with the gauge at 0; an operator switching eviction on
# is caught when the aggregator reconnects
r("CONFIG", "SET", "maxmemory-policy", "noeviction")
agg = Aggregator(rs)
check(agg.metric("ag_agg_redis_evicts") == 0, "noeviction: gauge 0")
r("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
r("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
try:
    rc = agg.proc.wait(timeout=20)
except subprocess.TimeoutExpired:
    rc = None
check(rc == 1, f"on reconnect to a Redis switched to volatile-lru: exit {rc}")
check(any("maxmemory-policy=volatile-lru" in l for l in agg.logs().splitlines()),
      "on reconnect: the line names the setting")
# an ACL user that may not load scripts
r("CONFIG", "SET", "maxmemory-policy", "noeviction")
r("ACL", "SETUSER", "agg", "on", ">pw-agg", "~*", "&*", "+@all", "-script")
a = Aggregator(rs, start=False)
a.args[a.args.index("--redis") + 1] = f"redis://agg:pw-agg@127.0.0.1:{rs.port}/0"
rc, out = run(a)
lines = [l for l in out.splitlines() if "level=error" in l]
check(rc == 1, f"ACL user without SCRIPT: exit {rc}")
check(len(lines) == 1 and "script|load" in lines[0] and "pw-agg" not in out,
      f"ACL user without SCRIPT: one line naming the command, no password: {lines}")
print("settings: eviction refused at start by both daemons, allowed with a warning (20 of 20 counted), "
      "refused on reconnect; an ACL user without SCRIPT refused with one line", flush=True)
done("test_redis_settings")
