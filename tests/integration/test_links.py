"""Short links and advocates against the real collector, aggregator, CLI and
redis-server: 50 advocates minted in bulk, twice, with the same codes; each
QR code decodes back to its link (zbarimg); every short link redirects with
its advocate's attribution; a link made while the collector runs resolves
at once (pub/sub) or within one refresh period (written behind its back);
unknown codes 404, disabled and expired ones 410, never a redirect; with
Redis down known codes still redirect and their clicks are spooled, then
counted; an unsigned ?via= is counted apart unless accept_unsigned_ref;
`top`, `advocate` and `digest` show each advocate's clicks and actions."""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import base64

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
TARGET = "https://example.org/join"

zbar = shutil.which("zbarimg")
check(zbar is not None, "zbarimg is installed (Debian zbar-tools; ./deploy/deps.sh)")

rs = RedisServer()
r = rs.client()
col = Collector(rs, extra=["--link-refresh-s", "2", "--short-hosts", "go.example.org"])
agg = Aggregator(rs, name="agg-links")
tmp = tempfile.mkdtemp(prefix="ag-links-")
BASE = f"http://127.0.0.1:{col.port}"


def cli(*args, ok=True):
    p = subprocess.run([CLI, "--redis", rs.url(), "--base-url", BASE, "--signing-key", SIGNING_KEY, *args],
                       capture_output=True, text=True, timeout=120)
    if ok:
        check(p.returncode == 0, f"actiongap {' '.join(args)}: {p.returncode} {p.stderr}")
    return p


def get(path, host=None):
    """GET path from the collector as a person's browser; returns (status, headers, body)."""
    h = {"User-Agent": HUMAN}
    if host:
        h["Host"] = host
    return http_get(col.port, path, h)


def location_ref(headers):
    """The advocate the ag_attr token of a Location header names."""
    loc = headers.get("location") or headers.get("Location")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    payload = q["ag_attr"][0].split(".")[0]
    payload += "=" * (-len(payload) % 4)
    return loc, urllib.parse.parse_qs(base64.urlsafe_b64decode(payload).decode()).get("ref", [""])[0]


# ---- 50 advocates, minted twice: the same 50 codes
adv = os.path.join(tmp, "advocates.csv")
with open(adv, "w") as f:
    f.write("id,name,email\n")
    for i in range(50):
        f.write(f"a{i:02d},\"Advocate {i}, Esq.\",a{i:02d}@example.org\n")
qr = os.path.join(tmp, "qr")
first = json.loads(cli("links", "spring", "--to", TARGET, "--advocates", adv, "--qr", qr, "--json").stdout)
again = json.loads(cli("links", "spring", "--to", TARGET, "--advocates", adv, "--json").stdout)
codes = {a["id"]: a["code"] for a in first}
check(len(first) == 50 and len(set(codes.values())) == 50, f"50 distinct codes: {len(set(codes.values()))}")
check(all(a["created"] for a in first) and not any(a["created"] for a in again),
      "the first run created 50, the second none")
check({a["id"]: a["code"] for a in again} == codes, "the second run printed the same codes")
check(r("ZCARD", "ag:links") == 50 and r("HLEN", "ag:c:{spring}:links") == 50, "50 links stored, once")
check(all(re.fullmatch(r"[0-9A-Za-z]{7}", c) for c in codes.values()), "codes are 7 base62 characters")
check(all(a["url"] == f"{BASE}/s/{a['code']}" for a in first), "short URLs on base_url/s/")
csv = cli("links", "spring", "--to", TARGET, "--advocates", adv, "--format", "csv").stdout.splitlines()
check(csv[0] == "id,name,email,code,url" and len(csv) == 51 and
      csv[1] == f'a00,"Advocate 0, Esq.",a00@example.org,{codes["a00"]},{BASE}/s/{codes["a00"]}',
      f"CSV output: {csv[:2]}")

# ---- every QR code decodes back to its link; the SVG draws the same matrix
decoded = 0
for a in first:
    p = subprocess.run([zbar, "-q", "--raw", os.path.join(qr, a["id"] + ".png")],
                       capture_output=True, text=True, timeout=30)
    decoded += p.stdout.strip() == a["url"]
check(decoded == 50, f"QR codes decoded back to their links: {decoded} of 50")
svg = open(os.path.join(qr, "a00.svg")).read()
check(svg.startswith("<svg") and svg.count("h1v1h-1z") > 100 and svg.rstrip().endswith("</svg>"),
      "an SVG QR code of squares")

# ---- each link redirects to its target with its advocate's attribution
wait_for(lambda: col.metric("ag_short_links") == 50, what="the collector to hold 50 links")
ok = 0
for a in first[:10]:
    st, h, _ = get("/s/" + a["code"])
    loc, ref = location_ref(h) if st == 302 else ("", "")
    ok += st == 302 and loc.startswith(TARGET + "?ag_attr=") and ref == a["id"]
