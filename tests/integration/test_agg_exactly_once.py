"""Exactly-once: the aggregator SIGKILLed at random moments (at least 5
times) while 20,000 hits flow over 50 campaigns, restarted each time: every
total equals the number sent, uniques within HyperLogLog error."""
import random, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

N, CAMPAIGNS, KILLS = 20000, 50, 6
random.seed(int(os.environ.get("AG_SEED", "7")))
rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
# small reads and rounds: the backlog after each restart spans several
# pipelined rounds (one read ahead while the previous one is applied)
agg = Aggregator(rs, name="agg-kill", extra=["--batch", "200", "--batch-max", "1000"])
load = PixelLoad(col.port, N, prefix="x", conns=4, campaigns=CAMPAIGNS, campaign="camp").start()
kills = 0
while kills < KILLS:
    time.sleep(random.uniform(0.2, 0.9))
    agg.kill()
    kills += 1
    agg.start()
load.wait()
check(not load.errors, f"every pixel answered ({load.errors[:3]})")
got = wait_count(r, "ag:hits:{0}", N)
check(got == N, f"stream: sent {N}, found {got}")
wait_applied(r, timeout=120)
total = 0
exact = True
for k in range(CAMPAIGNS):
    h = hgetall(r, f"ag:c:{{camp{k}}}")
    want = len(range(k, N, CAMPAIGNS))
    total += int(h.get("open", 0))
    if int(h.get("open", 0)) != want:
        exact = False
        print(f"camp{k}: want {want}, got {h.get('open')}")
    check(int(h.get("dup", 0)) == 0, f"camp{k}: no hit counted as a duplicate")
    subjects = len({i % 1000 for i in range(k, N, CAMPAIGNS)})
    u = r("PFCOUNT", f"ag:c:{{camp{k}}}:u:open")
    check(abs(u - subjects) <= max(2, subjects * 0.02), f"camp{k}: uniques {u} vs {subjects}")
check(exact, "every campaign's total equals the hits sent to it")
check(total == N, f"sent {N}, counted {total} across {kills} SIGKILLs")
check(agg.metric("ag_agg_applied_total") >= 0, "aggregator alive after the kills")
print(f"exactly-once: sent {N}, counted {total}, aggregator SIGKILLed {kills} times", flush=True)
check(agg.stop() == 0, "aggregator exits 0")

# ---- the cursor: new entries are read with NOACK (nothing pending), and
# ag:applied:{0} says where reading resumes. Moved back (as a crash right
# after a read would leave it), every entry after it is read again and
# skipped by the watermarks: no total moves. Gone (an older aggregator's
# stream), it is taken from the group's last delivered id.
cursor = r("GET", "ag:applied:{0}")
last = r("XREVRANGE", "ag:hits:{0}", "+", "-", "COUNT", 1)[0][0]
check(cursor == last, f"the cursor is at the last entry ({cursor} vs {last})")
groups = [dict(zip(g[::2], g[1::2])) for g in r("XINFO", "GROUPS", "ag:hits:{0}")]
check([g[b"pending"] for g in groups if g[b"name"] == b"aggregator"] == [0], f"no entry pending: {groups}")
before = {k: hgetall(r, f"ag:c:{{camp{k}}}") for k in range(CAMPAIGNS)}
back = r("XRANGE", "ag:hits:{0}", "-", "+", "COUNT", N // 2)[-1][0]
r("SET", "ag:applied:{0}", back)
agg.start()
wait_applied(r, timeout=120)
again = N - N // 2
skipped = agg.metric("ag_agg_skipped_total")
check(skipped == again, f"moved back {again} entries: read again and skipped ({skipped})")
check(agg.metric("ag_agg_applied_total") == 0, "nothing applied twice")
check(all(hgetall(r, f"ag:c:{{camp{k}}}") == before[k] for k in range(CAMPAIGNS)), "no total moved")
check(agg.stop() == 0, "aggregator exits 0 (cursor moved back)")
r("DEL", "ag:applied:{0}")
agg.start()
wait_for(lambda: r("GET", "ag:applied:{0}") == last, timeout=10, what="the cursor taken from the group")
check(agg.metric("ag_agg_skipped_total") == 0 and agg.metric("ag_agg_applied_total") == 0,
      "without a cursor: nothing read again")
check(all(hgetall(r, f"ag:c:{{camp{k}}}") == before[k] for k in range(CAMPAIGNS)), "no total moved (no cursor)")
check(agg.stop() == 0, "aggregator exits 0 (no cursor)")
# unusable (not an id, another type): one error line, taken from the group
for bad in (("SET", "ag:applied:{0}", "junk"), ("HSET", "ag:applied:{0}", "f", "v")):
    r("DEL", "ag:applied:{0}")
    r(*bad)
    said = agg.logs().count("partition cursor unusable")
    agg.start()
    try:
        wait_for(lambda: r("TYPE", "ag:applied:{0}") in ("string", b"string") and r("GET", "ag:applied:{0}") == last,
                 timeout=10, what=f"the cursor mended after {bad[0]}")
    except AssertionError:
        print(agg.logs()[-2000:], r("TYPE", "ag:applied:{0}"), r("GET", "ag:applied:{0}"), last, flush=True)
        raise
    check(agg.logs().count("partition cursor unusable") == said + 1, f"one line says so ({bad[0]})")
    check(all(hgetall(r, f"ag:c:{{camp{k}}}") == before[k] for k in range(CAMPAIGNS)),
          f"no total moved ({bad[0]} cursor)")
    check(agg.stop() == 0, f"aggregator exits 0 ({bad[0]} cursor)")

# ---- the lease guards the cursor: an aggregator that still thinks it owns
# the partition while another holds its lease (a paused ex-owner) applies
# what it read (the watermarks keep that exact) but neither moves the cursor
# nor claims entries; taking the lease back, it reads them again and skips
# them. Races the aggregator's lease check (every second): retried until a
# round ran before it noticed.
agg.start()
wait_for(lambda: r("GET", "ag:lease:{0}") == b"agg-kill", timeout=10, what="the lease")
guarded = False
for attempt in range(5):
    cursor0 = r("GET", "ag:applied:{0}")
    applied0 = agg.metric("ag_agg_applied_total")
    r("SET", "ag:lease:{0}", "another", "PX", 60000)
    for j in range(50):
        r("XADD", "ag:hits:{0}", "*", "hid", f"raw.0-g{attempt}-{j}", "ts", str(int(time.time() * 1000)),
          "campaign", "guard", "event", "open", "subject", f"g{j}", "agent", "human", "via", "pixel")
    time.sleep(1.5)
    applied = agg.metric("ag_agg_applied_total") - applied0
    if applied == 50:
        guarded = True
        check(r("GET", "ag:applied:{0}") == cursor0, f"a round applied while the lease was another's: the cursor "
              f"stays ({cursor0} -> {r('GET', 'ag:applied:{0}')})")
    r("DEL", "ag:lease:{0}")
    wait_applied(r, timeout=30)
    if guarded:
        break
check(guarded, "a round ran before the aggregator noticed the lease was another's (5 tries)")
got = int(hgetall(r, "ag:c:{guard}").get("open", 0))
check(got == 50 * (attempt + 1), f"guard: sent {50 * (attempt + 1)}, counted {got}")
check(agg.metric("ag_agg_skipped_total") >= 50, "the lease taken back: read again from the cursor and skipped")
check(agg.stop() == 0, "aggregator exits 0 (lease guard)")
done("test_agg_exactly_once")
