"""replicas_ack = 1 on a master with one replica (both real redis-servers on
loopback): the collector holds each hit until a WAIT says the replica has
it, and the aggregator acknowledges applied entries only then. With the
replica frozen (SIGSTOP) the collector keeps answering 200, holds the hits
(ag_redis_replicas_short_total grows, nothing counted twice or lost) and
releases them once the replica answers; every hit then sits on the master
and the replica, exactly once, and is counted exactly once."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403,E402

N1, N2 = 1500, 1500
master = RedisServer(appendfsync="everysec")
replica = RedisServer(appendfsync="everysec", extra=["--replicaof", "127.0.0.1", str(master.port)])
m, rp = master.client(), replica.client()
wait_for(lambda: b"master_link_status:up" in rp("INFO", "replication"), what="replica in sync")
extra = ["--replicas-ack", "1", "--redis-timeout-ms", "1000"]
col = Collector(master, extra=extra)
agg = Aggregator(master, extra=extra)

load = PixelLoad(col.port, N1, prefix="a-", conns=4, campaigns=4).start().wait()
check(not load.errors and load.answered == N1, f"replica up: {load.answered} of {N1} answered 200")
got = wait_count(m, "ag:hits:{0}", N1)
check(got == N1, f"replica up: sent {N1}, stored {got}")
wait_for(lambda: col.metric("ag_queue_depth") == 0, what="every hit confirmed by the replica")
short_before = col.metric("ag_redis_replicas_short_total")
check(short_before == 0, f"replica up: no WAIT fell short ({short_before})")

os.kill(replica.proc.pid, signal.SIGSTOP)
load = PixelLoad(col.port, N2, prefix="b-", conns=4, campaigns=4, rate=1000).start().wait()
check(not load.errors and load.answered == N2, f"replica frozen: {load.answered} of {N2} answered 200")
wait_for(lambda: col.metric("ag_redis_replicas_short_total") > 0, timeout=20,
         what="a WAIT falls short while the replica is frozen")
held = col.metric("ag_queue_depth") + col.metric("ag_spool_records")
check(held > 0, f"replica frozen: hits held until confirmed ({held:.0f} in memory or spool)")
print(f"replica frozen: {N2} answered, held {held:.0f}, "
      f"short WAITs {col.metric('ag_redis_replicas_short_total'):.0f}", flush=True)
os.kill(replica.proc.pid, signal.SIGCONT)
wait_for(lambda: b"master_link_status:up" in rp("INFO", "replication"), timeout=30, what="replica back in sync")
try:
    wait_for(lambda: col.metric("ag_queue_depth") == 0 and col.metric("ag_spool_records") == 0, timeout=30,
             what="the held hits released")
except AssertionError:
    print(col.logs()[-3000:], col.metric("ag_queue_depth"), col.metric("ag_spool_records"),
          col.metric("ag_redis_replicas_short_total"), m("INFO", "replication"), flush=True)
    raise

total = N1 + N2
got = wait_count(m, "ag:hits:{0}", total)
ns = nonces(m.xrange_all("ag:hits:{0}"))
check(got == total and len(set(ns)) == total, f"sent {total}, stored {got}, distinct {len(set(ns))}")
wait_for(lambda: rp("XLEN", "ag:hits:{0}") == got, timeout=30, what="the replica holds every hit")
check(set(ns) == {f"a-{i}" for i in range(N1)} | {f"b-{i}" for i in range(N2)}, "every nonce present")
wait_applied(m)
opens = sum(int(m("HGET", f"ag:c:{{load{i}}}", "open") or 0) for i in range(4))
check(opens == total, f"counted {opens} of {total} opens")
print(f"replicas_ack = 1: sent {total}, stored {got} on master and replica, counted {opens}", flush=True)
check(agg.metric("ag_agg_replicas_short_total") > 0, "the aggregator held its acknowledgements while the replica was frozen")
check(col.stop() == 0, "collector exits 0")
agg.stop()
done("test_replicas_ack")