check(ok == 10, f"short links redirect with the advocate's token: {ok} of 10")
st, h, _ = get("/" + codes["a00"], host="go.example.org")
check(st == 302 and location_ref(h)[1] == "a00", f"GET /<code> on a short host: {st}")
st, _, _ = get("/" + codes["a00"], host="other.example.org")
check(st == 404, f"GET /<code> on another host: {st}")

# ---- unknown, disabled, expired: plain pages, never a redirect
st, h, body = get("/s/zzzzzzz")
check(st == 404 and b"does not exist" in body and "location" not in {k.lower() for k in h}, f"unknown: {st}")
st, _, _ = get("/s/a-b")
check(st == 404, f"not a code: {st}")
cli("links", "spring", "--disable", codes["a49"])
wait_for(lambda: get("/s/" + codes["a49"])[0] == 410, timeout=5, what="a disabled link to answer 410")
st, h, body = get("/s/" + codes["a49"])
check(b"no longer active" in body and "location" not in {k.lower() for k in h}, "410 page")
again49 = json.loads(cli("link", "spring", "--to", TARGET, "--ref", "a49", "--short", "--json").stdout)
check(again49["code"] != codes["a49"] and again49["created"], f"a gone link re-minted gets a new code: {again49}")
check(r("HGET", "ag:c:{spring}:links", f"a49\x1f{TARGET}\x1f\x1f").decode() == again49["code"],
      "the identity points at the new code")
wait_for(lambda: get("/s/" + again49["code"])[0] == 302, timeout=5, what="the re-minted link")
p = cli("links", "spring", "--disable", codes["a49"][::-1], ok=False)
check(p.returncode == 1 and "is not a link of spring" in p.stderr, f"disabling a stranger: {p.stderr}")
r("HSET", "ag:link:Expired01", "c", "spring", "to", TARGET, "ref", "old", "state", "active", "exp", "1000")
r("ZADD", "ag:links", 1, "Expired01")

# ---- a link made while it runs: at once by pub/sub; written behind its back: one refresh period
one = cli("link", "spring", "--to", "https://example.org/new", "--ref", "zed", "--short").stdout.strip()
check(cli("link", "spring", "--to", "https://example.org/new", "--ref", "zed", "--short").stdout.strip() == one,
      "link --short again: the same code")
t0 = time.monotonic()
wait_for(lambda: get(urllib.parse.urlsplit(one).path)[0] == 302, timeout=2, what="a new link (pub/sub)")
r("HSET", "ag:link:Behind123", "c", "spring", "to", TARGET, "ref", "quiet", "state", "active")
r("ZADD", "ag:links", 1, "Behind123")
time.sleep(2.5)     # link_refresh_s = 2, asked for by nobody meanwhile
st, _, _ = get("/s/Behind123")
check(st == 302, f"a link written without a notice resolves after one refresh: {st}")
check(get("/s/Expired01")[0] == 410, "an expired link answers 410")

# ---- Redis down: known links still redirect, their clicks are spooled, then counted
rs.stop()
down_ok = 0
for a in first[10:15]:
    st, h, _ = get("/s/" + a["code"])
    down_ok += st == 302 and location_ref(h)[1] == a["id"]
check(down_ok == 5, f"with Redis down, known links redirect: {down_ok} of 5")
wait_for(lambda: col.health().get("spooled", 0) + col.health().get("held", 0) >= 5 or
         b'"redis":"down"' in http_get(col.port, "/healthz")[2], timeout=10, what="the collector to notice")
rs.start()
r = rs.client()
wait_applied(r, timeout=60)
try:
    wait_for(lambda: sum(int(v) for v in zrange(r, "ag:c:{spring}:ref:click").values()) == 10 + 1 + 5 + 2 + 1,
             timeout=60, what="every human short-link click counted")
except AssertionError:
    print("clicks:", zrange(r, "ag:c:{spring}:ref:click"), col.logs()[-3000:], flush=True)
    raise
clicks = zrange(r, "ag:c:{spring}:ref:click")
check(all(clicks.get(a["id"]) == (2.0 if a["id"] == "a00" else 1.0) for a in first[:15]) and
      clicks.get("zed") == 1.0 and clicks.get("quiet") == 1.0 and clicks.get("a49") == 1.0,
      f"clicks by advocate, exactly (a00: the short host too): {clicks}")

