"""Beacon (form, JSON object, JSON array, CORS, 413/400/415), tracked links
(signed, tampered, unsigned, open-redirect tricks, allow-list) and the API
(bearer token, followup only through it)."""
import base64, hashlib, hmac, json, sys, os
from urllib.parse import quote
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

CHROME = ("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")


def enc(s):
    return quote(s, safe="-._~")


def sign(params):
    """Signs a list of (name, value) pairs per SPEC 6, independently of the C code."""
    canon = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params))
    mac = hmac.new(SIGNING_KEY.encode(), canon.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def query(params):
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in params)


rs = RedisServer()
r = rs.client()
col = Collector(rs, extra=["--cors-allow", "https://www.example.org"])
H = {"User-Agent": CHROME}
expected_hits = 0


def hits():
    return r.xrange_all("ag:hits:{0}")


def wait_hits(n):
    return wait_for(lambda: (lambda e: e if len(e) == n else None)(hits()), what=f"{n} hits")


# ---------------------------------------------------------------- beacon
st, hd, _ = http_post(col.port, "/b", b"c=spring&e=view&s=f1",
                      {**H, "Content-Type": "application/x-www-form-urlencoded"})
check(st == 204, f"form beacon -> {st}")
expected_hits += 1
st, _, _ = http_post(col.port, "/b", json.dumps({"c": "spring", "e": "scroll", "d": 50}).encode(),
                     {**H, "Content-Type": "text/plain;charset=UTF-8"})
check(st == 204, f"JSON object beacon -> {st}")
expected_hits += 1
batch = [{"c": "spring", "e": "click", "s": f"b{i}", "n": f"n{i}"} for i in range(100)]
st, _, _ = http_post(col.port, "/b", json.dumps(batch).encode(), {**H, "Content-Type": "application/json"})
check(st == 204, f"JSON array of 100 -> {st}")
expected_hits += 100
e = wait_hits(expected_hits)
check(e[0][1].get("via") == "beacon" and e[0][1].get("subject") == "f1", "form beacon stored")
check(e[1][1].get("depth") == "50", "JSON numbers accepted")
check([x[1].get("nonce") for x in e[2:]] == [f"n{i}" for i in range(100)], "batch stored in order")

st, _, _ = http_post(col.port, "/b", json.dumps(batch + [batch[0]]).encode(), {**H, "Content-Type": "application/json"})
check(st == 400, f"batch of 101 -> {st}")
st, _, _ = http_post(col.port, "/b", b'{"c": "spring", ', {**H, "Content-Type": "application/json"})
check(st == 400, f"malformed JSON -> {st}")
st, _, _ = http_post(col.port, "/b", b'[1,2]', {**H, "Content-Type": "application/json"})
check(st == 400, f"array of non-objects -> {st}")
st, _, _ = http_post(col.port, "/b", b"c=x", {**H, "Content-Type": "multipart/form-data; boundary=x"})
check(st == 415, f"unsupported content type -> {st}")
st, hd, _ = http_post(col.port, "/b", b"c=" + b"a" * (70 * 1024), {**H, "Content-Type": "application/x-www-form-urlencoded"})
check(st == 413, f"70 KiB body -> {st}")
st, _, _ = http_post(col.port, "/b", json.dumps({"c": "spring", "e": "followup", "s": "x"}).encode(),
                     {**H, "Content-Type": "application/json"})
check(st == 204, f"followup beacon answered {st} (and rejected)")

c = Conn(col.port)
st, hd, _ = c.request("OPTIONS", "/b", headers={"Origin": "https://www.example.org",
                                                "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type"})
check(st == 204, f"preflight -> {st}")
check(hd.get("access-control-allow-origin") == "https://www.example.org", f"ACAO {hd}")
check("POST" in hd.get("access-control-allow-methods", ""), "ACAM")
st, hd, _ = c.request("OPTIONS", "/b", headers={"Origin": "https://evil.example"})
check(st == 204 and "access-control-allow-origin" not in hd, f"foreign origin not allowed {hd}")
st, hd, _ = c.request("GET", "/b")
check(st == 405, f"GET /b -> {st}")
c.close()
# cors_allow guards the beacon itself (beacons ignore CORS answers): a foreign
# Origin is refused with 403 and recorded as origin_not_allowed, counted nowhere
before = r("XLEN", "ag:hits:{0}")
rej_before = r("XLEN", "ag:rejects")
st, _, _ = http_post(col.port, "/b", b"c=spring&e=view&s=evil-1",
                     {**H, "Content-Type": "application/x-www-form-urlencoded",
                      "Origin": "https://evil.example"})
