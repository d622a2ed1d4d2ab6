"""The collector SIGKILLed during a Redis outage: what is lost is exactly
the hits accepted after the last spool write (the spool is written at
least every second), measured here."""
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

RATE = 500
rs = RedisServer(appendfsync="everysec")
col = Collector(rs)
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
check(lost <= RATE * 1.2, f"lost {lost} ≤ one flush interval at {RATE}/s")
verdict("collector SIGKILL during outage", answered, got, dups,
        f", lost {lost} (accepted after the last spool write; bound {RATE}/s x 1 s)")
done("fault_collector_kill")
