"""Privacy: after hits with Sec-GPC/DNT (accepted and rejected) and plain
hits behind a trusted proxy, no raw client address and no user-agent of a
GPC/DNT hit appears anywhere in Redis' files (AOF, RDB) or in the logs."""
import glob, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

rs = RedisServer(extra=["--rdbcompression", "no"])
r = rs.client()
col = Collector(rs, extra=["--trusted-proxies", "127.0.0.1"])
agg = Aggregator(rs)
secrets = []
conn = Conn(col.port)
cases = [  # (headers, query, marker in UA or None)
    ({"Sec-GPC": "1"}, "c=priv&e=open&s=gpc-subject-1", "GpcMarkerAgent/1.0"),
    ({"DNT": "1"}, "c=priv&e=signup&s=dnt-subject-2", "DntMarkerAgent/2.0"),
    ({"Sec-GPC": "1"}, "c=bad{id}&e=open", "GpcRejectMarker/3.0"),
    ({}, "c=priv&e=open&s=plain-3", None),
]
for i, (hdr, q, ua_marker) in enumerate(cases):
    ip = f"203.0.113.{101 + i}"
    secrets.append(ip)
    ua = f"Mozilla/5.0 (X11; Linux x86_64) {ua_marker or 'Firefox/120.0'}"
    if ua_marker:
        secrets.append(ua_marker)
    st, _, _ = conn.request("GET", "/p.gif?" + q, headers={"User-Agent": ua, "X-Forwarded-For": ip, **hdr})
    check(st == 200, f"pixel {q} -> {st}")
for s in ("gpc-subject-1", "dnt-subject-2"):
    secrets.append(s)
wait_for(lambda: r("XLEN", "ag:hits:{0}") == 3, what="3 hits")
wait_for(lambda: r("XLEN", "ag:rejects") == 1, what="1 reject")
wait_applied(r)
plain = r.xrange_all("ag:hits:{0}")[3 - 1][1]
check(plain.get("ip") == "203.0.113.0", f"plain hit: the address is stored truncated ({plain.get('ip')})")
check("subject" not in r.xrange_all("ag:hits:{0}")[0][1], "GPC hit stored without subject")
r("SAVE")
check(col.stop() == 0 and agg.stop() == 0, "collector and aggregator exit 0")
rs.stop()
files = [f for f in glob.glob(os.path.join(rs.dir, "**"), recursive=True) if os.path.isfile(f)]
files += [col.log_path, agg.log_path]
blob = b"".join(open(f, "rb").read() for f in files)
check(len(blob) > 0 and any(f.endswith(".rdb") for f in files), f"files to search: {files}")
check(b"plain-3" in blob and b"Firefox/120.0" in blob and b"203.0.113.0" in blob,
      "control: what may be stored is found by the same search")
found = [s for s in secrets if s.encode() in blob]
check(not found, f"raw addresses or GPC/DNT data found in Redis files or logs: {found}")
print(f"privacy: searched {len(files)} files ({len(blob)} bytes) for {len(secrets)} secrets, found {len(found)}")
done("test_privacy")
