"""What short links cost the collector, measured in one run:

1. CPU per redirect: GET /s/<code> (the link table in memory) beside the
   signed GET /r it stands for (signature checked on every request), the
   collector's own user+system time (/proc/<pid>/stat) over N requests each,
   alternating rounds, medians; goal: the short link costs no more than /r.
2. Memory: 100,000 links held (ag_short_links_bytes, the table's own
   count) and the collector's resident set beside a collector that holds
   none, same run; goal: under 32 MB.

    AG_COLLECTOR=build/collector/actiongap-collector AG_CLI=build/aggregator/actiongap \\
        /usr/bin/python3 tests/bench/links.py [N] [LINKS]
"""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import CLI, SIGNING_KEY, Collector, Conn, RedisServer, read_response, wait_for  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
LINKS = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """The process's user + system CPU seconds."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run(port, path, n, pid):
    """Sends n GETs of path, 100 pipelined at a time on one connection;
    returns the collector's CPU µs per request."""
    c = Conn(port, timeout=60)
    req = (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {HUMAN}\r\n\r\n").encode() * 100
    t0 = cpu_s(pid)
    for _ in range(n // 100):
        c.s.sendall(req)
        for _ in range(100):
            st, _, _, c.buf = read_response(c.s, c.buf)
            assert st == 302, st
    used = cpu_s(pid) - t0
    c.close()
    return used / n * 1e6


rs = RedisServer(appendfsync="everysec")
r = rs.client()
col = Collector(rs)
base = f"http://127.0.0.1:{col.port}"
short = subprocess.run([CLI, "--redis", rs.url(), "--base-url", base, "link", "bench", "--to",
                        "https://example.org/join", "--ref", "ann", "--short"],
                       capture_output=True, text=True, check=True).stdout.strip()
signed = subprocess.run([CLI, "--redis", rs.url(), "--base-url", base, "--signing-key", SIGNING_KEY,
                         "link", "bench", "--to", "https://example.org/join", "--ref", "ann"],
                        capture_output=True, text=True, check=True).stdout.strip()
spath = short[len(base):]
rpath = signed[len(base):]
wait_for(lambda: col.metric("ag_short_links") == 1, what="the link in memory")
pid = col.proc.pid
s_us, r_us = [], []
for k in range(6):          # alternating, the first pair a warm-up
    a = run(col.port, spath, N, pid)
    b = run(col.port, rpath, N, pid)
    if k:
        s_us.append(a)
        r_us.append(b)
ms, mr = statistics.median(s_us), statistics.median(r_us)
print(f"CPU per redirect, collector user+system, median of 5 rounds of {N}: "
      f"/s/<code> {ms:.2f} µs, signed /r {mr:.2f} µs, ratio {ms / mr:.2f}")

# ---- memory: LINKS links loaded at start, beside a collector that holds none
t0 = time.monotonic()
for at in range(0, LINKS, 5000):
    cmds = []
    for i in range(at, min(LINKS, at + 5000)):
        code = f"B{i:09d}"
        to = f"https://example.org/campaigns/spring/join?utm_source=advocate&i={i}"
        cmds.append(["HSET", f"ag:link:{code}", "c", "spring", "ref", f"adv{i % 5000}", "to", to,
                     "state", "active", "ts", "1764633600000", "name", f"Advocate {i % 5000}"])
        cmds.append(["ZADD", "ag:links", "1764633600000", code])
    payload = b"".join(b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(x.encode()), x.encode())
                                                        for x in c) for c in cmds)
    r.sock.sendall(payload)
    for _ in cmds:
        r._reply()
load_s = time.monotonic() - t0
empty = Collector(rs, extra=["--prefix", "none:"])
full = Collector(rs)
wait_for(lambda: full.metric("ag_short_links") == LINKS + 1, timeout=120, what=f"{LINKS} links loaded")
time.sleep(0.5)
table = full.metric("ag_short_links_bytes")
delta = rss_kb(full.proc.pid) - rss_kb(empty.proc.pid)
print(f"{LINKS} links (targets of ~70 bytes, written in {load_s:.1f} s): table {table / 1e6:.1f} MB "
      f"({table / LINKS:.0f} bytes a link), resident set {delta / 1024:.1f} MB more than a collector "
      f"holding none")
