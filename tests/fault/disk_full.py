"""Redis unreachable for OUTAGE seconds (default 30) under 500 pixels/s while
the spool sits on a filesystem about half the outage's size (80 bytes a
hit; a tmpfs as root, else a file size limit): the disk fills part-way through, the rest is held in memory, and
after Redis returns lost = 0 and duplicates = 0; pixel p99 stays under 50 ms."""
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403
import json

OUTAGE = int(sys.argv[1]) if len(sys.argv) > 1 else 30
RATE = 500
N = RATE * (OUTAGE + 10)
disk = SmallDisk(RATE * OUTAGE * 80)
rs = RedisServer(appendfsync="everysec")
col = Collector(rs, spool_dir=disk.spool, preexec=disk.preexec)
load = PixelLoad(col.port, N, prefix="f", rate=RATE, conns=4).start()
time.sleep(5)
h = {}
p99, _ = outage(load, rs, OUTAGE, lambda: h.update(json.loads(http_get(col.port, "/healthz")[2])))
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N, timeout=120)
ns = nonces(r.xrange_all("ag:hits:{0}"))
dups = len(ns) - len(set(ns))
dropped = int(col.metric("ag_hits_dropped_total"))
check(h.get("held", 0) > 0, f"the disk filled during the outage (held {h.get('held')})")
check(p99 < 0.050, f"pixel p99 during the outage {p99 * 1000:.1f} ms (limit 50)")
check(not load.errors and got == N and dups == 0 and dropped == 0, "no loss, no duplicate, no drop")
verdict(f"disk full during a {OUTAGE} s outage", load.answered, got, dups,
        f", lost {load.answered - len(set(ns))}, dropped {dropped}, held in memory at the end "
        f"{h.get('held')}, on disk {h.get('spooled')}, pixel p99 during outage {p99 * 1000:.2f} ms")
done("fault_disk_full")
