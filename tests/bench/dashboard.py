"""What the dashboard costs with 1,000 campaigns and one campaign of 10,000
advocates, all counted by the real collector and aggregator: the server
time of a campaign's JSON and of the campaign list (p50/p99 over keep-alive
requests, beside the dashboard's own /healthz measured in the same run), and
a page load to its first figures in headless Chromium, in the page's own
clock (navigation start to app.js's performance mark "ag:figures"), beside
the load of the dashboard's 401 page (a document with no script) to its
load event. Goals: campaign JSON p99
<= 10 ms, first figures <= 300 ms.

    AG_COLLECTOR=build/collector/actiongap-collector AG_AGGREGATOR=build/aggregator/actiongap-aggregator \\
    AG_DASHBOARD=build/aggregator/dashboard/actiongap-dashboard \\
        /usr/bin/python3 tests/bench/dashboard.py [requests] [page loads]
"""
import json, os, statistics, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import (API_TOKEN, DASHBOARD_TOKEN, Aggregator, Collector, Conn, Dashboard,  # noqa: E402
                     RedisServer, wait_applied, wait_for)

REQS = int(sys.argv[1]) if len(sys.argv) > 1 else 300
LOADS = int(sys.argv[2]) if len(sys.argv) > 2 else 15
CAMPAIGNS, ADVOCATES = 1000, 10000

rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs)
dash = Dashboard(rs)
hits = []
for i in range(CAMPAIGNS):
    hits += [{"c": f"camp{i}", "e": "open", "s": f"s{i}-{k}"} for k in range(4)]
    hits.append({"c": f"camp{i}", "e": "signup", "s": f"s{i}-0"})
for a in range(ADVOCATES):
    hits.append({"c": "big", "e": "open", "s": f"b{a}", "ref": f"adv{a}"})
    if a % 5 == 0:
        hits.append({"c": "big", "e": "signup", "s": f"b{a}", "ref": f"adv{a}"})
c = Conn(col.port)
t0 = time.monotonic()
for i in range(0, len(hits), 100):
    st, _, body = c.request("POST", "/api/hits", json.dumps(hits[i:i + 100]).encode(),
                            {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
    if st != 202:
        raise SystemExit(f"/api/hits: {st} {body[:200]!r}")
wait_for(lambda: r("XLEN", "ag:hits:{0}") >= len(hits), timeout=120, what="every hit in the stream")
wait_applied(r, timeout=300)
print(f"filled: {len(hits)} hits, {CAMPAIGNS + 1} campaigns, {ADVOCATES} advocates of one, "
      f"{time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
big = json.loads(Conn(dash.port).request("GET", "/api/v1/campaigns/big/leaderboard",
                                         headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})[2])
if big.get("total") != ADVOCATES:
    raise SystemExit(f"big has {big.get('total')} advocates, not {ADVOCATES}")


def times(path, n):
    """Times n keep-alive GETs of path; returns sorted milliseconds."""
    conn = Conn(dash.port)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        st, _, body = conn.request("GET", path, headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"})
        out.append((time.perf_counter() - t) * 1000)
        if st != 200:
            raise SystemExit(f"{path}: {st} {body[:200]!r}")
    return sorted(out)


def q(xs, p):
    return xs[min(len(xs) - 1, int(p * len(xs)))]


rows = []
base = times("/healthz", REQS)
for name, path, n in (("campaign JSON (10,000 advocates)", "/api/v1/campaigns/big", REQS),
                      ("campaign JSON (small)", "/api/v1/campaigns/camp7", REQS),
                      ("leaderboard JSON (top 100 of 10,000)", "/api/v1/campaigns/big/leaderboard", REQS),
                      ("hourly series (48 buckets)", "/api/v1/campaigns/big/series", REQS),
                      ("campaign list (500 of 1,001)", "/api/v1/campaigns", max(10, REQS // 20))):
    xs = times(path, n)
    rows.append((name, statistics.median(xs), q(xs, 0.99), statistics.median(xs) / statistics.median(base)))

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

o = Options()
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", "--disable-dev-shm-usage",
          "--disable-background-networking"):
    o.add_argument(a)
o.binary_location = "/usr/bin/chromium"
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
first, plain = [], []
try:
    for i in range(LOADS + 1):
        d.get(f"http://127.0.0.1:{dash.port}/c/big?t={DASHBOARD_TOKEN}")
        t = time.perf_counter()
        mark = []
        while not mark:     # app.js marks ag:figures when it has drawn the headline figures
            mark = d.execute_script("return performance.getEntriesByName('ag:figures').map(e => e.startTime)")
            if time.perf_counter() - t > 10:
                raise SystemExit("the page showed no figure in 10 s")
        if i:
            first.append(mark[0])
        d.get(f"http://127.0.0.1:{dash.port}/")       # the 401 page: no script, no Redis
        if i:
            plain.append(d.execute_script("return performance.getEntriesByType('navigation')[0].loadEventEnd"))
finally:
    d.quit()
first.sort()
plain.sort()
print("| what | p50 ms | p99 ms | p50 ÷ baseline |")
print("|---|---|---|---|")
print(f"| baseline: /healthz | {statistics.median(base):.2f} | {q(base, 0.99):.2f} | 1.00 |")
for name, p50, p99, ratio in rows:
    print(f"| {name} | {p50:.2f} | {p99:.2f} | {ratio:.1f} |")
print(f"| page: 401 page to its load event (baseline) | {statistics.median(plain):.0f} | {q(plain, 0.99):.0f} | 1.00 |")
print(f"| page: /c/big to its first figures | {statistics.median(first):.0f} | {q(first, 0.99):.0f} | "
      f"{statistics.median(first) / statistics.median(plain):.1f} |")
dash.stop()
col.stop()
agg.stop()
