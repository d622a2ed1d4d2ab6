"""soak.py MINUTES: steady mixed load (pixels, beacons, clicks, signups,
follow-ups) on collector + aggregator + Redis; prints RSS, open fds and p99
each minute; fails if the collector's or the aggregator's RSS or open fds
grow beyond 5 % after the first minute (warm-up), or on any loss. Redis'
RSS is printed but not judged: it grows with the data it must keep (24 h
of nonces for the duplicate rule). The aggregator trims eagerly
(keep_hours = 0), so trimming runs throughout."""
import json, os, sys, threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fault"))
from common import *  # noqa: F401,F403
from harness import *  # noqa: F401,F403

MINUTES = int(sys.argv[1]) if len(sys.argv) > 1 else 5
RATE = int(os.environ.get("AG_SOAK_RATE", "400"))
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs, extra=["--followup-sla-s", "3600", "--keep-hours", "0"])
stats = {"sent": 0, "ok": 0, "errors": 0, "followups": 0}
lat = []
stop = False


def worker():
    c = Conn(col.port)
    i = 0
    t0 = time.monotonic()
    while not stop:
        due = t0 + i / RATE
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        k = i % 10
        s = f"u{i // 10 % 5000}"
        start = time.monotonic()
        try:
            if k <= 5:
                st, _, _ = c.request("GET", f"/p.gif?c=soak{i % 7}&e=open&s={s}&n=o{i}", headers={"User-Agent": UA})
                good = st == 200
            elif k == 6:
                st, _, _ = c.request("POST", "/b", f"c=soak{i % 7}&e=scroll&d={i % 101}&n=b{i}".encode(),
                                     headers={"User-Agent": UA, "Content-Type": "application/x-www-form-urlencoded"})
                good = st == 204
            elif k == 7:
                st, _, _ = c.request("GET", f"/r?c=soak{i % 7}&s={s}&n=r{i}&to=https%3A%2F%2Fallowed.example%2F", headers={"User-Agent": UA})
                good = st == 302
            elif k == 8:
                st, _, _ = c.request("GET", f"/p.gif?c=soak{i % 7}&e=signup&s=g{i}&n=s{i}", headers={"User-Agent": UA})
                good = st == 200
            else:
                body = json.dumps({"c": f"soak{(i - 1) % 7}", "e": "followup", "s": f"g{i - 1}", "n": f"f{i}"}).encode()
                st, _, _ = c.request("POST", "/api/hits", body, headers={"Content-Type": "application/json",
                                                                       "Authorization": f"Bearer {API_TOKEN}"})
                good = st == 202
                stats["followups"] += good
            stats["ok" if good else "errors"] += 1
        except OSError:
            stats["errors"] += 1
            c = Conn(col.port)
        stats["sent"] += 1
        lat.append(time.monotonic() - start)
        i += 1


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = [int(l.split()[1]) for l in f if l.startswith("VmRSS")][0]
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


t = threading.Thread(target=worker, daemon=True)
t.start()
rows = []
procs = {"collector": col.proc.pid, "aggregator": agg.proc.pid, "redis": rs.proc.pid}
print(f"{'min':>3} {'sent':>8} {'p99 ms':>7} " + " ".join(f"{n + ' KiB':>15} {n[:4] + ' fds':>9}" for n in procs), flush=True)
for m in range(1, MINUTES + 1):
    start_idx = len(lat)
    time.sleep(60)
    window = sorted(lat[start_idx:])
    p99 = window[int(0.99 * (len(window) - 1))] * 1000 if window else 0
    row = {n: sample(p) for n, p in procs.items()}
    rows.append((row, p99))
    print(f"{m:>3} {stats['sent']:>8} {p99:>7.2f} " + " ".join(f"{row[n][0]:>15} {row[n][1]:>9}" for n in procs), flush=True)
stop = True
t.join()
# race-free end: the collector has stored everything it accepted, then the
# aggregator has applied everything stored
wait_for(lambda: col.metric("ag_hits_stored_total") == stats["ok"] and col.health()["spooled"] == 0,
         timeout=60, what="the collector to store every accepted hit")
stored = int(col.metric("ag_hits_stored_total"))
wait_for(lambda: agg.metric("ag_agg_applied_total") + agg.metric("ag_agg_duplicates_total") >= stored,
         timeout=120, what="the aggregator to apply every stored hit")
time.sleep(1.0)
found = int(agg.metric("ag_agg_applied_total")) + int(agg.metric("ag_agg_duplicates_total"))
check(stats["errors"] == 0, f"errors {stats['errors']}")
check(agg.metric("ag_agg_malformed_total") == 0, "no stream entry failed to decode")
check(stored == stats["ok"], f"answered {stats['ok']}, stored by the collector {stored}")
check(found == stats["ok"], f"sent {stats['ok']}, applied by the aggregator {found}")
if len(rows) >= 3:
    base = rows[1][0]
    for n in ("collector", "aggregator"):  # Redis grows with its data (24 h of nonces): reported only
        last = rows[-1][0][n]
        check(last[0] <= base[n][0] * 1.05 + 1024, f"{n}: RSS {base[n][0]} -> {last[0]} KiB (limit +5 %)")
        check(last[1] <= base[n][1] * 1.05 + 2, f"{n}: fds {base[n][1]} -> {last[1]} (limit +5 %)")
opens = sum(int(hgetall(r, f"ag:c:{{soak{k}}}").get("open", 0)) for k in range(7))
print(f"soak {MINUTES} min: sent {stats['ok']}, found {found}, duplicates 0, follow-ups {stats['followups']}, opens counted {opens}")
done("soak")
