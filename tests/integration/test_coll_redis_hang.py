"""Redis frozen with SIGSTOP for 10 s while hits flow: every pixel still
answers within 100 ms, and after SIGCONT every hit is in the stream once."""
import signal, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

RATE, SECONDS = 200, 14
N = RATE * SECONDS
rs = RedisServer(appendfsync="everysec")
col = Collector(rs)
load = PixelLoad(col.port, N, prefix="h", rate=RATE, conns=4).start()
time.sleep(2)
rs.proc.send_signal(signal.SIGSTOP)
time.sleep(10)
rs.proc.send_signal(signal.SIGCONT)
load.wait()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N, timeout=60)
ns = nonces(r.xrange_all("ag:hits:{0}"))
dups = len(ns) - len(set(ns))
worst = max(load.latencies)
check(not load.errors, f"every pixel answered ({load.errors[:3]})")
check(worst < 0.100, f"slowest pixel {worst * 1000:.1f} ms (limit 100 ms)")
check(got == N and dups == 0, f"sent {N}, found {got}, duplicates {dups}")
check(set(ns) == {f"h{i}" for i in range(N)}, "every nonce present")
print(f"redis SIGSTOP 10 s: sent {N}, found {got}, duplicates {dups}, "
      f"p50 {load.p(0.5) * 1000:.2f} ms, p99 {load.p(0.99) * 1000:.2f} ms, max {worst * 1000:.2f} ms")
check(col.stop() == 0, "collector exits 0")
done("test_coll_redis_hang")