check(st == 403, f"beacon from a foreign origin -> {st}")
wait_for(lambda: r("XLEN", "ag:rejects") == rej_before + 1, what="the origin reject recorded")
last = r("XREVRANGE", "ag:rejects", "+", "-", "COUNT", 1)[0][1]
fields = {last[i].decode(): last[i + 1].decode() for i in range(0, len(last), 2)}
check(fields.get("reason") == "origin_not_allowed", f"reject reason {fields.get('reason')}")
check(col.metric('ag_rejects_total{reason="origin_not_allowed"}') == 1, "origin reject counted")
st, _, _ = http_post(col.port, "/b", b"c=spring&e=view&s=ok-1",
                     {**H, "Content-Type": "application/x-www-form-urlencoded",
                      "Origin": "https://www.example.org"})
check(st == 204, f"beacon from an allowed origin -> {st}")
expected_hits += 1
wait_hits(expected_hits)
check(r("XLEN", "ag:hits:{0}") == before + 1, "only the allowed beacon is in the stream")

# ---------------------------------------------------------------- the snippet
import gzip
st, hd, js = http_get(col.port, "/ag.js")
etag = hd.get("etag", "")
check(st == 200 and hd.get("content-type", "").startswith("application/javascript"), f"/ag.js -> {st}")
check(len(js) < 2048 and b"sendBeacon" in js and b"ag_attr" in js, f"/ag.js is {len(js)} bytes")
check(etag.startswith('"') and hd.get("access-control-allow-origin") == "*" and
      "max-age" in hd.get("cache-control", ""), f"/ag.js headers {hd}")
st, hd2, _ = http_get(col.port, "/ag.js", {"If-None-Match": etag})
check(st == 304 and hd2.get("etag") == etag, f"If-None-Match {etag} -> {st}")
st, hd2, _ = http_get(col.port, "/ag.js", {"If-None-Match": '"stale"'})
check(st == 200, f"a stale ETag gets the script: {st}")
st, hd2, gz = http_get(col.port, "/ag.js", {"Accept-Encoding": "br, gzip;q=0.9"})
check(st == 200 and hd2.get("content-encoding") == "gzip" and gzip.decompress(gz) == js
      and len(gz) < len(js), f"gzip when accepted: {hd2.get('content-encoding')} {len(gz)} bytes")
check("accept-encoding" in hd2.get("vary", "").lower(), "Vary: Accept-Encoding")

# ---------------------------------------------------------------- tracked links
to = "https://www.example.org/donate?x=1&y=2"
p = [("c", "spring"), ("s", "contact-9"), ("ref", "ann"), ("to", to)]
sig = sign(p)
st, hd, _ = http_get(col.port, "/r?" + query(p + [("sig", sig)]), H)
loc = hd.get("location", "")
check(st == 302 and loc.startswith(to + "&ag_attr="), f"signed link -> {st} {loc}")
token = loc[len(to + "&ag_attr="):]
check(hd.get("cache-control", "").startswith("no-store"), "redirect not cached")
expected_hits += 1
e = wait_hits(expected_hits)
check(e[-1][1].get("event") == "click" and e[-1][1].get("via") == "click", f"click stored {e[-1][1]}")
# the landing page's signup carries the token: credited to ann, for contact-9
st, _, _ = http_post(col.port, "/b", f"c=spring&e=signup&at={token}".encode(),
                     {**H, "Content-Type": "application/x-www-form-urlencoded"})
expected_hits += 1
e = wait_hits(expected_hits)
check(st == 204 and e[-1][1].get("ref") == "ann" and e[-1][1].get("subject") == "contact-9",
      f"attribution carried through the click: {e[-1][1]}")
# a hand-edited token (another advocate's payload, ann's signature) credits nobody
import base64
forged_payload = base64.urlsafe_b64encode(b"c=spring&ref=mallory").rstrip(b"=").decode()
forged = forged_payload + token[token.index("."):]
st, _, _ = http_get(col.port, f"/p.gif?c=spring&e=view&s=v-77&at={forged}", H)
expected_hits += 1
e = wait_hits(expected_hits)
check(st == 200 and "ref" not in e[-1][1], f"a forged token credits nobody: {e[-1][1]}")
check(col.metric('ag_attribution_total{result="credited"}') == 1 and
      col.metric('ag_attribution_total{result="invalid"}') == 1, "attribution counted")
