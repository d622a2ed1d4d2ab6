"""A campaign key overwritten with a value of another type (a typo in
redis-cli) must not make a hit count twice: the apply script checks every
key it will touch before its first write. For each key of a campaign in
turn: the key is poisoned, a batch touching every key is refused with
nothing written (every other key byte-for-byte unchanged), the log stays
quiet (a back-off, not a hot loop), and once the operator deletes the bad
key the batch is applied exactly once."""
import json, os, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

rs = RedisServer()
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs)
conn = Conn(col.port)


def pixel(q):
    st, _, body = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": HUMAN})
    assert st == 200 and len(body) == 43


def api(obj):
    st, _, body = http_post(col.port, "/api/hits", json.dumps(obj).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    assert st == 202, body


def hits(c, tag):
    """One hit of every kind, so that the batch touches every key of c."""
    pixel(f"c={c}&e=open&s={tag}&ref=ann&p=/join&rh=news.example")
    pixel(f"c={c}&e=scroll&d=50&s={tag}")
    pixel(f"c={c}&e=signup&s={tag}&ref=ann&n=n-{tag}")
    time.sleep(0.05)
    api({"c": c, "e": "followup", "s": tag})


def keys_of(c):
    return sorted(k.decode() for k in r("KEYS", f"ag:c:{{{c}}}*"))


def dumps(ks):
    return {k: r("DUMP", k) for k in ks}


def totals(c):
    return hgetall(r, f"ag:c:{{{c}}}")


# seed one campaign to learn its keys
hits("seed", "s0")
wait_applied(r)
layout = [k.replace("{seed}", "{C}") for k in keys_of("seed")]
check(len(layout) >= 10, f"a campaign with every kind of hit has its keys: {layout}")
print(f"poison: {len(layout)} keys per campaign: {' '.join(layout)}", flush=True)

refused_total = 0
for i, pattern in enumerate(layout):
    c = f"p{i}"
    hits(c, "a")                                 # the first round makes every key exist
    wait_applied(r)
    agg.stop()
    hits(c, "b")                                 # the second round: one batch, read at start
    bad = pattern.replace("{C}", "{" + c + "}")
    now = time.gmtime()                          # the hour and day buckets of this round's hits
    bad = re.sub(r":h:\d+$", time.strftime(":h:%Y%m%d%H", now), bad)
    bad = re.sub(r":d:\d+$", time.strftime(":d:%Y%m%d", now), bad)
    hits("good", f"g{i}")                        # another campaign of the same partition
    r("DEL", bad)
    r("SET", bad, "typo")                        # the operator's mistake
    before = dumps([k for k in keys_of(c) if k != bad])
    lines0 = agg.logs().count("campaign poisoned")
    agg.start()
    wait_for(lambda: agg.alive() and agg.metric("ag_agg_poisoned_total") >= 1, timeout=10,
             what=f"the apply of {c} to be refused ({bad})")
    time.sleep(2.0)
    after = dumps([k for k in keys_of(c) if k != bad])
    changed = [k for k in before if before[k] != after.get(k)]
    check(not changed, f"{bad} poisoned: nothing of the batch written (changed: {changed})")
    check(agg.metric("ag_agg_poison_held") == 1, f"{bad}: the held gauge says so")
    lines = agg.logs().count("campaign poisoned") - lines0
    refused = int(agg.metric("ag_agg_poisoned_total"))
    refused_total += refused
    # 2 s of back-off from 100 ms doubling: at most 5 refusals, one log line each
    check(1 <= lines <= 6 and refused <= 6, f"{bad}: {refused} refusals, {lines} log lines in 2 s")
    r("DEL", bad)                                # the operator repairs
    wait_applied(r)
    t = totals(c)
    want = 1 if bad == f"ag:c:{{{c}}}" else 2    # the totals hash itself was replaced
    check(t.get("open") == str(want) and t.get("signup") == str(want) and t.get("followup") == str(want),
          f"{bad} repaired: open/signup/followup {t.get('open')}/{t.get('signup')}/{t.get('followup')}, want {want}")
    if bad != f"ag:c:{{{c}}}:ref":
        check(r("ZSCORE", f"ag:c:{{{c}}}:ref", "ann") == b"2", f"{bad} repaired: ann credited twice, once a round")
    check(agg.metric("ag_agg_poison_held") == 0, f"{bad}: the gauge clears")

g = totals("good")
check(g.get("open") == str(len(layout)) and g.get("signup") == str(len(layout)),
      f"the other campaign counted every hit once: open {g.get('open')}, signup {g.get('signup')} of {len(layout)}")
print(f"poison: {len(layout)} keys poisoned in turn, {refused_total} refused calls, "
      f"good campaign open {g.get('open')} of {len(layout)}", flush=True)
done("test_agg_poison")
