"""spool_fsync: with `always` every hit the collector answers during a
Redis outage is on disk before its answer, so a SIGKILL right after the
last answer loses none; with `second` a SIGKILL loses the hits accepted
since the last spool write (at most a second's worth), never an earlier
one. Counted exactly, then replayed once Redis is back."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
N = 300

for mode in ("always", "second"):
    rs = RedisServer()
    col = Collector(rs, extra=["--spool-fsync", mode])
    rs.stop()
    wait_for(lambda: b'"redis":"down"' in http_get(col.port, "/healthz")[2], what="collector to see redis down")
    conn = Conn(col.port)
    answered = 0
    for i in range(N):
        st, _, body = conn.request("GET", f"/p.gif?c=fs&e=open&s=s{i}&n={mode}-{i}",
                                   headers={"User-Agent": HUMAN})
        answered += st == 200 and len(body) == 43
    extra = 0
    if mode == "second":
        time.sleep(1.5)                          # a spool write (and sync) passes
        for i in range(N, N + 50):               # then hits the next one would write
            st, _, body = conn.request("GET", f"/p.gif?c=fs&e=open&s=s{i}&n={mode}-{i}",
                                       headers={"User-Agent": HUMAN})
            extra += st == 200 and len(body) == 43
    conn.close()
    col.kill()                                   # no chance to write what it holds
    rs.start()
    col.start()
    r = rs.client()
    if mode == "always":
        got = wait_count(r, "ag:hits:{0}", N, timeout=30)
    else:
        time.sleep(3)
        got = r("XLEN", "ag:hits:{0}")
    ns = nonces(r.xrange_all("ag:hits:{0}"))
    uniq = set(ns)
    idx = sorted(int(n.split("-")[1]) for n in uniq)
    check(answered == N, f"{mode}: {answered} of {N} answered")
    check(len(ns) == len(uniq), f"{mode}: no duplicate ({len(ns)} entries, {len(uniq)} distinct)")
    check(idx == list(range(len(idx))), f"{mode}: what landed is every hit up to the crash window, in order")
    if mode == "always":
        check(len(uniq) == N, f"always: sent {N}, found {len(uniq)} after SIGKILL")
    else:
        check(N <= len(uniq) <= N + extra,
              f"second: found {len(uniq)}: all {N} sent before the last write, of {extra} after it some or none")
    print(f"spool_fsync={mode}: sent {N + extra}, answered {answered + extra}, found {len(uniq)} after SIGKILL",
          flush=True)
    col.stop()
    rs.destroy()
done("test_coll_fsync")
