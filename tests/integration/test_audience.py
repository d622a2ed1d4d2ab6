"""Audiences: a scripted campaign of 1,000 subjects with known behaviour
(opens, views, clicks, signups, follow-ups, advocates, machine and
anonymous hits) sent through the real collector while the aggregator is
SIGKILLed between chunks; every segment of `actiongap audience` equals an
independent model computed from the stream, with --ref, --not-in, --since
and --count; a subject older than audience_days is gone; `actiongap forget`
leaves no trace of a subject in any key of Redis."""
import json, subprocess, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
DAYS = 2
N = 1000
BITS = {"open": 1, "view": 2, "scroll": 2, "click": 4, "signup": 8, "donate": 16, "convert": 32, "followup": 128}
ACTED = 8 | 16 | 32 | 64
REACHED = 1 | 2 | 4 | ACTED

rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs, extra=["--audience-days", str(DAYS)])


def cli(*args, check_rc=True):
    p = subprocess.run([CLI, "--redis", rs.url(), "--audience-days", str(DAYS), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if check_rc:
        check(p.returncode == 0, f"actiongap {' '.join(args)}: exit {p.returncode} {p.stderr.decode()[:200]}")
    return p.stdout.decode()


def bucket(subject):
    """The audience bucket of a subject: FNV-1a 64 (proto_hash64) modulo 1,024."""
    h = 14695981039346656037
    for ch in subject.encode():
        h = ((h ^ ch) * 1099511628211) % (1 << 64)
    return (h or 1) % 1024


conn = Conn(col.port)


def pixel(q, ua=HUMAN):
    st, _, _ = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": ua})
    check(st == 200, f"pixel {q}: {st}")


def api(objs):
    st, _, body = http_post(col.port, "/api/hits", json.dumps(objs).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    check(st == 202, f"api: {st} {body[:100]!r}")


# ---- the script, in four chunks with the aggregator SIGKILLed between them
kills = 0
for chunk in range(4):
    for i in range(chunk * N // 4, (chunk + 1) * N // 4):
        s = f"p{i:04d}"
        ref = "&ref=ann" if i % 10 == 0 else ("&ref=bob" if i % 10 == 1 else "")
        if i % 2 == 0:
            pixel(f"c=big&e=open&s={s}{ref}")
        if i % 3 == 0:
            pixel(f"c=big&e=view&s={s}")
        if i % 5 == 0:
            pixel(f"c=big&e=click&s={s}{ref}")
        if i % 7 == 0:
            pixel(f"c=big&e=signup&s={s}{ref}")
        if i % 13 == 0:
            pixel(f"c=big&e=petition&s={s}")
        if i % 11 == 0:
            pixel(f"c=big&e=open&s=m{i}", ua=GMAIL)        # a machine: never in an audience
        if i % 4 == 0:
            pixel(f"c=other&e=open&s={s}")
    api([{"c": "big", "e": "followup", "s": f"p{i:04d}"} for i in range(chunk * N // 4, (chunk + 1) * N // 4)
         if i % 14 == 0])
    pixel("c=big&e=view")                                  # no subject: anonymous to the audience
    st, _, _ = conn.request("GET", f"/p.gif?c=big&e=open&s=optout-{chunk}", headers={"User-Agent": HUMAN,
                                                                                    "Sec-GPC": "1"})
    check(st == 200, "a GPC open is answered")                 # opted out: never in an audience
    agg.kill()
    kills += 1
    agg.start()
    if chunk == 1:
        time.sleep(1.2)
        since = int(time.time())                           # --since: the last two chunks
        time.sleep(1.2)
wait_applied(r, timeout=120)

# ---- the model, from the stream
entries = r.xrange_all("ag:hits:{0}")
model = {}
for _, f in entries:
    if f.get("agent") != "human" or not f.get("subject"):
        continue
    c, s, e, t = f["campaign"], f["subject"], f["event"], int(f["ts"]) // 1000
    rec = model.setdefault(c, {}).setdefault(s, {"mask": 0, "first": t, "last": t, "ref": ""})
    rec["mask"] |= BITS.get(e, 64)
    rec["first"], rec["last"] = min(rec["first"], t), max(rec["last"], t)
    if not rec["ref"] and f.get("ref"):
        rec["ref"] = f["ref"]
SEGMENTS = {
    "gap": lambda m: m & REACHED and not m & ACTED,
    "clicked-not-acted": lambda m: m & 4 and not m & ACTED,
    "opened-not-clicked": lambda m: m & 1 and not m & 4,
    "acted": lambda m: m & ACTED,
    "waiting": lambda m: m & 8 and not m & 128,
    "reached": lambda m: m & REACHED,
}
big = model["big"]
check(not any(s.startswith("optout") for s in cli("audience", "big", "reached").split()),
      "a subject that opted out (GPC) is in no audience")
check(len(big) == N - sum(1 for i in range(N) if i % 2 and i % 3 and i % 5 and i % 7 and i % 13 and i % 14),
      f"the model has every subject that did something: {len(big)}")


def want(seg, ref=None, not_in=None, since_s=0):
    other = model.get(not_in, {}) if not_in else {}
    return sorted(s for s, x in big.items() if SEGMENTS[seg](x["mask"]) and (ref is None or x["ref"] == ref)
                  and not (s in other and other[s]["mask"] & REACHED) and x["last"] >= since_s)


for seg in SEGMENTS:
    got = sorted(cli("audience", "big", seg).split())
    w = want(seg)
    check(got == w and len(w) > 0, f"{seg}: {len(got)} subjects, model {len(w)} "
          f"(missing {sorted(set(w) - set(got))[:3]}, extra {sorted(set(got) - set(w))[:3]})")
    check(cli("audience", "big", seg, "--count").strip() == str(len(w)), f"{seg} --count: {len(w)}")
for args, w in ((("--ref", "ann"), want("gap", ref="ann")), (("--not-in", "other"), want("gap", not_in="other")),
                (("--since", str(since)), want("gap", since_s=since))):
    got = sorted(cli("audience", "big", "gap", *args).split())
    check(got == w and 0 < len(w) < len(want("gap")), f"gap {' '.join(args)}: {len(got)}, model {len(w)}")
rows = cli("audience", "big", "acted", "--format", "csv").splitlines()
check(rows[0] == "subject,first_seen,last_seen,events,ref" and len(rows) == 1 + len(want("acted")),
      f"csv: a header and {len(want('acted'))} rows ({len(rows)})")
row = [x for x in rows if x.startswith("p0000,")]
check(row and row[0].endswith(",open|view|click|signup|custom|followup,ann"), f"csv row of p0000: {row}")
js = json.loads(cli("audience", "big", "waiting", "--format", "json"))
check(sorted(x["subject"] for x in js) == want("waiting"), f"json: {len(js)} waiting")
print(f"audience: {len(big)} subjects of 1,000 in big, {kills} aggregator SIGKILLs; segments "
      + ", ".join(f"{s} {len(want(s))}" for s in SEGMENTS), flush=True)

# ---- retention: a hit older than audience_days never lingers
now = int(time.time() * 1000)
for s, age_days in (("old-1", DAYS + 1), ("young-1", DAYS - 1)):
    r("XADD", "ag:hits:{0}", "*", "hid", f"raw.0-{s}", "ts", str(now - age_days * 86400000), "campaign", "aged",
      "event", "open", "subject", s, "agent", "human", "via", "pixel")
wait_applied(r)
check(sorted(cli("audience", "aged", "reached").split()) == ["young-1"],
      "retention: the subject last seen 3 days ago is gone, the one of 1 day ago stays")
check(r("EXISTS", f"ag:c:{{aged}}:aud:{bucket('old-1')}") == 0 or bucket("old-1") == bucket("young-1"),
      "retention: the old subject's bucket expired with it")
young = f"ag:c:{{aged}}:aud:{bucket('young-1')}"
ttl = r("PTTL", young)
check(0 < ttl <= (DAYS + 1) * 86400000, f"retention: a live bucket expires in time ({ttl} ms)")


# ---- the expiry is set once a day: the aggregator remembers the buckets it
# set; a bucket it remembers but that is gone (expired, deleted) gets its
# expiry again when it comes back
def pttl_calls():
    line = [x for x in r("INFO", "commandstats").decode().splitlines() if x.startswith("cmdstat_pttl:")]
    return int(line[0].split("calls=")[1].split(",")[0]) if line else 0


def young_hit(s):
    r("XADD", "ag:hits:{0}", "*", "hid", f"raw.0-{s}", "ts", str(now), "campaign", "aged", "event", "open",
      "subject", s, "agent", "human", "via", "pixel")
    wait_applied(r)


same = [f"young-{i}" for i in range(2, 20000) if bucket(f"young-{i}") == bucket("young-1")][:3]
young_hit(same[0])                      # today's expiry: set (and remembered)
calls = pttl_calls()
young_hit(same[1])                      # the same day, a bucket it set: not checked again
check(len(same) == 3 and pttl_calls() == calls, f"retention: a bucket set today is not checked again "
      f"(PTTL calls {calls} -> {pttl_calls()})")
check(r("HEXISTS", young, same[1]) == 1, "retention: the record is written all the same")
r("DEL", young)
young_hit(same[2])                      # remembered, but new in Redis: its expiry is set
ttl = r("PTTL", young)
check(0 < ttl <= (DAYS + 1) * 86400000 and r("HLEN", young) == 1,
      f"retention: a remembered bucket that came back new gets its expiry ({ttl} ms)")

# ---- forget: no trace left
victim = "p0000"
out = cli("forget", victim)
check("forgotten in 2 campaigns" in out, f"forget: {out.strip()}")
traces = []
for k in r("KEYS", "*"):
    t = r("TYPE", k)
    blob = b""
    if t == "string":
        blob = r("GET", k) if not (r("GET", k) or b"")[:4] == b"HYLL" else b""
    elif t == "hash":
        blob = b" ".join(r("HGETALL", k))
    elif t == "zset":
        blob = b" ".join(r("ZRANGE", k, "0", "-1"))
    elif t == "set":
        blob = b" ".join(r("SMEMBERS", k))
    elif t == "list":
        blob = b" ".join(r("LRANGE", k, "0", "-1"))
    elif t == "stream":
        blob = b" ".join(v for _, fl in r("XRANGE", k, "-", "+") for v in fl)
    if victim.encode() in blob or victim.encode() in k:
        traces.append(k)
check(not traces, f"forget: {victim} found in no key ({traces[:5]})")
check(victim not in cli("audience", "big", "reached").split(), "forget: not in the audience any more")
check(len(cli("audience", "big", "reached").split()) == len(want("reached")) - 1, "forget: everyone else stays")
check(agg.stop() == 0 and col.stop() == 0, "both daemons exit 0")
done("test_audience")
