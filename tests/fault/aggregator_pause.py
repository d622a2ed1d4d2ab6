"""The owning aggregator paused (SIGSTOP) for PAUSE seconds (default 600)
under load, with keep_hours = 0 so trimming is as eager as it gets, and a
standby taking over: no entry is trimmed before it is applied; every total
is exact."""
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

PAUSE = int(sys.argv[1]) if len(sys.argv) > 1 else 600
RATE = 200
N = RATE * (PAUSE + 20)
rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
a1 = Aggregator(rs, name="pa-1", extra=["--keep-hours", "0"])
time.sleep(1.5)
a2 = Aggregator(rs, name="pa-2", extra=["--keep-hours", "0"])
load = PixelLoad(col.port, N, prefix="z", rate=RATE, conns=2, campaigns=20, campaign="pz").start()
time.sleep(5)
owner = a1 if a1.metric("ag_agg_partition_owned") == 1 else a2
owner.proc.send_signal(signal.SIGSTOP)
time.sleep(PAUSE)
owner.proc.send_signal(signal.SIGCONT)
load.wait(timeout=PAUSE + 120)
wait_applied(r, timeout=120)
total = sum(int(hgetall(r, f"ag:c:{{pz{k}}}").get("open", 0)) for k in range(20))
trimmed = int(a1.metric("ag_agg_trimmed_total") + a2.metric("ag_agg_trimmed_total"))
check(total == load.answered, f"counted {total} of {load.answered}")
check(trimmed > 0, "trimming ran (keep_hours = 0)")
verdict(f"aggregator paused {PAUSE} s", load.answered, total, 0,
        f" (counted), trimmed {trimmed}, stream left {r('XLEN', 'ag:hits:{0}')}")
done("fault_aggregator_pause")
