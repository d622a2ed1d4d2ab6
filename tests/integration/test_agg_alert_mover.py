"""The alert mover across crashes: an alert reaches ag:alerts exactly once
and its webhook exactly once, whether the aggregator died before the move
(the entry waits in the outbox), after it and before the XDEL (the entry is
in both: the moved id skips it), or anywhere while 40 alerts are raised
and moved under repeated SIGKILLs."""
import json, signal, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from scripted import HUMAN

rs = RedisServer()
r = rs.client()
hook = WebhookReceiver()
col = Collector(rs)
AGG = ["--followup-sla-s", "1", "--webhook", hook.url()]
agg = Aggregator(rs, name="agg-mover", extra=AGG)
conn = Conn(col.port)
MOVED = "ag:alerts:moved{ag:alerts}"


def hit(q):
    st, _, _ = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": HUMAN})
    assert st == 200


def alerts():
    return [f for _, f in r.xrange_all("ag:alerts")]


def keyset(fs):
    return sorted((f["kind"], f["campaign"], f["subject"]) for f in fs)


# ---- one alert raised and moved: the outbox empties, the moved id is its id
hit("c=mv&e=signup&s=a1")
wait_for(lambda: len(alerts()) == 1 and len(hook.posts) == 1, timeout=10, what="a1's alert and post")
check(r("XLEN", "ag:c:{mv}:outbox") == 0, "the outbox is empty once moved")
moved_id = r("HGET", MOVED, "mv").decode()
check(r("XINFO", "STREAM", "ag:c:{mv}:outbox")[r("XINFO", "STREAM", "ag:c:{mv}:outbox").index(b"last-generated-id") + 1].decode()
      == moved_id, f"the moved id {moved_id} is the outbox entry's id")
check(agg.kill() == -signal.SIGKILL, "aggregator SIGKILLed")

# ---- the state a mover killed between the move and the XDEL leaves: the
# entry still in the outbox at or below the moved id; and one killed before
# the move: an entry above it. Both in one outbox, one page.
f1 = alerts()[0]
r("DEL", "ag:c:{mv}:outbox")
args = [x for k, v in f1.items() for x in (k, v)]
r("XADD", "ag:c:{mv}:outbox", "1-1", *args)                  # moved before
fresh = dict(f1, subject="a2", signup_ts=str(int(f1["signup_ts"]) + 1))
r("ZADD", "ag:c:{mv}:pending", fresh["signup_ts"], "a2")     # as the alert script leaves them
r("HSET", "ag:c:{mv}:alerted", "a2", fresh["signup_ts"])
r("XADD", "ag:c:{mv}:outbox", "*", *[x for k, v in fresh.items() for x in (k, v)])   # not moved
agg = Aggregator(rs, name="agg-mover", extra=AGG)
wait_for(lambda: r("XLEN", "ag:c:{mv}:outbox") == 0, timeout=10, what="the outbox emptied after the restart")
wait_for(lambda: len(hook.posts) >= 2, timeout=10, what="a2's post")
time.sleep(1.5)
check(keyset(alerts()) == [("followup_overdue", "mv", "a1"), ("followup_overdue", "mv", "a2")],
      f"a1 once (skipped: moved before), a2 once (moved): {keyset(alerts())}")
check(sorted(p["subject"] for p in hook.posts) == ["a1", "a2"], f"one post each: {[p['subject'] for p in hook.posts]}")
check(agg.metric("ag_alerts_moved_total") == 1, f"the restarted mover moved 1: {agg.metric('ag_alerts_moved_total')}")
check(agg.metric("ag_alerts_raised_total") == 0, "and raised nothing anew (a2 was alerted already)")

# ---- 40 signups in 8 campaigns, 20 of them followed up after their alert,
# the aggregator SIGKILLed every 0.2-0.6 s meanwhile
import random
random.seed(14)
subjects = [(f"k{i % 8}", f"u{i}") for i in range(40)]
for c, s in subjects:
    hit(f"c={c}&e=signup&s={s}")
kills = 0
t_end = time.monotonic() + 6
resolved_sent, followed = False, []
while time.monotonic() < t_end:
    time.sleep(random.uniform(0.2, 0.6))
    agg.kill()
    kills += 1
    agg = Aggregator(rs, name="agg-mover", extra=AGG)
    if not resolved_sent and sum(f["campaign"].startswith("k") for f in alerts()) >= 20:
        for c, s in subjects[:20]:
            if any(f["subject"] == s for f in alerts()):
                st, _, _ = http_post(col.port, "/api/hits", json.dumps({"c": c, "e": "followup", "s": s}).encode(),
                                     {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
                assert st == 202
                followed.append(s)
        resolved_sent = True
check(resolved_sent, "follow-ups sent after their alerts, during the kills")
want_resolved = followed
wait_for(lambda: sum(f["campaign"].startswith("k") and f["kind"] == "followup_overdue" for f in alerts()) == 40,
         timeout=20, what="40 overdue alerts")
wait_for(lambda: sum(f["kind"] == "followup_resolved" for f in alerts()) == len(want_resolved), timeout=20,
         what=f"{len(want_resolved)} resolved alerts")
wait_for(lambda: all(r("XLEN", f"ag:c:{{k{i}}}:outbox") == 0 for i in range(8)), timeout=10, what="outboxes empty")
time.sleep(2.0)
ks = [k for k in keyset(alerts()) if k[1].startswith("k")]
check(len(ks) == len(set(ks)) == 40 + len(want_resolved),
      f"sent 40 signups, {len(want_resolved)} resolved: {len(ks)} alerts in ag:alerts, {len(ks) - len(set(ks))} twice")
posts = [(p["kind"], p["campaign"], p["subject"]) for p in hook.posts if p["campaign"].startswith("k")]
check(set(posts) == set(ks), f"every alert posted: {len(set(posts))} of {len(ks)}")
# delivery is at least once per channel: a kill between a 2xx and the XACK posts again
print(f"mover: {kills} SIGKILLs, alerts {len(ks)} (40 overdue + {len(want_resolved)} resolved), "
      f"duplicates in ag:alerts 0, webhook posts {len(posts)} ({len(posts) - len(set(posts))} re-sent "
      f"after a kill between the 2xx and the XACK)", flush=True)
conn.close()
check(agg.stop() == 0, "aggregator exits 0")
done("test_agg_alert_mover")
