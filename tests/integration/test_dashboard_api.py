"""The dashboard's /api/v1 and its tokens against the real binaries: the
documents equal `actiongap … --json` (the same builders); no token is 401, a
share link opens its campaign (or only its leaderboard) and nothing else,
and is dead once revoked; every answer carries the security headers; the
assets are compressed and fingerprinted; a missing token stops the daemon
with one line naming dashboard_token."""
import gzip, json, subprocess, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"

rs = RedisServer()
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs, extra=["--followup-sla-s", "2"])
dash = Dashboard(rs, extra=["--followup-sla-s", "2"])


def cli(*args):
    p = subprocess.run([CLI, "--redis", rs.url(), "--followup-sla-s", "2",
                        "--dashboard-listen", f"127.0.0.1:{dash.port}", *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def get(path, token=DASHBOARD_TOKEN, headers=None):
    """GETs path with the token as a Bearer header; returns (status, headers, body)."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    st, hd, body = http_get(dash.port, path, headers=h)
    return st, {k.lower(): v for k, v in hd.items()} if isinstance(hd, dict) else hd, body


def doc(path, token=DASHBOARD_TOKEN):
    st, _, body = get(path, token)
    check(st == 200, f"GET {path}: 200, got {st} {body[:200]!r}")
    return json.loads(body) if st == 200 else {}


conn = Conn(col.port)
for i in range(12):
    ref = "&ref=ann" if i < 6 else ("&ref=bob" if i < 9 else "")
    conn.request("GET", f"/p.gif?c=spring&e=open&s=s{i}{ref}", headers={"User-Agent": HUMAN})
for i in range(3):
    conn.request("GET", f"/p.gif?c=spring&e=open&s=m{i}", headers={"User-Agent": GMAIL})
for i in range(4):
    ref = "&ref=ann" if i < 3 else ""
    conn.request("GET", f"/p.gif?c=spring&e=signup&s=s{i}{ref}", headers={"User-Agent": HUMAN})
conn.request("GET", "/p.gif?c=spring&e=view&s=s1&p=/join", headers={"User-Agent": HUMAN})
# advocates full of ties (a seeded draw): the stats' top 5, read without reading every advocate,
# must be the first 5 of the whole ranked leaderboard
import random
rng = random.Random(7)
ties = []
for a in range(40):
    for k in range(rng.choice([0, 1, 1, 2, 3])):
        ties.append({"c": "ties", "e": "open", "s": f"t{a}-{k}", "ref": f"a{a:02d}"})
    for k in range(rng.choice([0, 0, 0, 1, 1, 2])):
        ties.append({"c": "ties", "e": "signup", "s": f"t{a}-{k}", "ref": f"a{a:02d}"})
st_, _, _ = http_post(col.port, "/api/hits", json.dumps(ties).encode(),
                      {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
check(st_ == 202, f"{len(ties)} hits of ties accepted")
conn.request("GET", "/p.gif?c=other&e=open&s=o1", headers={"User-Agent": HUMAN})
http_post(col.port, "/api/hits", json.dumps({"c": "spring", "e": "followup", "s": "s0"}).encode(),
          {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
wait_for(lambda: r("XLEN", "ag:hits:{0}") == 22 + len(ties), what=f"{22 + len(ties)} hits in the stream")
wait_applied(r)
time.sleep(2.5)         # the three signups left wait longer than the 2 s SLA

# ---- the documents are the command's documents
for path, args in (("/api/v1/campaigns/spring", ("stats", "spring", "--json")),
                   ("/api/v1/campaigns/spring/leaderboard", ("top", "spring", "--json", "--limit", "100")),
                   ("/api/v1/campaigns/spring/pending", ("pending", "spring", "--json"))):
    d = doc(path)
    rc, out, _ = cli(*args)
    c = json.loads(out) if rc == 0 else {}
    d.pop("now_ms", None)
    for x in (d, c):                    # seconds waited move with the clock
        for p in x.get("pending", []) if isinstance(x.get("pending"), list) else []:
            p.pop("waiting_s", None)
    check(rc == 0 and d == c, f"{path} equals actiongap {' '.join(args)}: {d} vs {c}")
for camp in ("ties", "spring"):
    whole = json.loads(cli("top", camp, "--json", "--limit", "0")[1])["advocates"]
    best = doc(f"/api/v1/campaigns/{camp}")["top_advocates"]
    check(best == [{k: a[k] for k in ("ref", "actions", "reach", "clicks")} for a in whole[:5]],
          f"{camp}: the top 5 equal the whole leaderboard's first 5: {best} vs {whole[:6]}")
s = doc("/api/v1/campaigns/spring")
check(s.get("reach") == 12 and s.get("actors") == 4 and s.get("machine_opens") == 3,
      f"spring: reach 12, actors 4, machine opens 3 ({s.get('reach')}, {s.get('actors')}, {s.get('machine_opens')})")
check(s.get("pending") == 3 and s.get("overdue") == 3, f"spring: 3 pending, 3 overdue ({s.get('pending')}, "
      f"{s.get('overdue')})")
fl = s.get("followup", {})
check(len(fl.get("buckets", [])) == 7 and fl["buckets"][-1] == {"le_s": None, "count": 1},
      f"follow-up buckets, cumulative, 1 in all: {fl.get('buckets')}")
lst = doc("/api/v1/campaigns")
names = [c["campaign"] for c in lst.get("campaigns", [])]
check(sorted(names) == ["other", "spring", "ties"] and lst.get("total") == 3, f"the list: {names}")
sp = [c for c in lst.get("campaigns", []) if c["campaign"] == "spring"]
check(sp and sp[0]["reach"] == 12 and sp[0]["actors"] == 4 and sp[0]["overdue"] == 3
      and abs(sp[0]["conversion_rate"] - 4 / 12) < 1e-9, f"the list's figures of spring: {sp}")
ser = doc("/api/v1/campaigns/spring/series?unit=hour")
pts = ser.get("points", [])
check(len(pts) == 48 and sum(p["counts"].get("open", 0) for p in pts) == 12
      and sum(p["counts"].get("machine_open", 0) for p in pts) == 3,
      f"hourly series: 48 buckets, 12 human and 3 machine opens ({len(pts)})")
day = doc("/api/v1/campaigns/spring/series?unit=day")
check(len(day.get("points", [])) == 90 and sum(p["counts"].get("signup", 0) for p in day["points"]) == 4,
      "daily series: 90 buckets, 4 signups")
for bad in ("/api/v1/campaigns/spring/series?unit=week", "/api/v1/campaigns/spring/series?from=x",
            "/api/v1/campaigns/spring/series?unit=hour&from=0"):
    st, _, body = get(bad)
    check(st == 400 and b"error" in body, f"{bad}: 400 with a reason ({st} {body[:80]!r})")
st, _, _ = get("/api/v1/campaigns/nosuch")
check(st == 404, f"an unknown campaign: 404 ({st})")
st, _, _ = get("/api/v1/campaigns/bad%20id")
check(st == 400, f"a malformed campaign id: 400 ({st})")

# ---- the audience: counts for a campaign link, the lists for the dashboard token only
aud = doc("/api/v1/campaigns/spring/audience")
cnt = {seg: int(cli("audience", "spring", seg, "--count")[1].strip() or -1)
       for seg in ("gap", "clicked-not-acted", "opened-not-clicked", "acted", "waiting", "reached")}
check(aud.get("segments") == cnt and cnt["reached"] == 12 and cnt["acted"] == 4 and cnt["gap"] == 8,
      f"audience counts equal actiongap audience --count: {aud.get('segments')} vs {cnt}")
st, hd, body = get("/api/v1/campaigns/spring/audience/gap.csv")
rows = body.decode().splitlines()
want_rows = cli("audience", "spring", "gap", "--format", "csv")[1].splitlines()
check(st == 200 and hd.get("content-type", "").startswith("text/csv") and "attachment" in
      hd.get("content-disposition", "") and rows == want_rows and len(rows) == 9,
      f"gap.csv: the command's CSV, a header and 8 people ({st}, {len(rows)} rows)")
st, _, _ = get("/api/v1/campaigns/spring/audience/nosuch.csv")
check(st == 404, f"an unknown segment: 404 ({st})")

# ---- tokens
for path in ("/", "/c/spring", "/l/spring"):
    st, _, body = get(path, token=None)
    check(st == 401 and b"needs a token" in body and b"actiongap share" in body,
          f"{path} without a token: a 401 page saying what to do ({st})")
for path in ("/api/v1/campaigns", "/api/v1/campaigns/spring"):
    st, _, body = get(path, token=None)
    check(st == 401 and b"error" in body, f"{path} without a token: 401 ({st})")
    st, _, _ = get(path, token="wrong-token-wrong-token-wrong-to")
    check(st == 401, f"{path} with a wrong token: 401 ({st})")
rc, out, _ = cli("share", "spring", "--json")
camp = json.loads(out) if rc == 0 else {}
tok = camp.get("token", "")
check(rc == 0 and camp.get("url") == f"http://127.0.0.1:{dash.port}/c/spring?t={tok}" and len(tok) == 32,
      f"share prints the campaign link: {out.strip()}")
rc, out, _ = cli("share", "spring", "--leaderboard")
board = out.strip().rsplit("t=", 1)[-1]
check(rc == 0 and f"/l/spring?t={board}" in out, f"share --leaderboard prints the leaderboard link: {out.strip()}")
for path, want_c, want_b in (("/c/spring", 200, 403), ("/l/spring", 200, 200), ("/", 403, 403),
                             ("/c/other", 403, 403), ("/api/v1/campaigns", 403, 403),
                             ("/api/v1/campaigns/spring", 200, 403),
                             ("/api/v1/campaigns/spring/series", 200, 403),
                             ("/api/v1/campaigns/spring/pending", 200, 403),
                             ("/api/v1/campaigns/spring/leaderboard", 200, 200),
                             ("/api/v1/campaigns/other", 403, 403),
                             ("/api/v1/campaigns/other/leaderboard", 403, 403)):
    stc = get(path, token=tok)[0]
    stb = get(path, token=board)[0]
    check(stc == want_c and stb == want_b, f"{path}: campaign link {stc} (want {want_c}), "
          f"leaderboard link {stb} (want {want_b})")
check(get("/api/v1/campaigns/spring/audience", token=tok)[0] == 200 and
      get("/api/v1/campaigns/spring/audience/gap.csv", token=tok)[0] == 403 and
      get("/api/v1/campaigns/spring/audience", token=board)[0] == 403,
      "a campaign link reads the audience's counts but not who is in it; a leaderboard link neither")
st, _, _ = http_get(dash.port, f"/c/spring?t={tok}")
check(st == 200, f"the link's ?t= opens the page ({st})")
rc, out, _ = cli("share", "spring", "--revoke", "--leaderboard")
check(rc == 0 and out.startswith("1 leaderboard link"), f"revoke --leaderboard: {out.strip()}")
check(get("/l/spring", token=board)[0] == 401 and get("/l/spring", token=tok)[0] == 200,
      "the revoked leaderboard link opens nothing; the campaign link still works")
rc, out, _ = cli("share", "spring", "--revoke")
check(rc == 0 and out.startswith("1 link"), f"revoke: {out.strip()}")
check(get("/c/spring", token=tok)[0] == 401, "the revoked campaign link opens nothing")

# ---- headers, assets, methods
st, hd, body = get("/c/spring")
csp = hd.get("content-security-policy", "")
check(st == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp
      and hd.get("x-content-type-options") == "nosniff" and hd.get("referrer-policy") == "no-referrer",
      f"the page's security headers: {hd}")
check(b"<script" in body and b"<script>" not in body and b"onclick" not in body,
      "the page has no inline script")
total = len(body)
for a in ("/assets/app.js", "/assets/app.css"):
    st, hd, plain = get(a, token=None)
    st2, hd2, gz = get(a, token=None, headers={"Accept-Encoding": "gzip"})
    etag = hd.get("etag", "")
    st3 = get(a, token=None, headers={"If-None-Match": etag})[0]
    check(st == 200 and st2 == 200 and hd2.get("content-encoding") == "gzip" and gzip.decompress(gz) == plain
          and etag and st3 == 304, f"{a}: 200, gzip when accepted, 304 on its ETag")
    total += len(plain)
check(total < 100 * 1024, f"the whole page (shell, script, style) is {total} bytes, under 100 KB")
print(f"dashboard: page {total} bytes uncompressed", flush=True)
st, _, _ = http_post(dash.port, "/api/v1/campaigns", b"{}", {"Authorization": f"Bearer {DASHBOARD_TOKEN}"})
check(st == 405, f"POST: 405 ({st})")

# ---- the "followed up" button: the operator token only, the command's hit
def post_followup(token, body):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    return http_post(dash.port, "/api/v1/campaigns/spring/followup", body, h)


for tok_, name in ((None, "no token"), (DASHBOARD_TOKEN, "the dashboard token"), ("x" * 14, "a wrong token")):
    st, _, _ = post_followup(tok_, b'{"subject": "s2"}')
    check(st == 401, f"followed up with {name}: 401 ({st})")
before = r("XLEN", "ag:hits:{0}")
st, _, body = post_followup(API_TOKEN, b'{"subject": "s2"}')
res = json.loads(body) if st == 202 else {}
check(st == 202 and res.get("hid", "").startswith("dash.") and res.get("subject") == "s2",
      f"followed up with the operator token: 202 {body[:120]!r}")
e = r("XRANGE", "ag:hits:{0}", res.get("entry", "0-0"), res.get("entry", "0-0"))
f = {e[0][1][i].decode(): e[0][1][i + 1].decode() for i in range(0, len(e[0][1]), 2)} if e else {}
check(r("XLEN", "ag:hits:{0}") == before + 1 and f.get("event") == "followup" and f.get("subject") == "s2"
      and f.get("via") == "api" and f.get("agent") == "human" and f.get("campaign") == "spring",
      f"one follow-up hit, as actiongap followup writes it: {f}")
wait_applied(r)
check(r("ZSCORE", "ag:c:{spring}:pending", "s2") is None, "s2 is no longer pending")
for bad in (b'{"subject": ""}', b'{"nosubject": 1}', b'not json'):
    st, _, _ = post_followup(API_TOKEN, bad)
    check(st == 400, f"a follow-up without a valid subject {bad!r}: 400 ({st})")

# ---- configuration
for extra, why in (([], "required"), (["--dashboard-token", "short"], "too short")):
    args = [DASHBOARD, "--redis", rs.url(), "--dashboard-listen", "127.0.0.1:1", *extra]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
    lines = p.stdout.decode().strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and "dashboard_token" in lines[0] and why in lines[0],
          f"dashboard_token {why}: exit 2, one line naming it ({p.returncode}, {lines})")
check(dash.stop() == 0, "the dashboard exits 0 on SIGTERM")
done("test_dashboard_api")