# a token of another campaign is not applied
st, _, _ = http_get(col.port, f"/p.gif?c=autumn&e=view&s=v-78&at={token}", H)
expected_hits += 1
e = wait_hits(expected_hits)
check("ref" not in e[-1][1] and col.metric('ag_attribution_total{result="other_campaign"}') == 1,
      f"a spring token does not credit autumn: {e[-1][1]}")
# nc=1 (signed with the link) carries nothing
p2 = [("c", "spring"), ("ref", "ann"), ("nc", "1"), ("to", to)]
st, hd, _ = http_get(col.port, "/r?" + query(p2 + [("sig", sign(p2))]), H)
check(st == 302 and hd.get("location") == to, f"nc=1 link -> {hd.get('location')}")
expected_hits += 1
wait_hits(expected_hits)

bad = [
    ("tampered signature", query([("c", "spring"), ("s", "contact-10"), ("ref", "ann"), ("to", to), ("sig", sig)])),
    ("signature replayed on another campaign", query([("c", "other"), ("s", "contact-9"), ("ref", "ann"), ("to", to), ("sig", sig)])),
    ("unsigned foreign host", query([("c", "spring"), ("to", "https://evil.example/")])),
    ("scheme-relative", query([("c", "spring"), ("to", "//evil.example/x")])),
    ("userinfo", query([("c", "spring"), ("to", "https://allowed.example@evil.example/")])),
    ("javascript:", query([("c", "spring"), ("to", "javascript:alert(1)")])),
    ("data:", query([("c", "spring"), ("to", "data:text/html,hi")])),
    ("backslash", query([("c", "spring"), ("to", "https://allowed.example\\@evil.example/")])),
    ("CRLF in to", query([("c", "spring"), ("to", "https://allowed.example/\r\nSet-Cookie: x=1")])),
    ("missing to", query([("c", "spring")])),
]
for name, q in bad:
    st, hd, _ = http_get(col.port, "/r?" + q, H)
    check(st == 400 and "location" not in hd, f"{name}: -> {st} {hd.get('location')}")

st, hd, _ = http_get(col.port, "/r?" + query([("c", "spring"), ("to", "https://allowed.example/page")]), H)
check(st == 302 and hd.get("location") == "https://allowed.example/page", f"allow-listed host -> {st}")
expected_hits += 1

# ---------------------------------------------------------------- API
fu = json.dumps({"c": "spring", "e": "followup", "s": "contact-9"}).encode()
st, _, _ = http_post(col.port, "/api/hits", fu, {"Content-Type": "application/json"})
check(st == 401, f"API without token -> {st}")
st, _, _ = http_post(col.port, "/api/hits", fu, {"Content-Type": "application/json",
                                                 "Authorization": "Bearer wrong-token"})
check(st == 401, f"API with a wrong token -> {st}")
st, _, body = http_post(col.port, "/api/hits", fu, {"Content-Type": "application/json",
                                                    "Authorization": f"Bearer {API_TOKEN}"})
check(st == 202, f"API followup -> {st} {body}")
check(json.loads(body) == {"accepted": 1, "rejected": 0, "errors": []}, f"API body {body}")
expected_hits += 1
st, _, body = http_post(col.port, "/api/hits", json.dumps([{"c": "spring", "e": "signup", "s": "q"},
                                                          {"c": "bad}"}]).encode(),
                        {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
check(st == 202 and json.loads(body)["errors"] == [{"index": 1, "reason": "bad_campaign"}], f"mixed batch {body}")
expected_hits += 1
st, _, body = http_post(col.port, "/api/hits", b"c=bad}", {"Content-Type": "application/x-www-form-urlencoded",
                                                          "Authorization": f"Bearer {API_TOKEN}"})
check(st == 400, f"API with nothing valid -> {st}")

e = wait_hits(expected_hits)
fus = [x[1] for x in e if x[1].get("event") == "followup"]
check(len(fus) == 1 and fus[0].get("via") == "api" and fus[0].get("agent") == "human",
      f"exactly one followup, through the API: {fus}")
reasons = [x[1].get("reason") for x in r.xrange_all("ag:rejects")]
check(reasons.count("followup_forbidden") == 1, f"followup beacon rejected: {reasons}")
check("bad_signature" in reasons and "bad_to" in reasons, f"link rejects recorded: {reasons}")
check(col.stop() == 0, "collector exits 0")
print(f"endpoints: expected {expected_hits} hits, found {len(hits())}; rejects {len(reasons)}")
done("test_coll_endpoints")
