"""Redis SIGKILLed under steady load and restarted from its AOF
(appendfsync always): hits acknowledged and recorded lost = 0."""
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

RATE, SECONDS = 1000, 20
N = RATE * SECONDS
rs = RedisServer(appendfsync="always")
col = Collector(rs)
load = PixelLoad(col.port, N, prefix="k", rate=RATE, conns=4).start()
time.sleep(5)
rs.kill()
time.sleep(2)
rs.start()
load.wait()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N, timeout=60)
ns = nonces(r.xrange_all("ag:hits:{0}"))
dups = len(ns) - len(set(ns))
check(not load.errors and got == N and dups == 0, "no loss, no duplicate")
verdict("redis SIGKILL + AOF restart", load.answered, got, dups,
        f", lost {load.answered - len(set(ns))}, pixel p99 {load.p(0.99) * 1000:.1f} ms")
done("fault_redis_kill")
