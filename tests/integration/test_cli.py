"""The `actiongap` command against a private redis-server filled as the
aggregator would: every stats value recomputed here independently, tables,
followup hits, link signatures (recomputed with hmac), alerts and
alerts --follow, pending, top, campaigns, exit statuses."""
import base64
import hashlib
import hmac
import json
import queue
import re
import signal
import subprocess
import sys
import os
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from cluster import crc16  # noqa: E402  (the one CRC16 of the tests)

if not CLI or not os.access(CLI, os.X_OK):
    print("AG_CLI does not name the actiongap binary", flush=True)
    sys.exit(1)

rs = RedisServer()
r = rs.client()
NOW = int(time.time() * 1000)
C = "spring"
K = "ag:c:{spring}"


def run(*args, redis=None, timeout=30):
    """Runs the CLI against rs; returns (rc, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AG_")}
    p = subprocess.run([CLI, "--redis", redis or rs.url(), *args], capture_output=True,
                       text=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    rc, out, err = run(*args)
    check(rc == 0, f"{args}: rc {rc}, stderr {err!r}")
    try:
        return json.loads(out)
    except ValueError:
        check(False, f"{args}: not one JSON document: {out!r}")
        return {}


def close(a, b, eps=1e-9):
    return a is not None and b is not None and abs(a - b) <= eps




# ------------------------------------------------------------------ fixture

counters = {"open": 120, "machine_open": 30, "view": 50, "click": 40, "signup": 8,
            "donate": 3, "value": 7500, "convert": 1, "petition": 2, "dup": 4,
            "followup": 6, "machine_view": 5, "scroll": 70, "anonymous": 3,
            "first_ts": NOW - 86400000, "last_ts": NOW - 180000}
r("HSET", K, *[x for kv in counters.items() for x in kv])
r("PFADD", K + ":u:open", *[f"s{i}" for i in range(1, 41)])      # s1..s40
r("PFADD", K + ":u:view", *[f"s{i}" for i in range(30, 56)])     # s30..s55
r("PFADD", K + ":u:click", *[f"s{i}" for i in range(50, 61)])    # s50..s60
r("PFADD", K + ":u:signup", *[f"s{i}" for i in range(1, 9)])     # s1..s8, reached already
r("PFADD", K + ":u:donate", "s70", "s71", "s72")                  # acted without a reach hit
r("PFADD", K + ":u:convert", "s5")
r("PFADD", K + ":u:petition", "s9", "s10")                        # a custom action
REACH = 63              # s1..s60 and the three donors: a person who acted was reached
ACTORS = 13             # s1..s8, s70..s72, s9, s10
CLICKERS, VIEWERS = 11, 26
for depth, n in ((25, 20), (50, 15), (75, 10), (100, 5)):         # viewers s30.. who scrolled
    r("PFADD", K + f":scroll:{depth}", *[f"s{i}" for i in range(30, 30 + n)])
FL = {"count": 10, "sum_ms": 12345000, "max_ms": 7200000, "le_60s": 1, "le_300s": 3,
      "le_900s": 6, "le_3600s": 8, "le_14400s": 10, "le_86400s": 10, "le_inf": 10,
      "unmatched": 2}
r("HSET", K + ":fl", *[x for kv in FL.items() for x in kv])
PENDING = [("pa", NOW - 3600000), ("pb", NOW - 1200000), ("pc", NOW - 60000), ("pd", NOW - 5000)]
for s, ts in PENDING:
    r("ZADD", K + ":pending", ts, s)
r("HSET", K + ":cfg", "followup_sla_s", 900, "name", "Spring appeal")
r("ZADD", K + ":ref", 5, "ann", 3, "bob", 3, "cat", 1, "fay", 1, "gus", 1, "hal")
r("ZADD", K + ":ref:reach", 20, "ann", 10, "bob", 15, "cat", 7, "eve")
r("ZADD", "ag:campaigns", NOW - 180000, "spring", NOW - 10000, "autumn",
  NOW - 2 * 86400000, "winter")


def quantile(q):
    """histogram_quantile over the cumulative buckets, capped at max_ms."""
    bounds = [60, 300, 900, 3600, 14400, 86400]
    names = ["le_60s", "le_300s", "le_900s", "le_3600s", "le_14400s", "le_86400s", "le_inf"]
    cum = [FL[n] for n in names]
    max_s = FL["max_ms"] / 1000
    rank = q * cum[-1]
    lower, prev = 0.0, 0
    for i, c in enumerate(cum):
        upper = bounds[i] if i < 6 else max(max_s, 86400)
        if c >= rank and c > prev:
            return min(lower + (upper - lower) * (rank - prev) / (c - prev), max_s)
        lower, prev = upper, c
    return None


# ------------------------------------------------------------------ stats --json

st = run_json("stats", C, "--json")
actions = 8 + 3 + 1 + 2
sla = 900
overdue = sum(1 for _, ts in PENDING if NOW - ts > sla * 1000)
want = {"campaign": C, "reach": REACH, "actors": ACTORS, "clickers": CLICKERS,
        "viewers": VIEWERS, "anonymous": 3, "opens": 120, "machine_opens": 30, "views": 50,
        "clicks": 40, "signups": 8, "conversions": 1, "actions": actions, "pending": 4,
        "overdue": overdue, "duplicates": 4, "clamped": []}
for k, v in want.items():
    check(st.get(k) == v, f"stats {k}: want {v!r}, got {st.get(k)!r}")
check(r("PFCOUNT", *[K + ":u:" + e for e in ("open", "view", "click", "signup", "donate",
                                              "convert", "petition")]) == REACH, "HLL union is exact")
check(overdue == 2, f"fixture: 2 overdue, computed {overdue}")
check(st.get("donations") == {"count": 3, "value_cents": 7500}, f"donations {st.get('donations')}")
check(close(st.get("click_rate"), CLICKERS / REACH), f"click_rate {st.get('click_rate')}")
check(close(st.get("conversion_rate"), ACTORS / REACH), f"conversion_rate {st.get('conversion_rate')}")
check(close(st.get("action_gap"), 1 - ACTORS / REACH), f"action_gap {st.get('action_gap')}")
check(st.get("scroll") == {"25": 20, "50": 15, "75": 10, "100": 5}, f"scroll {st.get('scroll')}")
check(all(close(st.get("scroll_rate", {}).get(str(d)), n / VIEWERS)
          for d, n in ((25, 20), (50, 15), (75, 10), (100, 5))), f"scroll_rate {st.get('scroll_rate')}")
fl = st.get("followup", {})
p50, p90 = quantile(0.5), quantile(0.9)
check(close(p50, 700.0), f"fixture p50 = 300 + 600*2/3 = 700, computed {p50}")
check(close(p90, 7200.0), f"fixture p90 capped at max 7200, computed {p90}")
check(fl.get("count") == 10 and fl.get("unmatched") == 2 and fl.get("estimated") is True,
      f"followup {fl}")
check(close(fl.get("p50_s"), p50, 1e-6), f"p50_s {fl.get('p50_s')} want {p50}")
check(close(fl.get("p90_s"), p90, 1e-6), f"p90_s {fl.get('p90_s')} want {p90}")
check(close(fl.get("max_s"), 7200.0), f"max_s {fl.get('max_s')}")
check([a.get("ref") for a in st.get("top_advocates", [])] == ["ann", "cat", "bob", "fay", "gus"],
      f"top advocates ranked by actions then reach: {st.get('top_advocates')}")
check(st.get("top_advocates", [{}])[0] == {"ref": "ann", "actions": 5, "reach": 20, "clicks": 0},
      f"first advocate {st.get('top_advocates', [{}])[0]}")
raw = r("HGETALL", K)
hash_ints = {raw[i].decode(): int(raw[i + 1]) for i in range(0, len(raw), 2)}
check(st.get("counters") == hash_ints, f"counters == HGETALL: {st.get('counters')} vs {hash_ints}")

# a rate that would leave [0, 1] is clamped and says so: 3 scrolled, 1 viewed
KC = "ag:c:{clampy}"
r("PFADD", KC + ":u:view", "v1")
r("PFADD", KC + ":scroll:25", "v1", "v2", "v3")
sc = run_json("stats", "clampy", "--json")
check(sc.get("scroll", {}).get("25") == 3 and sc.get("scroll_rate", {}).get("25") == 1
      and sc.get("clamped") == ["scroll_rate"], f"clamped scroll rate: {sc.get('scroll_rate')} {sc.get('clamped')}")

# the campaign's cfg SLA wins over the configured default; without cfg the default applies
st2 = json.loads(run("--followup-sla-s", "30", "stats", C, "--json")[1] or "{}")
check(st2.get("overdue") == 2 and st2.get("sla_s") == 900, f"cfg SLA wins: {st2.get('overdue')}")
r("HDEL", K + ":cfg", "followup_sla_s")
st2 = json.loads(run("--followup-sla-s", "30", "stats", C, "--json")[1] or "{}")
check(st2.get("overdue") == 3 and st2.get("sla_s") == 30, f"default SLA 30 s: {st2.get('overdue')}")
r("HSET", K + ":cfg", "followup_sla_s", 900)

# ------------------------------------------------------------------ stats table

rc, out, err = run("stats", C)
check(rc == 0 and err == "", f"stats table rc {rc} err {err!r}")
lines = out.splitlines()


def line_of(label):
    return next((l for l in lines if l.startswith(label + " ")), "")


check(line_of("reach").split()[1:2] == ["63"], f"reach line {line_of('reach')!r}")
check(line_of("machine opens").split()[2:3] == ["30"], f"machine opens {line_of('machine opens')!r}")
check("17.5%" in line_of("click rate"), f"click rate line {line_of('click rate')!r}")
check("3 (value 75.00)" in line_of("donations"), f"donations line {line_of('donations')!r}")
check(line_of("actions").split()[1:2] == ["14"], f"actions line {line_of('actions')!r}")
check(line_of("actors").split()[1:2] == ["13"], f"actors line {line_of('actors')!r}")
check("20.6%" in line_of("conversion rate"), f"conversion rate {line_of('conversion rate')!r}")
check("79.4%" in line_of("action gap"), f"action gap line {line_of('action gap')!r}")
check(line_of("anonymous").split()[1:2] == ["3"], f"anonymous line {line_of('anonymous')!r}")
check("25%: 76.9%" in line_of("scroll depth") and "100%: 19.2%" in line_of("scroll depth")
      and "of 26 viewers" in line_of("scroll depth"), f"scroll line {line_of('scroll depth')!r}")
fl_line = line_of("follow-ups")
check("p50 11m40s" in fl_line and "p90 2h00m" in fl_line and "max 2h00m" in fl_line
      and "(estimated from buckets)" in fl_line, f"follow-up line {fl_line!r}")
check(line_of("overdue").split()[1:2] == ["2"], f"overdue line {line_of('overdue')!r}")
check(line_of("duplicates").split()[1:2] == ["4"], f"duplicates line {line_of('duplicates')!r}")
check(any("ann" in l and "5 actions" in l for l in lines), "top advocates in the table")

# unknown campaign: zeros and "-" rates
z = run_json("stats", "nobody", "--json")
check(z.get("reach") == 0 and z.get("actions") == 0 and z.get("counters") == {},
      f"unknown campaign zeros: {z}")
check(z.get("click_rate") is None and z.get("conversion_rate") is None
      and z.get("action_gap") is None, "zero reach: rates null")
check(z.get("followup", {}).get("p50_s") is None, "no follow-ups: p50 null")
rc, out, _ = run("stats", "nobody")
check(rc == 0 and "click rate        -" in out, f"zero reach table shows '-': {out!r}")

# --prefix
r("HSET", "t:c:{spring}", "open", 7)
check(json.loads(run("--prefix", "t:", "stats", C, "--json")[1] or "{}").get("opens") == 7,
      "--prefix t: reads t:c:{spring}")

# ------------------------------------------------------------------ usage and errors

keys_before = sorted(r("KEYS", "*"))
for args in (["stats", "bad!id"], ["stats", "x" * 65], ["top", "a{b}"], ["pending", "a b"],
             ["followup", "bad/c", "subj"], ["stats", ""]):
    rc, out, err = run(*args)
    check(rc == 2, f"{args}: invalid campaign exits 2, got {rc}")
    check(len(err.strip().splitlines()) == 1 and "campaign" in err, f"{args}: one clear line {err!r}")
check(sorted(r("KEYS", "*")) == keys_before, "invalid input touched no key")
for args in (["frobnicate"], [], ["stats"], ["stats", C, "--bogus"], ["followup", C],
             ["top", C, "--limit", "x"], ["stats", C, "extra"]):
    rc, out, err = run(*args)
    check(rc == 2 and "usage" in err, f"{args}: bad usage exits 2 with usage, got {rc} {err!r}")
for args in (["--help"], ["help"]):
    rc, out, err = run(*args)
    check(rc == 0 and out.startswith("usage:") and "followup" in out, f"{args}: usage on stdout")
rc, out, err = run("followup", C, "x" * 129)
check(rc == 2 and "subject" in err, f"over-long subject exits 2: {rc} {err!r}")

dead = free_port()
for args in (["stats", C], ["campaigns"], ["followup", C, "s1"], ["alerts"]):
    rc, out, err = run(*args, redis=f"redis://127.0.0.1:{dead}/0")
    check(rc == 1, f"{args} with Redis down: rc {rc}")
    check(len(err.splitlines()) == 1 and f"cannot reach Redis at 127.0.0.1:{dead}" in err,
          f"{args}: one clear line, got {err!r}")
    check(out == "", f"{args}: nothing on stdout")

# ------------------------------------------------------------------ followup

rc, out, err = run("followup", C, "contact 42")
entries = r.xrange_all("ag:hits:{0}")
check(rc == 0 and err == "", f"followup rc {rc} err {err!r}")
check(len(entries) == 1, f"followup appends exactly one entry, found {len(entries)}")
if entries:
    eid, f = entries[0]
    check(out.strip() == f"followup recorded for contact 42 in {C} (entry {eid})", f"output {out!r}")
    for k, v in {"event": "followup", "via": "api", "agent": "human", "subject": "contact 42",
                 "campaign": C}.items():
        check(f.get(k) == v, f"followup field {k}: {f.get(k)!r}")
    check(f.get("hid", "").startswith("cli.") and len(f.get("hid", "")) == len("cli.12345678-1"),
          f"hid {f.get('hid')!r}")
    check(abs(int(f.get("ts", "0")) - int(time.time() * 1000)) < 10000, f"ts {f.get('ts')}")
# partitions: the campaign's stream is ag:hits:{crc16(C) mod N}
part = crc16(b"autumn") % 8
rc, out, err = run("--partitions", "8", "followup", "autumn", "s9", "--json")
got = r.xrange_all(f"ag:hits:{{{part}}}")
check(rc == 0 and len(got) == 1 and got[0][1].get("campaign") == "autumn",
      f"--partitions 8 writes ag:hits:{{{part}}}: rc {rc} {got}")
check(json.loads(out or "{}").get("entry") == (got[0][0] if got else None), f"followup --json {out!r}")

# ------------------------------------------------------------------ link


def verify_link(url, key):
    """Recomputes the signature of a link's query; returns (path, params, ok)."""
    u = urllib.parse.urlsplit(url)
    pairs = [p.split("=", 1) for p in u.query.split("&")]
    params = [(urllib.parse.unquote(n), urllib.parse.unquote(v)) for n, v in pairs]
    sig = dict(params).get("sig")
    canon = "&".join(urllib.parse.quote(n, safe="") + "=" + urllib.parse.quote(v, safe="")
                     for n, v in sorted(p for p in params if p[0] != "sig"))
    mac = hmac.new(key.encode(), canon.encode(), hashlib.sha256).digest()[:16]
    want = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return u.path, params, sig == want and len(want) == 22


