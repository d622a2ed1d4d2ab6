"""A scripted campaign through the real collector and aggregator: every key
of SPEC 3 holds exactly what an independent model of the rules computes
from the stream, and the hand-counted figures match too."""
import json, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from scripted import spring_campaign

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
C = "spring"

rs = RedisServer()
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs)
conn = Conn(col.port)


def pixel(q, ua=HUMAN):
    st, _, body = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": ua})
    assert st == 200 and len(body) == 43


def api(obj):
    st, _, body = http_post(col.port, "/api/hits", json.dumps(obj).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    assert st == 202, body


sent = spring_campaign(C, pixel, conn, api)

wait_for(lambda: r("XLEN", "ag:hits:{0}") == sent, what=f"{sent} hits in the stream")
wait_applied(r)
entries = r.xrange_all("ag:hits:{0}")
check(len(entries) == sent, f"sent {sent}, stream holds {len(entries)}")
model = expected_counters(entries)

# ---- the model against Redis, key by key
check_against_model(r, model)

# ---- and the figures counted by hand from the script above
tot = {k: int(v) for k, v in hgetall(r, f"ag:c:{{{C}}}").items()}
hand = {"open": 51, "machine_open": 15, "click": 12, "machine_click": 3, "view": 5, "scroll": 5,
        "signup": 9, "donate": 3, "value": 4000, "petition": 2, "followup": 3, "dup": 1}
for k, v in hand.items():
    check(tot.get(k) == v, f"totals {k}: want {v}, got {tot.get(k)}")
reach = r("PFCOUNT", f"ag:c:{{{C}}}:u:open", f"ag:c:{{{C}}}:u:view", f"ag:c:{{{C}}}:u:click")
check(reach == 41, f"reach: 40 subjects + 1 anonymous visitor, got {reach}")
check(r("PFCOUNT", f"ag:c:{{{C}}}:u:open") == 40, "40 unique openers")
check([r("PFCOUNT", f"ag:c:{{{C}}}:scroll:{d}") for d in (25, 50, 75, 100)] == [1, 1, 1, 1],
      "scroll: one reader counts once per bucket however many scroll hits")
check(r("EXISTS", f"ag:c:{{{C}}}:scroll") == 0, "no scroll hash of hit counts any more")
check({k: int(v) for k, v in zrange(r, f"ag:c:{{{C}}}:ref").items()} == {"ann": 6, "bob": 5}, "advocate actions")
check({k: int(v) for k, v in zrange(r, f"ag:c:{{{C}}}:ref:reach").items()} == {"ann": 26, "bob": 10}, "advocate reach")
pend = zrange(r, f"ag:c:{{{C}}}:pending")
check(sorted(pend) == [f"s{i}" for i in range(2, 8)], f"pending after follow-ups: {sorted(pend)}")
fl = hgetall(r, f"ag:c:{{{C}}}:fl")
check(fl.get("count") == "2" and fl.get("unmatched") == "1" and fl.get("le_60s") == "2", f"fl {fl}")
camps = zrange(r, "ag:campaigns")
check(int(camps.get(C, 0)) == tot["last_ts"], f"ag:campaigns last activity {camps}")
# hourly buckets expire retention_hours after their hour
for key in r("KEYS", f"ag:c:{{{C}}}:h:*"):
    hour = key.decode().rsplit(":", 1)[1]
    import datetime
    start = int(datetime.datetime.strptime(hour, "%Y%m%d%H").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    check(r("PEXPIRETIME", key) == start + 2160 * 3600 * 1000, f"{key} expires 2160 h after its hour")
for key in r("KEYS", f"ag:c:{{{C}}}:d:*"):
    day = key.decode().rsplit(":", 1)[1]
    start = int(datetime.datetime.strptime(day, "%Y%m%d").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
    check(r("PEXPIRETIME", key) == start + 730 * 86400 * 1000, f"{key} expires 730 days after its day")
check(agg.metric("ag_agg_applied_total") == sent - 1, f"applied {agg.metric('ag_agg_applied_total')} = sent - 1 dup")
check(agg.metric("ag_agg_duplicates_total") == 1, "one duplicate counted")
allowed = {"ag:hits:{0}", "ag:rejects", "ag:alerts", "ag:campaigns", "ag:lease:{0}", "ag:applied:{0}", "ag:aggregators"}
keys = {k.decode() for k in r("KEYS", "*")}
odd = {k for k in keys if k not in allowed and not k.startswith(f"ag:c:{{{C}}}")}
check(not odd, f"no key outside the schema: {odd}")

# ---- the command on what the aggregator wrote
import subprocess
cli = [CLI, "--redis", rs.url()]
out = subprocess.run(cli + ["stats", C, "--json"], capture_output=True, text=True, timeout=30)
check(out.returncode == 0, f"actiongap stats exits 0 ({out.stderr})")
st = json.loads(out.stdout)
check({k: int(v) for k, v in st["counters"].items()} == tot, "stats --json counters equal the hash")
# reach: 40 openers s0..s39, 1 ip+ua viewer, 3 donors d* (clickers, signers and
# petitioners are among the openers); actors: 8 signers, 3 donors, 2 petitioners
check(st["reach"] == 44 and st["signups"] == 9 and st["clicks"] == 12, f"stats figures {st['reach']} {st['signups']}")
check(st["actions"] == 9 + 3 + 2 and st["actors"] == 13, f"actions {st['actions']} actors {st['actors']}")
check(abs(st["conversion_rate"] - 13 / 44) < 1e-9 and abs(st["click_rate"] - 12 / 44) < 1e-9,
      f"rates {st['conversion_rate']} {st['click_rate']}")
check(abs(st["action_gap"] - (1 - 13 / 44)) < 1e-9 and st["pending"] == 6, "action gap and pending")
check(st["viewers"] == 1 and st["scroll"] == {"25": 1, "50": 1, "75": 1, "100": 1} and st["clamped"] == [],
      f"scroll of viewers {st['viewers']} {st['scroll']} {st['scroll_rate']}")
out = subprocess.run(cli + ["followup", C, "s2"], capture_output=True, text=True, timeout=30)
check(out.returncode == 0, f"actiongap followup exits 0 ({out.stderr})")
wait_for(lambda: "s2" not in zrange(r, f"ag:c:{{{C}}}:pending"), what="s2 to leave pending")
fl = hgetall(r, f"ag:c:{{{C}}}:fl")
check(fl.get("count") == "3", f"the command's follow-up is measured: {fl}")
out = subprocess.run(cli + ["stats", C], capture_output=True, text=True, timeout=30)
check(out.returncode == 0 and "gap" in out.stdout.lower(), f"stats table shows the gap:\n{out.stdout}")
print(out.stdout)

# One hit of a new campaign: the script call that creates its first hour
# and day buckets also gives them their expiry.
pixel("c=solo&e=open&s=only")
wait_for(lambda: hgetall(r, "ag:c:{solo}").get("open") == "1", what="solo's one open")
solo = r("KEYS", "ag:c:{solo}:h:*") + r("KEYS", "ag:c:{solo}:d:*")
check(len(solo) == 2, f"one hour and one day bucket for one hit: {solo}")
for key in solo:
    check(r("PTTL", key) > 0, f"{key} expires after a single hit (PTTL {r('PTTL', key)})")

# A stream entry whose campaign is not a valid id (a NUL inside) is
# malformed: it neither counts nor touches the campaign its prefix names.
opens = int(hgetall(r, f"ag:c:{{{C}}}")["open"])
wm = hgetall(r, f"ag:c:{{{C}}}:wm")
r("XADD", "ag:hits:{0}", "*", "hid", "bogus.0-1", "ts", str(int(time.time() * 1000)),
  "campaign", b"spring\x00x", "event", "open", "agent", "human", "via", "pixel")
wait_applied(r)
check(agg.metric("ag_agg_malformed_total") == 1, "the entry is counted malformed")
check(hgetall(r, f"ag:c:{{{C}}}:wm") == wm, "spring's watermark did not move")
pixel(f"c={C}&e=open&s=after")
wait_for(lambda: int(hgetall(r, f"ag:c:{{{C}}}")["open"]) > opens, what="spring's next open")
wait_applied(r)
check(int(hgetall(r, f"ag:c:{{{C}}}")["open"]) == opens + 1, "spring counts its next open, once")

# The 24-hour dup rule, each hit applied in its own round: a retry 20 s
# after midnight of a hit 10 s before it is a duplicate; a nonce seen 25 h
# before is not.
midnight = (int(time.time() * 1000) // 86400000) * 86400000


def night(ts, nonce):
    r("XADD", "ag:hits:{0}", "*", "hid", f"night.0-{ts}-{nonce}", "ts", str(ts), "campaign", "night",
      "event", "open", "subject", "s1", "nonce", nonce, "agent", "human", "via", "pixel")
    wait_applied(r)


dups0 = agg.metric("ag_agg_duplicates_total")
night(midnight - 10_000, "n1")
night(midnight + 10_000, "n1")
night(midnight - 25 * 3600_000, "n2")
night(midnight, "n2")
h = hgetall(r, "ag:c:{night}")
check(h.get("open") == "3" and h.get("dup") == "1", f"night: 3 opens and 1 dup, got {h}")
check(agg.metric("ag_agg_duplicates_total") == dups0 + 1, "one more duplicate counted")

# where views come from: top pages and top referrer hosts (human views only)
for i, (page, host) in enumerate([("/donate", "news.example"), ("/donate", "news.example"),
                                  ("/donate", "social.example"), ("/about", "")]):
    pixel(f"c=pages&e=view&s=p{i}&p={page}" + (f"&rh={host}" if host else ""))
pixel("c=pages&e=view&s=bot&p=/donate&rh=news.example", ua="curl/8.4.0")
pixel("c=pages&e=view&s=p9&p=no-slash")                # bad_page: rejected
wait_for(lambda: zrange(r, "ag:c:{pages}:pages") == {"/donate": 3.0, "/about": 1.0}, timeout=10,
         what="top pages")
check(zrange(r, "ag:c:{pages}:referrers") == {"news.example": 2.0, "social.example": 1.0},
      f"top referrers {zrange(r, 'ag:c:{pages}:referrers')}")
out = subprocess.run(cli + ["stats", "pages", "--json"], capture_output=True, text=True, timeout=30)
sp = json.loads(out.stdout)
check(sp.get("top_pages") == [{"path": "/donate", "views": 3}, {"path": "/about", "views": 1}] and
      sp.get("top_referrers") == [{"host": "news.example", "views": 2},
                                   {"host": "social.example", "views": 1}],
      f"stats shows top pages and referrers: {sp.get('top_pages')} {sp.get('top_referrers')}")
check(col.metric('ag_rejects_total{reason="bad_page"}') == 1, "a page that is not a path is rejected")

conn.close()
check(agg.stop() == 0, "aggregator exits 0 on SIGTERM")
print(f"campaign: sent {sent}, applied {int(sent - 1)}, reach {reach}, keys checked {len(model['hashes'])}")
done("test_agg_campaign")