# ---- a landing page's unsigned ?via=: counted apart, never on the leaderboard
def beacon(port, body):
    return http_post(port, "/b", urllib.parse.urlencode(body).encode(),
                     {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": HUMAN})[0]


check(beacon(col.port, {"c": "spring", "e": "signup", "s": "self-1", "uref": "a01"}) == 204, "unsigned signup")
check(beacon(col.port, {"c": "spring", "e": "signup", "s": "self-2", "uref": "mallory"}) == 204, "unsigned signup 2")
check(beacon(col.port, {"c": "spring", "e": "view", "s": "self-3", "uref": "Jane Doe"}) == 204, "a malformed via")
col2 = Collector(rs, extra=["--accept-unsigned-ref", "yes"])
check(beacon(col2.port, {"c": "open", "e": "signup", "s": "v-1", "uref": "ann"}) == 204, "accepted unsigned")
# a signup through a real token: the landing page of a01's link
st, h, _ = get("/s/" + codes["a01"])
tok = urllib.parse.parse_qs(urllib.parse.urlsplit(location_ref(h)[0]).query)["ag_attr"][0]
check(beacon(col.port, {"c": "spring", "e": "signup", "s": "lead-1", "at": tok, "uref": "mallory"}) == 204,
      "a signup carrying a01's token")
wait_applied(r)
unv = zrange(r, "ag:c:{spring}:ref:unverified")
board = zrange(r, "ag:c:{spring}:ref")
check(unv == {"a01": 1.0, "mallory": 1.0} and hgetall(r, "ag:c:{spring}").get("unverified") == "2",
      f"unsigned credit counted apart: {unv}")
check(board == {"a01": 1.0}, f"the leaderboard holds the verified action only: {board}")
check(zrange(r, "ag:c:{open}:ref") == {"ann": 1.0}, "accept_unsigned_ref = yes credits the advocate")
kept = [f for _, f in r.xrange_all("ag:hits:{0}") if f.get("subject") == "self-3"]
check(len(kept) == 1 and "uref" not in kept[0] and not any(f.get("reason") == "bad_ref" for _, f in
                                                           r.xrange_all("ag:rejects")),
      f"a malformed via is dropped, its hit kept: {kept}")

# ---- what the CLI shows
top = cli("top", "spring", "--json")
doc = json.loads(top.stdout)
row = [a for a in doc["advocates"] if a["ref"] == "a01"][0]
check(row["actions"] == 1 and row["clicks"] == 2, f"top: a01 with 2 clicks and 1 action: {row}")
txt = cli("top", "spring").stdout
check(txt.splitlines()[0].split() == ["RANK", "ADVOCATE", "ACTIONS", "REACH", "RATE", "CLICKS"], txt)
advj = json.loads(cli("advocate", "spring", "a01", "--json").stdout)
check(len(advj) == 1 and advj[0]["clicks"] == 2 and advj[0]["actions"] == 1 and advj[0]["signups"] == 1
      and advj[0]["people_reached"] == 1 and advj[0]["actors"] == 1,
      f"advocate spring a01: {advj}")
every = json.loads(cli("advocate", "a01", "--json").stdout)
check([c["campaign"] for c in every] == ["spring"], f"advocate a01 across campaigns: {every}")
p = cli("advocate", "a b", ok=False)
check(p.returncode == 2 and "not an advocate id" in p.stderr, f"a bad advocate id: {p.stderr}")
today = time.strftime("%Y-%m-%d", time.gmtime())
dig = cli("digest", "spring", "--day", today).stdout
parts = dig.split("\n----\n")
a01 = [d for d in parts if "a01@example.org" in d]
check(len(parts) == 51 and len(a01) == 1,
      f"one digest per advocate with an active link (the file's 50, a49 re-minted; zed): {len(parts)}")
check(f"To: Advocate 1, Esq. <a01@example.org>" in a01[0] and "2 clicks on your links, 1 action" in a01[0]
      and f"{BASE}/s/{codes['a01']} -> {TARGET}" in a01[0], f"a01's digest: {a01[0]}")
# ---- the digest by e-mail: one message per advocate with an address, headers as RFC 5322 wants
sink = SmtpSink()
p = cli("digest", "spring", "--day", today, "--send", "--smtp-url", f"smtp://127.0.0.1:{sink.port}",
        "--alert-email-from", "campaigns@example.org")
check("49 digests sent, 2 without an e-mail address, 0 failed" in p.stdout, f"digest --send: {p.stdout[-200:]}")
check(len(sink.messages) == 49, f"the inbox holds 49 digests: {len(sink.messages)}")
import email
import email.policy
msgs = {m[1][0]: email.message_from_bytes(m[2], policy=email.policy.default) for m in sink.messages}
m = msgs.get("a01@example.org")
check(m is not None and m["From"] == "campaigns@example.org" and m["To"].addresses[0].display_name ==
      "Advocate 1, Esq." and m["To"].addresses[0].addr_spec == "a01@example.org",
      f"a01's digest headers: {m and (m['From'], m['To'])}")
check(m["Message-ID"] == f"<actiongap.digest.spring.a01.{today}@example.org>" and m["Date"] is not None and
      m["Subject"] == f"spring: your links on {today}, 2 clicks and 1 action", f"a01's digest: {m['Subject']}")
check(all(l.endswith(b"\r") or not l for l in [x for x in sink.messages[0][2].split(b"\n")][:-1]),
      "CRLF lines")
check("2 clicks on your links, 1 action" in m.get_content(), "the body says the day's figures")
check(col.metric('ag_short_link_requests_total{result="unknown"}') >= 2, "unknown requests counted")
done("test_links")