base = ["--signing-key", SIGNING_KEY, "--base-url", "https://t.example.org/"]
rc, out, err = run(*base, "link", C, "--ref", "ann", "--subject", "ü x+y", "--event", "open",
                   "--channel", "email")
url = out.strip()
path, params, ok = verify_link(url, SIGNING_KEY)
check(rc == 0 and url.startswith("https://t.example.org/p.gif?"), f"pixel link {url!r}")
check(ok, f"pixel link signature verifies: {url}")
check([n for n, _ in params] == ["c", "e", "s", "ref", "ch", "sig"], f"param order {params}")
check(dict(params).get("s") == "ü x+y" and "%C3%BC%20x%2By" in url, f"RFC 3986 encoding {url}")
to = "https://example.org/landing?a=1&b=two words"
rc, out, err = run(*base, "link", C, "--to", "https://example.org/landing?a=1&b=two%20words",
                   "--ref", "bob")
url = out.strip()
path, params, ok = verify_link(url, SIGNING_KEY)
check(rc == 0 and path == "/r" and ok, f"tracked link verifies: {url!r} {err!r}")
check(dict(params).get("to") == "https://example.org/landing?a=1&b=two%20words", f"to {params}")
check(not any(n == "e" for n, _ in params), "only the given parameters")
rc, out, err = run("--signing-key", "", "link", C)
check(rc == 2 and err.strip() == "actiongap: link: signing_key is not set (config key signing_key)",
      f"no signing key: {rc} {err!r}")
