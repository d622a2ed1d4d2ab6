"""Aggregators share the partitions: three started together on 16
partitions hold 6/5/5 within seconds (each its share, partitions /
aggregators rounded up); one SIGKILLed, the two left take its partitions
(8/8) once its lease and heartbeat lapse; a fourth started takes its share
from them. Hits sent throughout are counted exactly once."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403,E402

P = 16
rs = RedisServer(appendfsync="everysec")
r = rs.client()
extra = ["--partitions", str(P)]
col = Collector(rs, extra=extra)
aggs = [Aggregator(rs, extra=extra, name=f"agg{i}") for i in range(3)]


def owned(a):
    return int(a.metric("ag_agg_partition_owned"))


def shares(live):
    return sorted(owned(a) for a in live)


wait_for(lambda: shares(aggs) == [5, 5, 6], timeout=20, what="three aggregators holding 5/5/6")
print(f"three aggregators: {shares(aggs)}", flush=True)
load = PixelLoad(col.port, 4000, prefix="s-", conns=4, campaigns=40, rate=800).start()
time.sleep(1.5)
os.kill(aggs[0].proc.pid, signal.SIGKILL)
aggs[0].proc.wait()
live = aggs[1:]
wait_for(lambda: shares(live) == [8, 8], timeout=20, what="the two left holding 8/8")
print(f"one SIGKILLed: {shares(live)}", flush=True)
aggs.append(Aggregator(rs, extra=extra, name="agg3"))
live.append(aggs[3])
wait_for(lambda: shares(live) == [5, 5, 6], timeout=20, what="a fourth taking its share: 5/5/6")
print(f"another started: {shares(live)}", flush=True)
load.wait()
check(not load.errors and load.answered == 4000, f"answered {load.answered} of 4000")
wait_applied(r, partitions=P)
opens = sum(int(r("HGET", f"ag:c:{{load{i}}}", "open") or 0) for i in range(40))
check(opens == 4000, f"sent 4000, counted {opens}")
check(sum(owned(a) for a in live) == P, f"every partition owned once: {shares(live)}")
for a in live:
    a.stop()
col.stop()
done("test_agg_share")
