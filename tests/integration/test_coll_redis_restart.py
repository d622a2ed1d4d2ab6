"""Redis stopped (and separately SIGKILLed, with appendfsync always) while
5,000 hits are sent, then started again: exactly 5,000 entries, none twice;
once more with two collector threads (each its own spool and reconcile)."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

N = 5000
for mode, threads in (("stop", 1), ("kill", 1), ("stop2t", 2)):
    rs = RedisServer(appendfsync="always")
    col = Collector(rs, threads=threads)
    load = PixelLoad(col.port, N, prefix=f"{mode}-", conns=4).start()
    wait_for(lambda: load.sent >= N // 5, what="a fifth of the hits sent")
    rs.kill() if mode == "kill" else rs.stop()
    time.sleep(1.0)
    rs.start()
    load.wait()
    check(not load.errors, f"{mode}: every pixel answered 200 (errors: {load.errors[:5]})")
    r = rs.client()
    got = wait_count(r, "ag:hits:{0}", N)
    ns = nonces(r.xrange_all("ag:hits:{0}"))
    dups = len(ns) - len(set(ns))
    check(got == N, f"{mode}: sent {N}, found {got}")
    check(dups == 0, f"{mode}: duplicates {dups}")
    check(set(ns) == {f"{mode}-{i}" for i in range(N)}, f"{mode}: every nonce present")
    print(f"redis {mode}: sent {N}, found {got}, duplicates {dups}, "
          f"spooled {int(col.metric('ag_hits_spooled_total'))}, "
          f"reconciled {int(col.metric('ag_hits_reconciled_total'))}", flush=True)
    dropped = col.metric("ag_hits_dropped_total")
    check(dropped == 0, f"{mode}: no hit dropped (ag_hits_dropped_total {dropped}; corrupt = bad spool frames)")
    check(col.stop() == 0, f"{mode}: collector exits 0")
    rs.destroy()
done("test_coll_redis_restart")
