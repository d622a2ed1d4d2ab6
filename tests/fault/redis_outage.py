"""Redis unreachable for OUTAGE seconds (default 60) under steady load:
pixel p99 stays under 50 ms, then lost = 0 and duplicates = 0."""
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

OUTAGE = int(sys.argv[1]) if len(sys.argv) > 1 else 60
RATE = 500
N = RATE * (OUTAGE + 10)
rs = RedisServer(appendfsync="everysec")
col = Collector(rs)
load = PixelLoad(col.port, N, prefix="o", rate=RATE, conns=4).start()
time.sleep(5)
p99, ndur = outage(load, rs, OUTAGE)
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N, timeout=120)
ns = nonces(r.xrange_all("ag:hits:{0}"))
dups = len(ns) - len(set(ns))
check(p99 < 0.050, f"pixel p99 during the outage {p99 * 1000:.1f} ms (limit 50)")
check(not load.errors and got == N and dups == 0, "no loss, no duplicate")
verdict(f"redis unreachable {OUTAGE} s", load.answered, got, dups,
        f", lost {load.answered - len(set(ns))}, pixel p99 during outage {p99 * 1000:.2f} ms "
        f"({ndur} pixels), spooled {int(col.metric('ag_hits_spooled_total'))}")
done("fault_redis_outage")
