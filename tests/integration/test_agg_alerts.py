"""Follow-up alerts with a 2 s SLA on all three channels (stream, pub/sub,
webhook): an unanswered signup alerts once within 2 s of its deadline, an
answered one never alerts, a late follow-up resolves; a restart sends no
duplicate; a webhook that is down or slow delays neither counting nor the
other channels, and its alerts arrive once it recovers."""
import json, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
rs = RedisServer()
r = rs.client()
hook = WebhookReceiver()
col = Collector(rs)
agg = Aggregator(rs, name="agg-alerts", extra=["--followup-sla-s", "2", "--webhook", hook.url()])
sub = Subscriber(rs.port, "ag:alerts")
conn = Conn(col.port)


def hit(q):
    st, _, _ = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": HUMAN})
    assert st == 200


def followup(c, s):
    st, _, _ = http_post(col.port, "/api/hits", json.dumps({"c": c, "e": "followup", "s": s}).encode(),
                         {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    assert st == 202


def overdue():
    return [f for _, f in r.xrange_all("ag:alerts") if f["kind"] == "followup_overdue"]


hit("c=alerts&e=signup&s=never")        # never answered
hit("c=alerts&e=signup&s=quick")        # answered within the SLA
hit("c=alerts&e=signup&s=late")         # answered after its alert
time.sleep(1.0)
followup("alerts", "quick")
wait_for(lambda: len(overdue()) >= 2, timeout=10, what="two overdue alerts")
time.sleep(1.0)
followup("alerts", "late")
wait_for(lambda: any(f["kind"] == "followup_resolved" for _, f in r.xrange_all("ag:alerts")),
         timeout=10, what="the resolved alert")
wait_for(lambda: len(hook.posts) >= 3, timeout=10, what="three webhook posts")
time.sleep(1.0)

alerts = [f for _, f in r.xrange_all("ag:alerts")]
od = overdue()
check(sorted(f["subject"] for f in od) == ["late", "never"], f"overdue alerts: {[f['subject'] for f in od]}")
for f in od:
    late_ms = int(f["ts"]) - (int(f["signup_ts"]) + 2000)
    check(0 <= late_ms <= 2000, f"{f['subject']}: alerted {late_ms} ms after its deadline (limit 2000)")
    check(f["sla_s"] == "2" and int(f["waited_s"]) >= 2 and f["campaign"] == "alerts", f"alert fields {f}")
res = [f for f in alerts if f["kind"] == "followup_resolved"]
check(len(res) == 1 and res[0]["subject"] == "late" and "followup_ts" in res[0], f"resolved: {res}")
pubs = [json.loads(m) for m in sub.messages]
check(sorted((p["kind"], p["subject"]) for p in pubs) == sorted((f["kind"], f["subject"]) for f in alerts),
      f"pub/sub carries the same alerts: {pubs}")
check(sorted((p["kind"], p["subject"]) for p in hook.posts) == sorted((f["kind"], f["subject"]) for f in alerts),
      f"webhook received the same alerts: {[(p['kind'], p['subject']) for p in hook.posts]}")
never = [p for p in hook.posts if p["subject"] == "never"][0]
check("never" in never.get("text", "") and "alerts" in never["text"] and "SLA" in never["text"],
      f"webhook text a person can read: {never.get('text')!r}")
fl = hgetall(r, "ag:c:{alerts}:fl")
check(fl.get("count") == "2", f"two follow-ups measured: {fl}")
check(agg.metric("ag_alerts_raised_total") == 2 and agg.metric("ag_alerts_sent_total") == 3,
      f"metrics: raised {agg.metric('ag_alerts_raised_total')}, sent {agg.metric('ag_alerts_sent_total')}")

# a restart sends nothing twice
before = (len(r.xrange_all("ag:alerts")), len(sub.messages), len(hook.posts))
check(agg.stop() == 0, "aggregator exits 0")
agg.start()
time.sleep(3.0)
after = (len(r.xrange_all("ag:alerts")), len(sub.messages), len(hook.posts))
check(before == after, f"no duplicate after a restart: before {before}, after {after}")

# a webhook that is down, then slow, delays nothing else; alerts arrive when it recovers
hook.mode = "down"
hit("c=alerts2&e=signup&s=w1")
hit("c=alerts2&e=signup&s=w2")
wait_for(lambda: len([f for f in overdue() if f["campaign"] == "alerts2"]) == 2, timeout=10,
         what="alerts raised while the webhook is down")
wait_for(lambda: agg.metric("ag_alerts_failed_total") >= 1, timeout=10, what="failed attempts counted")
t0 = time.monotonic()
for i in range(500):
    hit(f"c=alerts3&e=open&s=o{i}")
wait_for(lambda: hgetall(r, "ag:c:{alerts3}").get("open") == "500", timeout=10, what="500 opens counted")
check(time.monotonic() - t0 < 8, f"counting not delayed by a dead webhook ({time.monotonic() - t0:.1f} s)")
hook.mode = "slow"
hook.delay = 4.0
t0 = time.monotonic()
for i in range(500):
    hit(f"c=alerts4&e=open&s=o{i}")
wait_for(lambda: hgetall(r, "ag:c:{alerts4}").get("open") == "500", timeout=10, what="500 opens counted")
check(time.monotonic() - t0 < 8, f"counting not delayed by a slow webhook ({time.monotonic() - t0:.1f} s)")
hook.mode = "up"
wait_for(lambda: len([p for p in hook.posts if p["campaign"] == "alerts2"]) == 2, timeout=90,
         what="the alerts raised while the webhook was down")
time.sleep(2.0)
w2 = [p["subject"] for p in hook.posts if p["campaign"] == "alerts2"]
check(sorted(w2) == ["w1", "w2"], f"each delivered exactly once after recovery: {w2}")
print(f"alerts: stream {len(r.xrange_all('ag:alerts'))}, pub/sub {len(sub.messages)}, "
      f"webhook {len(hook.posts)} delivered of {hook.attempts} attempts", flush=True)
conn.close()
check(agg.stop() == 0, "aggregator exits 0")
done("test_agg_alerts")
