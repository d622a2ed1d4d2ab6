"""The collector SIGKILLed during a Redis outage: what is lost is exactly
the hits accepted after the last spool write, measured here for a
spool_fsync mode (argument: always | second | never; default second).
With second and never the spool is written every second (second also
syncs it: that only matters to a machine crash), so a SIGKILL loses at
most one second of hits; with always every spooled hit is on disk before
its answer, so none is lost."""
import sys
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

RATE = 500
rs = RedisServer(appendfsync="everysec")
MODE = sys.argv[1] if len(sys.argv) > 1 else "second"
col = Collector(rs, extra=["--spool-fsync", MODE])
rs.stop()
load = PixelLoad(col.port, RATE * 30, prefix="c", rate=RATE, conns=2).start()
time.sleep(5.3)
answered_before = load.answered
col.stop(signal.SIGKILL)
load.stop()
answered = load.answered
rs.start()
col.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", answered, timeout=30)
ns = nonces(r.xrange_all("ag:hits:{0}"))
dups = len(ns) - len(set(ns))
lost = answered - len(set(ns))
# hits are lost only from the tail: every hit before the first missing one landed
idx = sorted(int(n[1:]) for n in set(ns))
contiguous = idx == list(range(len(idx)))
check(dups == 0, "no duplicate")
check(contiguous, "every hit before the crash window landed, in order")
if MODE == "always":
    check(lost <= 0, f"always: lost {lost}, none of the {answered} answered hits")
else:
    check(lost <= RATE * 1.2, f"lost {lost} ≤ one flush interval at {RATE}/s")
verdict(f"collector SIGKILL during outage, spool_fsync={MODE}", answered, got, dups,
        f", lost {max(lost, 0)} (accepted after the last spool write)")
done("fault_collector_kill")
