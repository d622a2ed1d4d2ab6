"""Two aggregators on the same streams: one owns the partition, the other
takes over when the owner is SIGKILLed; then Redis is SIGKILLed and
restarted from its AOF while both run. Totals exact, no alert twice."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

rs = RedisServer(appendfsync="always")
r = rs.client()
col = Collector(rs)
extra = ["--followup-sla-s", "2", "--batch", "100"]
a1 = Aggregator(rs, extra=extra)
a2 = Aggregator(rs, extra=extra)
wait_for(lambda: a1.metric("ag_agg_partition_owned") + a2.metric("ag_agg_partition_owned") == 1,
         what="one owner of partition 0")
owner, standby = (a1, a2) if a1.metric("ag_agg_partition_owned") == 1 else (a2, a1)

# phase 1: hits and never-answered signups; the owner dies mid-way
N1, S = 6000, 40
load = PixelLoad(col.port, N1, prefix="p", conns=4, campaigns=10, campaign="fo").start()
sig = PixelLoad(col.port, S, prefix="g", conns=1, campaigns=4, campaign="fo", event="signup").start()
wait_for(lambda: load.sent > N1 // 3, what="a third of the hits")
owner.kill()
load.wait()
sig.wait()
wait_for(lambda: standby.metric("ag_agg_partition_owned") == 1, timeout=15, what="the standby to take over")
wait_count(r, "ag:hits:{0}", N1 + S)
wait_applied(r, timeout=60)
opens = sum(int(hgetall(r, f"ag:c:{{fo{k}}}").get("open", 0)) for k in range(10))
signups = sum(int(hgetall(r, f"ag:c:{{fo{k}}}").get("signup", 0)) for k in range(4))
check(opens == N1, f"failover: sent {N1} opens, counted {opens}")
check(signups == S, f"failover: sent {S} signups, counted {signups}")

# phase 2: Redis killed and restarted from its AOF while hits flow
N2 = 4000
load = PixelLoad(col.port, N2, prefix="q", conns=4, campaigns=10, campaign="fo").start()
wait_for(lambda: load.sent > N2 // 3, what="a third of phase 2")
rs.kill()
time.sleep(0.5)
rs.start()
r = rs.client()
load.wait()
check(not load.errors, f"pixels answered through the Redis restart ({load.errors[:3]})")
wait_count(r, "ag:hits:{0}", N1 + S + N2, timeout=60)
wait_applied(r, timeout=60)
opens = sum(int(hgetall(r, f"ag:c:{{fo{k}}}").get("open", 0)) for k in range(10))
check(opens == N1 + N2, f"redis restart: sent {N1 + N2} opens, counted {opens}")

# alerts: every never-answered signup alerted exactly once, across the failover
time.sleep(3.5)
alerts = [f for _, f in r.xrange_all("ag:alerts") if f["kind"] == "followup_overdue"]
keys = [(f["campaign"], f["subject"]) for f in alerts]
pending = sum(r("ZCARD", f"ag:c:{{fo{k}}}:pending") for k in range(4))
check(len(keys) == len(set(keys)), f"no alert twice ({len(keys)} alerts, {len(set(keys))} distinct)")
check(len(set(keys)) == pending, f"every pending signup alerted: {len(set(keys))} of {pending}")
print(f"failover: sent {N1 + N2} opens + {S} signups, counted {opens} opens, "
      f"{len(keys)} alerts for {pending} pending signups", flush=True)
check(standby.stop() == 0, "aggregator exits 0")
done("test_agg_failover")
