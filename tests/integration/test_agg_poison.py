"""A campaign key overwritten with a value of another type (a typo in
redis-cli) must not make a hit count twice: the apply script checks every
key it will touch before its first write. For each key of a campaign in
turn: the key is poisoned, a batch touching every key is refused with no
counter written (every other key byte-for-byte unchanged); its entries go
to the campaign's dead-letter stream while the other campaign keeps
counting, with one log line; once the operator deletes the bad key,
`actiongap repair` re-queues them and they count exactly once. A bad
watermark key (read before the script) holds the partition on a back-off
instead, and the batch counts once after the repair."""
import json, os, re, subprocess, sys
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
    pixel(f"c={c}&e=view&s=s0")                  # every round touches the audience bucket of s0
    time.sleep(0.05)
    api({"c": c, "e": "followup", "s": tag})


def keys_of(c):
    return sorted(k.decode() for k in r("KEYS", f"ag:c:{{{c}}}*"))


def dumps(ks):
    """Each key's serialized value; for a HyperLogLog its registers only
    (PFCOUNT, which the apply's check runs, rewrites the cached count in
    the 16-byte header without changing what is counted)."""
    out = {}
    for k in ks:
        v = r("GET", k) if r("TYPE", k) == "string" else None
        out[k] = v[16:] if v and v[:4] == b"HYLL" else r("DUMP", k)
    return out


def totals(c):
    return hgetall(r, f"ag:c:{{{c}}}")


# seed one campaign to learn its keys
hits("seed", "s0")
wait_applied(r)
layout = [k.replace("{seed}", "{C}") for k in keys_of("seed")]
check(len(layout) >= 10, f"a campaign with every kind of hit has its keys: {layout}")
print(f"poison: {len(layout)} keys per campaign: {' '.join(layout)}", flush=True)

