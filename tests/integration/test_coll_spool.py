"""Spool: SIGTERM while Redis is down keeps every hit on disk, and a restart
after Redis is back replays them all, in order; a torn last record loses only
itself, and the tear is logged; a full spool drops with a counter."""
import glob, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

# 1. SIGTERM while Redis is down, restart after it is back
N = 1000
rs = RedisServer()
col = Collector(rs)
rs.stop()
load = PixelLoad(col.port, N, prefix="a", conns=2).start().wait()
check(not load.errors, f"pixels answered while Redis is down ({load.errors[:3]})")
wait_for(lambda: col.health()["spooled"] == N, what=f"{N} spooled")
check(col.health()["redis"] == "down", "healthz says redis down")
check(col.stop() == 0, "collector exits 0 on SIGTERM while Redis is down")
files = glob.glob(os.path.join(col.spool_dir, "spool-*.log"))
check(len(files) >= 1, f"spool files kept: {files}")
rs.start()
col.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N)
ns = nonces(r.xrange_all("ag:hits:{0}"))
check(got == N, f"spool replay: sent {N}, found {got}")
check(ns == [f"a{i}" for i in range(N)], "spooled hits arrive in order, none twice")
wait_for(lambda: not glob.glob(os.path.join(col.spool_dir, "spool-*.log")), what="spool emptied")
print(f"sigterm-while-down: sent {N}, found {got}, in order {ns == [f'a{i}' for i in range(N)]}")
col.stop()
rs.destroy()

# 2. a torn last record
N = 300
rs = RedisServer()
col = Collector(rs)
rs.stop()
PixelLoad(col.port, N, prefix="t", conns=1).start().wait()
wait_for(lambda: col.health()["spooled"] == N, what=f"{N} spooled")
col.stop()
files = sorted(glob.glob(os.path.join(col.spool_dir, "spool-*.log")))
check(len(files) == 1, f"one spool file: {files}")
size = os.path.getsize(files[-1])
with open(files[-1], "r+b") as f:
    f.truncate(size - 5)        # tear the last record
rs.start()
col.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N - 1, timeout=30)
ns = nonces(r.xrange_all("ag:hits:{0}"))
check(got == N - 1, f"torn spool: {N} spooled, last torn, found {got} (want {N - 1})")
check(ns == [f"t{i}" for i in range(N - 1)], "records before the tear replayed in order")
check("torn or corrupt tail" in col.logs(), "the tear is logged")
print(f"torn-tail: spooled {N}, replayed {got}, tear logged {'torn or corrupt tail' in col.logs()}")
col.stop()
rs.destroy()

# 3. a full spool drops, counted exactly
rs = RedisServer()
col = Collector(rs, extra=["--spool-max-bytes", "20000"])
rs.stop()
N = 400
load = PixelLoad(col.port, N, prefix="f", conns=1).start().wait()
check(not load.errors, "pixels answered while the spool is full")
spooled = col.health()["spooled"]
dropped = int(col.metric("ag_hits_dropped_total"))
check(spooled + dropped == N and dropped > 0, f"spool full: accepted {N} = spooled {spooled} + dropped {dropped}")
check("hit dropped: cannot spool" in col.logs(), "drops are logged")
col.stop()
rs.start()
col.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", spooled, timeout=30)
check(got == spooled, f"spool full: found {got} = spooled {spooled}; dropped {dropped} never landed")
print(f"spool-full: accepted {N}, spooled {spooled}, dropped {dropped}, found {got}")
col.stop()
rs.destroy()
done("test_coll_spool")
