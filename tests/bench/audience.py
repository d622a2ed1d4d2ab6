"""What a campaign's audience costs in Redis: N subjects (each an open, one
in ten brought by an advocate, one in seven signing up) sent through the
real collector and aggregator, then MEMORY USAGE of every audience bucket
÷ N, beside the same records HSET into one plain hash in the same run (the
obvious design). Goal: <= 64 bytes a subject a campaign.

    AG_COLLECTOR=build/collector/actiongap-collector AG_AGGREGATOR=build/aggregator/actiongap-aggregator \\
        /usr/bin/python3 tests/bench/audience.py [N ...]
"""
import json, os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import API_TOKEN, Aggregator, Collector, Conn, RedisServer, wait_applied, wait_for  # noqa: E402

SIZES = [int(x) for x in sys.argv[1:]] or [10000, 100000, 300000]
rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs)
c = Conn(col.port)
print("| subjects | audience bytes a subject | one plain hash, bytes a subject | ratio | buckets as listpack |")
print("|---|---|---|---|---|")
for n in SIZES:
    camp = f"aud{n}"
    t0 = time.monotonic()
    for i in range(0, n, 80):
        hits = []
        for k in range(i, min(n, i + 80)):
            h = {"c": camp, "e": "open", "s": f"contact-{k:07d}"}
            if k % 10 == 0:
                h["ref"] = f"adv{k % 50}"
            hits.append(h)
            if k % 7 == 0:
                hits.append({"c": camp, "e": "signup", "s": f"contact-{k:07d}"})
        st, _, body = c.request("POST", "/api/hits", json.dumps(hits).encode(),
                                {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
        if st != 202:
            raise SystemExit(f"/api/hits: {st} {body[:200]!r}")
    wait_for(lambda: r("XLEN", "ag:hits:{0}") > 0, what="hits")
    wait_applied(r, timeout=600)
    keys = r("KEYS", f"ag:c:{{{camp}}}:aud:*")
    used = sum(r("MEMORY", "USAGE", k, "SAMPLES", "0") for k in keys)
    stored = sum(r("HLEN", k) for k in keys)
    if stored != n:
        raise SystemExit(f"{camp}: {stored} subjects stored, {n} sent")
    listpack = sum(r("OBJECT", "ENCODING", k) == b"listpack" for k in keys)
    plain = f"bench:plain:{n}"
    for k in keys:          # the same records, one hash
        vals = r("HGETALL", k)
        for j in range(0, len(vals), 2000):
            r("HSET", plain, *vals[j:j + 2000])
    base = r("MEMORY", "USAGE", plain, "SAMPLES", "0")
    r("DEL", plain)
    print(f"| {n:,} | {used / n:.1f} | {base / n:.1f} | {used / base:.2f} | {listpack} of {len(keys)} |", flush=True)
    print(f"{camp}: filled in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
col.stop()
agg.stop()