def cli(*args):
    p = subprocess.run([CLI, "--redis", rs.url(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=30)
    return p.returncode, p.stdout.decode()


refused_total = dead_total = 0
for i, pattern in enumerate(layout):
    c = f"p{i}"
    hits(c, "a")                                 # the first round makes every key exist
    wait_applied(r)
    agg.stop()
    hits(c, "b")                                 # the second round: one batch, read at start
    hits("good", f"g{i}")                        # another campaign of the same partition
    bad = pattern.replace("{C}", "{" + c + "}")
    now = time.gmtime()                          # the hour and day buckets of this round's hits
    bad = re.sub(r":h:\d+$", time.strftime(":h:%Y%m%d%H", now), bad)
    bad = re.sub(r":d:\d+$", time.strftime(":d:%Y%m%d", now), bad)
    r("DEL", bad)
    r("SET", bad, "typo")                        # the operator's mistake
    dead = f"ag:c:{{{c}}}:dead"
    # the watermark is read before the script: a bad one holds the
    # partition (nothing can be dead-lettered without it); a bad nonce key
    # is refused by the script and dead-lettered like the others
    held = bad.endswith(":wm")
    keep = [k for k in keys_of(c) if k not in (bad, f"ag:c:{{{c}}}:wm", dead)]
    before = dumps(keep)
    lines0 = agg.logs().count("campaign poisoned")
    agg.start()
    if held:
        wait_for(lambda: agg.metric("ag_agg_poisoned_total") >= 1, timeout=10,
                 what=f"the apply of {c} to be refused ({bad})")
        time.sleep(2.0)
        check(agg.metric("ag_agg_poison_held") == 1, f"{bad}: the held gauge says so")
        refused = int(agg.metric("ag_agg_poisoned_total"))
        lines = agg.logs().count("campaign poisoned") - lines0
        # 2 s of back-off from 100 ms doubling: at most 5 refusals, one log line each
        check(1 <= lines <= 6 and refused <= 6, f"{bad}: {refused} refusals, {lines} log lines in 2 s")
        # only that campaign is held: the other one of the batch counted in the same round
        check(totals("good").get("open") == str(i + 1),
              f"{bad}: the other campaign counted while {c} is held: {totals('good').get('open')} of {i + 1}")
        hits(c, "late")                          # a later hit of the held campaign waits behind the first
    else:
        wait_applied(r)                          # dead-lettered and acknowledged: nothing held
        refused = int(agg.metric("ag_agg_poisoned_total"))
        nd = r("XLEN", dead)
        check(nd == 5, f"{bad}: the 5 entries of the batch in the dead-letter stream, found {nd}")
        dead_total += nd
        check(totals("good").get("open") == str(i + 1),
              f"{bad}: the other campaign counted in the same round: {totals('good').get('open')} of {i + 1}")
        lines = agg.logs().count("campaign poisoned") - lines0
        check(lines == 1 and refused == 1, f"{bad}: {refused} refusal, {lines} log line")
        rc, out = cli("campaigns")
        check(rc == 0 and any(l.split()[0] == c and l.split()[-1] == "5" for l in out.splitlines()[1:]),
              f"{bad}: `actiongap campaigns` shows 5 dead-letter entries for {c}")
    after = dumps(keep)
    changed = [k for k in before if before[k] != after.get(k)]
    check(not changed, f"{bad} poisoned: no counter of the batch written (changed: {changed})")
    refused_total += refused
    r("DEL", bad)                                # the operator repairs the key
    if not held:
        rc, out = cli("repair", c)
        check(rc == 0 and out.startswith("5 entries"), f"{bad}: repair re-queues 5: {out.strip()}")
        rc, out = cli("repair", c)
        check(rc == 0 and out.startswith("0 entries"), f"{bad}: a second repair finds none: {out.strip()}")
    wait_applied(r)
    t = totals(c)
    want = (1 if bad == f"ag:c:{{{c}}}" else 2) + held  # the totals hash itself was replaced; the late hit
    check(t.get("open") == str(want) and t.get("signup") == str(want) and t.get("followup") == str(want),
          f"{bad} repaired: open/signup/followup {t.get('open')}/{t.get('signup')}/{t.get('followup')}, want {want}")
    if bad != f"ag:c:{{{c}}}:ref":
        check(r("ZSCORE", f"ag:c:{{{c}}}:ref", "ann") == str(2 + held).encode(),
              f"{bad} repaired: ann credited once a round")
    check(r("XLEN", dead) == 0, f"{bad}: the dead-letter stream is empty after repair")
    # the gauge clears when the round that applied the batch returns, just after its XACK
    try:
        wait_for(lambda: agg.metric("ag_agg_poison_held") == 0, timeout=5, what="the held gauge to clear")
        cleared = True
    except AssertionError:
        cleared = False
    check(cleared, f"{bad}: the gauge clears")

# values Redis refuses though the type is right: a counter "007" (HINCRBY
# takes no leading zero) and a string that starts like a HyperLogLog
for c, field_or_key, bad_value in (("z1", "open", "007"), ("z2", "ag:c:{z2}:u:signup", "HYLLjunk")):
    hits(c, "a")
    wait_applied(r)
    agg.stop()
    hits(c, "b")
    if field_or_key == "open":
        r("HSET", f"ag:c:{{{c}}}", "open", bad_value)
    else:
        r("SET", field_or_key, bad_value)
    keep = [k for k in keys_of(c) if k not in (f"ag:c:{{{c}}}:wm", f"ag:c:{{{c}}}:dead", field_or_key)]
    before = dumps(keep)
    agg.start()
    wait_applied(r)
    after = dumps(keep)
    changed = [k for k in before if before[k] != after.get(k)]
    check(r("XLEN", f"ag:c:{{{c}}}:dead") == 5 and not changed,
          f"{c} ({bad_value!r}): 5 entries dead-lettered, nothing written (changed: {changed})")
    if field_or_key == "open":
        r("HSET", f"ag:c:{{{c}}}", "open", "1")
    else:
        r("DEL", field_or_key)
    rc, out = cli("repair", c)
    wait_applied(r)
    t = totals(c)
    check(rc == 0 and t.get("open") == "2" and t.get("signup") == "2" and r("XLEN", f"ag:c:{{{c}}}:dead") == 0,
          f"{c} repaired: open {t.get('open')}, signup {t.get('signup')} (want 2, 2): {out.strip()}")

g = totals("good")
check(g.get("open") == str(len(layout)) and g.get("signup") == str(len(layout)),
      f"the other campaign counted every hit once: open {g.get('open')}, signup {g.get('signup')} of {len(layout)}")
print(f"poison: {len(layout)} keys poisoned in turn, {refused_total} refused calls, {dead_total} dead-lettered "
      f"and repaired, "
      f"good campaign open {g.get('open')} of {len(layout)}", flush=True)
done("test_agg_poison")