for bad in (["--ref", "a b"], ["--event", "Bad"], ["--to", "javascript:alert(1)"],
            ["--channel", "UPPER"], ["--event", "followup", "--subject", "x"]):
    rc, out, err = run(*base, "link", C, *bad)
    check(rc == 2 and out == "", f"link {bad}: exit 2, got {rc}")

if COLLECTOR and os.access(COLLECTOR, os.X_OK):
    rs2 = RedisServer()
    col = Collector(rs2)
    rc, out, _ = run("--signing-key", SIGNING_KEY, "--base-url", f"http://127.0.0.1:{col.port}",
                     "link", C, "--to", "https://not-allowed.example/x", "--subject", "v 1")
    u = urllib.parse.urlsplit(out.strip())
    st_, hd, _ = http_get(col.port, f"{u.path}?{u.query}")
    check(st_ == 302 and hd.get("location", "").startswith("https://not-allowed.example/x?ag_attr="),
          f"the collector follows the signed link and carries attribution: {st_} {hd}")
    rc, out, _ = run("--signing-key", SIGNING_KEY, "--base-url", f"http://127.0.0.1:{col.port}",
                     "link", C, "--to", "https://not-allowed.example/x", "--subject", "v 1",
                     "--no-carry")
    u = urllib.parse.urlsplit(out.strip())
    check(rc == 0 and "nc=1" in u.query, f"--no-carry signs nc=1: {out!r}")
    st_, hd, _ = http_get(col.port, f"{u.path}?{u.query}")
    check(st_ == 302 and hd.get("location") == "https://not-allowed.example/x",
          f"a --no-carry link lands on its target unchanged: {st_} {hd}")

