"""Pixel: the 43-byte GIF with no-cache headers, every SPEC 3 field in the
stream, rejects answered with the GIF and recorded with their reason."""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/120.0 Safari/537.36")
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"

rs = RedisServer()
r = rs.client()
col = Collector(rs)

# 1. an accepted hit with every client field
st, hd, body = http_get(col.port, "/p.gif?c=spring.appeal&e=open&s=contact-42&ref=ann&ch=email"
                        "&g=petition&t=1700000000000&n=nonce-1&utm_source=x",
                        headers={"User-Agent": CHROME, "X-Forwarded-For": "198.51.100.7"})
check(st == 200, f"pixel status {st}")
check(len(body) == 43 and body[:6] == b"GIF89a" and body[-1:] == b";", f"GIF body {body!r}")
check(hd.get("content-type") == "image/gif", f"content-type {hd.get('content-type')}")
check(hd.get("cache-control") == "no-store, no-cache, must-revalidate, max-age=0",
      f"cache-control {hd.get('cache-control')}")
check(hd.get("pragma") == "no-cache" and hd.get("expires") == "0", "pragma/expires")

entries = wait_for(lambda: r.xrange_all("ag:hits:{0}"), what="the hit in ag:hits:{0}")
check(len(entries) == 1, f"sent 1 hit, found {len(entries)}")
f = entries[0][1]
want = {"campaign": "spring.appeal", "event": "open", "subject": "contact-42", "ref": "ann",
        "channel": "email", "goal": "petition", "client_ts": "1700000000000", "nonce": "nonce-1",
        "ip": "127.0.0.0", "agent": "human", "ua": CHROME, "via": "pixel"}
for k, v in want.items():
    check(f.get(k) == v, f"field {k}: want {v!r}, got {f.get(k)!r}")
check(f.get("hid", "").count("-") >= 1, f"hid {f.get('hid')!r}")
check(abs(int(f.get("ts", "0")) - int(time.time() * 1000)) < 60000, f"ts {f.get('ts')}")
check("depth" not in f and "value" not in f, "empty fields omitted")
check("utm_source" not in f, "unknown parameters are not stored")

# 2. defaults, classes, scroll depth, value
http_get(col.port, "/p.gif?c=spring&s=a", headers={"User-Agent": GMAIL})
http_get(col.port, "/p.gif?c=spring&e=scroll&d=75", headers={"User-Agent": CHROME})
http_get(col.port, "/p.gif?c=spring&e=donate&v=2500", headers={"User-Agent": CHROME})
entries = wait_for(lambda: (lambda e: e if len(e) == 4 else None)(r.xrange_all("ag:hits:{0}")),
                   what="4 hits")
check(entries[1][1]["event"] == "view", "event defaults to view on the pixel")
check(entries[1][1]["agent"] == "mailproxy", f"gmail proxy class {entries[1][1].get('agent')}")
check(entries[2][1].get("depth") == "75", "scroll depth stored")
check(entries[3][1].get("value") == "2500", "donation value stored")

# 3. GPC drops subject, ip and ua
http_get(col.port, "/p.gif?c=spring&e=open&s=private-1", headers={"User-Agent": CHROME, "Sec-GPC": "1"})
entries = wait_for(lambda: (lambda e: e if len(e) == 5 else None)(r.xrange_all("ag:hits:{0}")),
                   what="5 hits")
g = entries[4][1]
check("subject" not in g and "ip" not in g and "ua" not in g, f"GPC hit anonymous: {g}")

# 4. rejected hits: GIF still served, nothing in ag:hits, one reject each with its reason
cases = [("/p.gif?e=open", "missing_campaign"),
         ("/p.gif?c=bad{id}", "bad_campaign"),
         ("/p.gif?c=ok&e=Open", "bad_event"),
         ("/p.gif?c=ok&e=scroll&d=101", "bad_depth"),
         ("/p.gif?c=ok&s=%ZZ", "bad_encoding"),
         ("/p.gif?c=ok&e=signup", "missing_subject"),
         ("/p.gif?c=ok&e=followup&s=x", "followup_forbidden"),
         ("/p.gif?c=ok&c=again", "duplicate_param")]
for path, reason in cases:
    st, hd, body = http_get(col.port, path, headers={"User-Agent": CHROME})
    check(st == 200 and len(body) == 43, f"{path}: GIF even when rejected ({st}, {len(body)})")
rejects = wait_for(lambda: (lambda e: e if len(e) == len(cases) else None)(r.xrange_all("ag:rejects")),
                   what=f"{len(cases)} rejects")
got = [e[1].get("reason") for e in rejects]
check(got == [c[1] for c in cases], f"reject reasons {got}")
check(len(r.xrange_all("ag:hits:{0}")) == 5, "rejected hits add nothing to ag:hits:{0}")
keys = sorted(k.decode() for k in r("KEYS", "*"))
check(keys == ["ag:hits:{0}", "ag:rejects"], f"no key outside the schema: {keys}")
check(col.metric("ag_rejects_total") == len(cases), "rejects counted on /metrics")

# 5. HEAD, wrong method, unknown path
c = Conn(col.port)
st, hd, body = c.request("POST", "/p.gif", b"x=1")
check(st == 405 and "GET" in hd.get("allow", ""), f"POST /p.gif -> {st}")
st, _, _ = c.request("GET", "/nope")
check(st == 404, f"unknown path -> {st}")
c.close()

check(col.stop() == 0, "collector exits 0 on SIGTERM")
print(f"pixel: sent 5 accepted + {len(cases)} rejected, found {len(r.xrange_all('ag:hits:{0}'))} "
      f"hits and {len(r.xrange_all('ag:rejects'))} rejects")
done("test_coll_pixel")
