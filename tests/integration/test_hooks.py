"""Inbound hooks (POST /api/hooks/<name>) against the real collector,
aggregator and CLI: the recorded example payloads of tests/data/hooks/ (see
its README for the vendors' pages), signed with test secrets the way each
vendor signs. Counts are exact; a source's retry is counted once; a CRM
follow-up meets the signup the CRM (or the page) recorded, with the right
latency; tampered, stale, unsigned and wrongly keyed requests are refused
and change nothing; bad configuration stops the collector naming the key."""
import base64
import copy
import hashlib
import hmac
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "hooks")
BASE = "https://collect.example.org"
HS = "hubspot-app-secret-0123456789"
AN = "an-url-key-0123456789abcdef"
LM = "listmonk-secret-0123456789"
ZAP = "zapier-bearer-0123456789ab"
N8N = "n8n-hmac-secret-0123456789"
HASHKEY = "subject-hash-key-0123456789"
HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def fixture(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def subject_of(email):
    """What an e-mail subject becomes under subject_hash (SPEC 2)."""
    return hmac.new(HASHKEY.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


CONF = f"""
base_url = {BASE}
subject_hash = {HASHKEY}
hook.hubspot.source = hubspot
hook.hubspot.secret = {HS}
hook.hubspot.campaign = spring
hook.hubspot-calls.source = hubspot
hook.hubspot-calls.secret = {HS}
hook.hubspot-calls.campaign = spring
hook.hubspot-calls.event = followup
hook.an.source = actionnetwork
hook.an.secret = {AN}
hook.an.campaign = petition
hook.news.source = listmonk
hook.news.secret = {LM}
hook.news.campaign = news
hook.news.map.subscriber.updated = ignore
hook.zap.source = generic
hook.zap.auth = bearer
hook.zap.secret = {ZAP}
hook.zap.campaign = page
hook.zap.ptr.kind = /type
hook.zap.ptr.email = /contact/email
hook.zap.ptr.ts = /call/at
hook.zap.ptr.key = /call/id
hook.zap.map.call_logged = followup
hook.n8n.source = generic
hook.n8n.secret = {N8N}
hook.n8n.header = X-N8n-Signature
hook.n8n.ts_header = X-N8n-Timestamp
hook.n8n.ptr.campaign = /campaign
hook.n8n.ptr.kind = /event
hook.n8n.ptr.id = /person/id
hook.n8n.ptr.value = /amount
hook.n8n.map.gift = donate
"""

rs = RedisServer()
r = rs.client()
tmp = tempfile.mkdtemp(prefix="ag-hooks-")
conf_path = os.path.join(tmp, "actiongap.conf")
with open(conf_path, "w") as f:
    f.write(CONF)
col = Collector(rs, extra=["--config", conf_path])
agg = Aggregator(rs, name="agg-hooks", extra=["--config", conf_path])


def post(name, body, headers=None, query=""):
    """POSTs raw bytes to a hook; returns (status, parsed JSON answer)."""
    h = {"Content-Type": "application/json", **(headers or {})}
    st, _, b = http_post(col.port, f"/api/hooks/{name}{query}", body, h)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, b


def now_ms():
    return int(time.time() * 1000)


def hubspot_headers(name, body, secret=HS, ts=None):
    """X-HubSpot-Signature-v3: base64 HMAC-SHA256 of method + URI + body + timestamp."""
    ts = str(now_ms() if ts is None else ts)
    msg = ("POST" + f"{BASE}/api/hooks/{name}").encode() + body + ts.encode()
    sig = base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()
    return {"X-HubSpot-Signature-v3": sig, "X-HubSpot-Request-Timestamp": ts}


def listmonk_headers(body, delivery, secret=LM, ts=None):
    """X-Listmonk-Signature: sha256=<hex HMAC-SHA256 of "<ts>.<body>">."""
    ts = str(int(time.time()) if ts is None else ts)
    sig = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Listmonk-Signature": "sha256=" + sig, "X-Listmonk-Timestamp": ts,
            "X-Listmonk-Delivery": str(delivery), "X-Listmonk-Event": "subscriber.created"}


def rejects():
    return [f for _, f in r.xrange_all("ag:rejects")]


# ---- HubSpot: 50 contacts created two minutes ago, one signed array
t_created = now_ms() - 120000
tmpl = fixture("hubspot_contact_creation.json")[0]
events = []
for i in range(50):
    e = copy.deepcopy(tmpl)
    e.update(eventId=9000 + i, objectId=5000 + i, occurredAt=t_created)
    events.append(e)
body = json.dumps(events).encode()
st, ans = post("hubspot", body, hubspot_headers("hubspot", body))
check(st == 202 and ans["accepted"] == 50 and ans["rejected"] == 0, f"hubspot: 50 accepted: {st} {ans}")
# HubSpot's retry of the same events (a new request timestamp): accepted, counted once
st, ans = post("hubspot", body, hubspot_headers("hubspot", body))
check(st == 202 and ans["accepted"] == 50, f"hubspot retry answered 202: {st} {ans}")

# refused: stale, tampered, wrong secret, unsigned, signed for another URL
stale = hubspot_headers("hubspot", body, ts=now_ms() - 301000)
st, ans = post("hubspot", body, stale)
check(st == 401 and "window" in ans["error"], f"stale timestamp: {st} {ans}")
tampered = body.replace(b'"objectId": 5000,', b'"objectId": 6000,')
check(tampered != body, "the tampered body differs")
st, ans = post("hubspot", tampered, hubspot_headers("hubspot", body))
check(st == 401 and ans["error"] == "bad signature", f"tampered body: {st} {ans}")
st, ans = post("hubspot", body, hubspot_headers("hubspot", body, secret="not-the-secret-0123456"))
check(st == 401, f"wrong secret: {st} {ans}")
st, ans = post("hubspot", body, {})
check(st == 401 and ans["error"] == "missing signature", f"unsigned: {st} {ans}")
st, ans = post("hubspot-calls", body, hubspot_headers("hubspot", body))
check(st == 401, f"signed for another hook's URL: {st} {ans}")

# ---- HubSpot workflow "call logged" for ten of them: follow-ups, one request each
wf = fixture("hubspot_workflow_call.json")
for i in range(10):
    w = copy.deepcopy(wf)
    w["vid"] = w["canonical-vid"] = 5000 + i
    b = json.dumps(w).encode()
    st, ans = post("hubspot-calls", b, hubspot_headers("hubspot-calls", b))
    check(st == 202 and ans["accepted"] == 1, f"workflow call {i}: {st} {ans}")
    if i == 0:      # the workflow retried: the same body again
        st, ans = post("hubspot-calls", b, hubspot_headers("hubspot-calls", b))
        check(st == 202 and ans["accepted"] == 1, f"workflow retry: {st} {ans}")
t_called = now_ms()

# ---- Action Network: a signature credited to an advocate, a donation, an unmapped action
an = fixture("actionnetwork_signature.json") + fixture("actionnetwork_donation.json")
an[0]["osdi:signature"]["created_date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30))
an[1]["osdi:donation"]["created_date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 20))
an.append({"action_network:action": {"created_date": "2014-03-18T22:25:31Z",
                                      "person": {"email_addresses": [{"address": "x@example.org"}]}},
           "idempotency_key": "act-1"})
anb = json.dumps(an).encode()
st, ans = post("an", anb, query=f"?key={AN}")
check(st == 202 and ans["accepted"] == 2 and ans["rejected"] == 1 and ans["errors"][0]["index"] == 2
      and ans["errors"][0]["reason"] == "unmapped_event", f"action network: {st} {ans}")
st, ans = post("an", anb, query=f"?key={AN}")       # Action Network retries: counted once
check(st == 202 and ans["accepted"] == 2, f"action network retry: {st} {ans}")
st, ans = post("an", anb)
check(st == 401 and ans["error"] == "missing signature", f"action network without its key: {st} {ans}")
st, ans = post("an", anb, query="?key=wrong-key-0123456789abcd")
check(st == 401 and ans["error"] == "bad signature", f"action network with a wrong key: {st} {ans}")

# ---- listmonk: a new subscriber, its redelivery, an ignored update, refusals
lm = fixture("listmonk_subscriber_created.json")
lm["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
lmb = json.dumps(lm).encode()
st, ans = post("news", lmb, listmonk_headers(lmb, 77))
check(st == 202 and ans["accepted"] == 1, f"listmonk: {st} {ans}")
st, ans = post("news", lmb, listmonk_headers(lmb, 77))
check(st == 202 and ans["accepted"] == 1, f"listmonk redelivery: {st} {ans}")
upd = dict(lm, event="subscriber.updated")
updb = json.dumps(upd).encode()
st, ans = post("news", updb, listmonk_headers(updb, 78))
check(st == 202 and ans == {"accepted": 0, "rejected": 0, "ignored": 1, "errors": []}, f"ignored: {ans}")
st, ans = post("news", lmb, listmonk_headers(lmb, 79, ts=int(time.time()) - 400))
check(st == 401 and "window" in ans["error"], f"listmonk stale: {st} {ans}")
hdr = listmonk_headers(lmb, 80)
hdr["X-Listmonk-Signature"] = "sha256=" + "0" * 64
st, ans = post("news", lmb, hdr)
check(st == 401 and ans["error"] == "bad signature", f"listmonk bad signature: {st} {ans}")

# ---- the page records a signup; a Zapier step logs the call: latency across both
ann = subject_of("ann@example.org")
conn = Conn(col.port)
st, _, _ = conn.request("GET", f"/p.gif?c=page&e=signup&s={ann}", headers={"User-Agent": HUMAN})
check(st == 200, "page signup")
t_page = now_ms()
time.sleep(1.5)
zap = fixture("generic_zapier_call.json")
now = time.time()
zap["call"]["at"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
zb = json.dumps(zap).encode()
st, ans = post("zap", zb, {"Authorization": "Bearer wrong-token-0123456789"})
check(st == 401, f"zapier with a wrong token: {st} {ans}")
st, ans = post("zap", zb, {"Authorization": f"Bearer {ZAP}"})
check(st == 202 and ans["accepted"] == 1, f"zapier call: {st} {ans}")
t_zap = now_ms()
st, ans = post("zap", zb, {"Authorization": f"Bearer {ZAP}"})     # Zapier replays the step
check(st == 202 and ans["accepted"] == 1, f"zapier replay: {st} {ans}")

old = fixture("generic_zapier_call.json")     # its own time is 2025: a replay past the 24 h window
st, ans = post("zap", json.dumps(old).encode(), {"Authorization": f"Bearer {ZAP}"})
check(st == 202 and ans["accepted"] == 0 and ans["errors"][0]["reason"] == "stale_item",
      f"an item over 24 h old is refused: {st} {ans}")

# ---- n8n: HMAC over "<ts>.<body>", campaign and amount from the payload
n8 = {"event": "gift", "campaign": "winter", "person": {"id": "p-77"}, "amount": 12.5}
nb = json.dumps(n8).encode()
ts = str(int(time.time()))
sig = hmac.new(N8N.encode(), ts.encode() + b"." + nb, hashlib.sha256).hexdigest()
st, ans = post("n8n", nb, {"X-N8n-Signature": sig, "X-N8n-Timestamp": ts})
check(st == 202 and ans["accepted"] == 1, f"n8n: {st} {ans}")
st, ans = post("n8n", nb + b" ", {"X-N8n-Signature": sig, "X-N8n-Timestamp": ts})
check(st == 401, f"n8n body changed after signing: {st} {ans}")

# ---- shape errors and routing
st, ans = post("nosuch", b"{}")
check(st == 404 and ans["error"] == "no such hook", f"unknown hook: {st} {ans}")
st, _, _ = http_get(col.port, "/api/hooks/zap")
check(st == 405, f"GET on a hook: {st}")
st, ans = post("zap", b"[1,2", {"Authorization": f"Bearer {ZAP}"})
check(st == 400, f"bad JSON: {st} {ans}")

# ---- what was counted
wait_applied(r)
spring = hgetall(r, "ag:c:{spring}")
check(spring.get("signup") == "50" and spring.get("followup") == "10",
      f"spring: 50 signups, 10 follow-ups, once each: {spring}")
check(spring.get("dup") == "51", f"spring: 50 + 1 retried items counted as duplicates: {spring.get('dup')}")
fl = hgetall(r, "ag:c:{spring}:fl")
mean_s = int(fl["sum_ms"]) / int(fl["count"]) / 1000
hi_s = (t_called - t_created) / 1000 + 1
check(fl.get("count") == "10" and 120 <= mean_s <= hi_s,
      f"spring: ten latencies measured from the CRM's creation time (120..{hi_s:.1f} s): {fl}")
pet = hgetall(r, "ag:c:{petition}")
check(pet.get("signup") == "1" and pet.get("donate") == "1" and pet.get("value") == "2500",
      f"petition: a signature, a 25.00 donation: {pet}")
check(zrange(r, "ag:c:{petition}:ref") == {"ann": 1.0},
      f"petition: the signature credited to the referrer ann: {zrange(r, 'ag:c:{petition}:ref')}")
news = hgetall(r, "ag:c:{news}")
check(news.get("signup") == "1", f"news: one subscriber, once: {news}")
page = hgetall(r, "ag:c:{page}")
check(page.get("signup") == "1" and page.get("followup") == "1", f"page: signup and follow-up: {page}")
pfl = hgetall(r, "ag:c:{page}:fl")
lat = int(pfl.get("sum_ms", "0")) / 1000
check(pfl.get("count") == "1" and 1.4 <= lat <= (t_zap - t_page) / 1000 + 1.5,
      f"page: the CRM's follow-up met the page's signup (hashed e-mail), latency {lat} s: {pfl}")
win = hgetall(r, "ag:c:{winter}")
check(win.get("donate") == "1" and win.get("value") == "1250", f"winter: 12.50 from n8n: {win}")
rj = [f for f in rejects() if f.get("reason") == "unmapped_event"]
check(len(rj) == 2, f"the unmapped item recorded in ag:rejects once per request: {len(rj)}")

# ---- the CLI shows the CRM's signups and follow-up latency
out = subprocess.run([CLI, "--redis", rs.url(), "stats", "spring"], capture_output=True, text=True, timeout=30)
check(out.returncode == 0 and "50" in out.stdout, f"actiongap stats spring: {out.stdout}{out.stderr}")

# ---- metrics
check(col.metric('ag_hook_requests_total{hook="hubspot",auth="ok"}') == 2, "metrics: two good hubspot requests")
check(col.metric('ag_hook_requests_total{hook="hubspot",auth="stale"}') == 1, "metrics: one stale")
check(col.metric('ag_hook_items_total{hook="news",result="ignored"}') == 1, "metrics: one ignored item")
check("hook: request refused" in col.logs(), "a refused request logs one line")

# ---- bad configuration stops the collector with one line naming the key
for extra, key in ((["--hook.crm.source", "hubspot", "--hook.crm.campaign", "c"], "hook.crm.secret"),
                   (["--hook.crm.source", "salesforce"], "hook.crm.source"),
                   (["--hook.crm.source", "generic", "--hook.crm.secret", "x" * 20, "--hook.crm.campaign", "c",
                     "--hook.crm.ptr.kind", "/k"], "hook.crm.ptr.id"),
                   (["--hook.crm.map.x", "Bad Event"], "hook.crm.map.x")):
    p = subprocess.run([COLLECTOR, "--listen", f"127.0.0.1:{free_port()}", "--redis", rs.url(), *extra],
                       capture_output=True, text=True, timeout=30)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check(p.returncode != 0 and len(lines) == 1 and key in lines[0], f"bad config {extra}: {p.returncode} {p.stderr!r}")
done("test_hooks")