# ------------------------------------------------------------------ alerts


def add_alert(kind, subject, waited=960):
    return r("XADD", "ag:alerts", "*", "kind", kind, "campaign", C, "subject", subject,
             "signup_ts", NOW - waited * 1000, "waited_s", waited, "sla_s", 900,
             "ts", int(time.time() * 1000)).decode()


a1 = add_alert("followup_overdue", "pa")
a2 = add_alert("followup_resolved", "pb", 1300)
al = run_json("alerts", "--json").get("alerts", [])
check([a.get("id") for a in al] == [a1, a2], f"alerts oldest first: {al}")
if al:
    check(al[0].get("kind") == "followup_overdue" and al[0].get("campaign") == C
          and al[0].get("subject") == "pa" and al[0].get("waited_s") == 960
          and al[0].get("sla_s") == 900, f"alert fields {al[0]}")
al = run_json("alerts", "--json", "--count", "1").get("alerts", [])
check([a.get("id") for a in al] == [a2], f"--count 1 gives the newest: {al}")
rc, out, _ = run("alerts")
check(rc == 0 and "followup_overdue" in out and "16m00s" in out and "15m00s" in out,
      f"alerts table {out!r}")


def follow(*extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AG_")}
    p = subprocess.Popen([CLI, "--redis", rs.url(), "alerts", "--follow", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    q = queue.Queue()
    threading.Thread(target=lambda: [q.put(l) for l in p.stdout], daemon=True).start()
    return p, q


def wait_line(q, pred, timeout=8):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if pred(line):
            return line
    return None


p, q = follow()
check(wait_line(q, lambda l: "pb" in l) is not None, "--follow prints the existing alerts first")
time.sleep(0.3)
add_alert("followup_overdue", "late-1")
check(wait_line(q, lambda l: "late-1" in l) is not None, "--follow prints a new alert")
p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(timeout=5)
except subprocess.TimeoutExpired:
    p.kill()
    rc = None
check(rc == 0, f"--follow exits 0 on SIGTERM, got {rc}")

p, q = follow("--json", "--count", "0")
time.sleep(0.5)
a4 = add_alert("followup_overdue", "late-2")
line = wait_line(q, lambda l: "late-2" in l)
check(line is not None and json.loads(line).get("id") == a4, f"--follow --json line {line!r}")
p.send_signal(signal.SIGINT)
try:
    rc = p.wait(timeout=5)
except subprocess.TimeoutExpired:
    p.kill()
    rc = None
check(rc == 0, f"--follow exits 0 on SIGINT, got {rc}")

# ------------------------------------------------------------------ pending

pj = run_json("pending", C, "--json")
check([x.get("subject") for x in pj.get("pending", [])] == ["pa", "pb", "pc", "pd"],
      f"pending oldest first: {pj}")
check([x.get("overdue") for x in pj.get("pending", [])] == [True, True, False, False],
      "overdue marked")
check(pj.get("overdue") == 2 and pj.get("sla_s") == 900, f"pending summary {pj}")
rc, out, _ = run("pending", C)
rows = [l for l in out.splitlines() if l.split()[:1] in (["pa"], ["pb"], ["pc"], ["pd"])]
check([l.split()[0] for l in rows] == ["pa", "pb", "pc", "pd"], f"pending table order {out!r}")
check([l.rstrip().endswith("OVERDUE") for l in rows] == [True, True, False, False],
      f"OVERDUE marks {rows}")
check(any("1h00m" in l for l in rows[:1]), f"waiting column {rows[:1]}")

# ------------------------------------------------------------------ top

tj = run_json("top", C, "--json")
check([(a.get("ref"), a.get("actions"), a.get("reach")) for a in tj.get("advocates", [])] ==
      [("ann", 5, 20), ("cat", 3, 15), ("bob", 3, 10), ("fay", 1, 0), ("gus", 1, 0),
       ("hal", 1, 0), ("eve", 0, 7)],
      f"leaderboard ranked by actions then reach: {tj}")
tj = run_json("top", C, "--json", "--limit", "2")
check(len(tj.get("advocates", [])) == 2 and tj.get("total") == 7, f"--limit 2: {tj}")
rc, out, _ = run("top", C)
order = [l.split()[1] for l in out.splitlines()[1:] if l.strip() and l.split()[0].isdigit()]
check(rc == 0 and order == ["ann", "cat", "bob", "fay", "gus", "hal", "eve"], f"top table {out!r}")

# ------------------------------------------------------------------ campaigns

cj = run_json("campaigns", "--json").get("campaigns", [])
check([c.get("campaign") for c in cj] == ["autumn", "spring", "winter"], f"campaigns order {cj}")
check(cj and cj[1].get("last_activity_ms") == NOW - 180000, f"last activity ms {cj}")
rc, out, _ = run("campaigns")
names = [l.split()[0] for l in out.splitlines()[1:] if l.strip()]
check(rc == 0 and names == ["autumn", "spring", "winter"], f"campaigns table {out!r}")
check(re.search(r"\bspring .* 3m\d\ds ago +-$", out, re.M), f"'ago' column, no dead-letter entries {out!r}")
check(all(c.get("dead_letter") == 0 for c in cj), f"campaigns --json: dead_letter 0 each {cj}")

# --version: every program prints meson.build's version (and git describe from a checkout)
meson_version = re.search(r"version : '([^']+)'", open(os.path.join(os.path.dirname(__file__), "..", "..",
                                                                     "meson.build")).read()).group(1)
for exe, name in ((COLLECTOR, "actiongap-collector"), (AGGREGATOR, "actiongap-aggregator"),
                  (DASHBOARD, "actiongap-dashboard"), (CLI, "actiongap")):
    p = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    out = p.stdout.decode()
    check(p.returncode == 0 and re.fullmatch(rf"{name} {re.escape(meson_version)}( \(git \S+\))?\n", out),
          f"{name} --version: {out!r} (exit {p.returncode})")
p = subprocess.run([CLI, "version"], stdout=subprocess.PIPE, timeout=10)
check(p.returncode == 0 and p.stdout.decode().startswith(f"actiongap {meson_version}"), "actiongap version")

done("test_cli")
