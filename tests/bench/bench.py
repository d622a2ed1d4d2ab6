#!/usr/bin/env python3
"""bench.py: helpers of tests/bench/run.sh (standard library only).

  bench.py freeport                      a TCP port free a moment ago
  bench.py idle PORT N [PATH]            opens N keep-alive connections, sends
                                         one pixel request on each, prints
                                         "READY ok=A failed=B", then holds them
                                         idle until SIGTERM/SIGINT (or 120 s)
  bench.py prefill N [KEY] [SEED]        writes N XADD commands (RESP) on
                                         stdout, for redis-cli --pipe
  bench.py pct LOGFILE                   p50/p99 (µs) of an h2load --log-file
  bench.py counters PORT [PREFIX]        sums every event counter of every
                                         campaign (exactly-once check)
  bench.py metric URL NAME               sum of a Prometheus metric's samples
  bench.py table RESULTS                 the markdown table from key=value lines
"""

import bisect
import itertools
import os
import random
import resource
import selectors
import signal
import socket
import sys
import time
import urllib.request


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


# ---------------------------------------------------------------- idle conns

def idle(port, n, path="/p.gif"):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
        except (ValueError, OSError):
            pass
    stop = {"flag": False}

    def on_sig(*_):
        stop["flag"] = True
    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)

    ua = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
    socks, ok, failed = [], 0, 0
    batch = 500
    pid = os.getpid()
    for start in range(0, n, batch):
        group = []
        for i in range(start, min(n, start + batch)):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=20)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                q = (f"GET {path}?c=idle-{i % 1000}&e=view&s=idle-{i}&n=idle-{pid}-{i} HTTP/1.1\r\n"
                     f"Host: localhost\r\nUser-Agent: {ua}\r\n\r\n")
                s.sendall(q.encode())
                group.append(s)
            except OSError:
                failed += 1
        for s in group:
            buf = b""
            try:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(4096)
                    if not d:
                        raise ConnectionError("closed")
                    buf += d
                head, body = buf.split(b"\r\n\r\n", 1)
                status = int(head.split(b" ", 2)[1])
                clen = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        clen = int(v)
                while len(body) < clen:
                    d = s.recv(4096)
                    if not d:
                        raise ConnectionError("closed mid-body")
                    body += d
                if 200 <= status < 300:
                    ok += 1
                else:
                    failed += 1
                socks.append(s)
            except (OSError, ValueError, IndexError):
                failed += 1
                s.close()
    print(f"READY ok={ok} failed={failed} open={len(socks)}", flush=True)
    deadline = time.monotonic() + 120
    while not stop["flag"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # still open? (a server closing idle connections early would show here)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    closed = sum(1 for _ in sel.select(timeout=0))
    print(f"CLOSED_BY_SERVER {closed}", flush=True)
    for s in socks:
        s.close()


# ---------------------------------------------------------------- prefill

UAS = {
    "human": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "mailproxy": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "bot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}


def _bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def prefill(n, key="ag:hits:{0}", seed=1):
    """n XADD entries with the field layout the collector writes (hid, ts,
    campaign, event, subject, [ref], nonce, ip, agent, ua, via): 1,000
    campaigns Zipf(1.0)-skewed, 100,000 subjects uniform, events
    open 55 % / view 25 % / click 15 % / signup 5 %, agents human 90 % /
    mailproxy 7 % / bot 3 %, ref on 10 % of hits, unique nonces."""
    rnd = random.Random(seed)
    camps = [b"camp-%d" % i for i in range(1000)]
    cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(1000)))
    events = [b"open", b"view", b"click", b"signup"]
    ev_cum = [55, 80, 95, 100]
    agents = [b"human", b"mailproxy", b"bot"]
    ag_cum = [90, 97, 100]
    ag_tail = {a: _bulk(b"agent") + _bulk(a) + _bulk(b"ua") + _bulk(UAS[a.decode()].encode())
               + _bulk(b"via") + _bulk(b"pixel") for a in agents}
    head_key = _bulk(b"XADD") + _bulk(key.encode()) + _bulk(b"*")
    f = {k: _bulk(k) for k in (b"hid", b"ts", b"campaign", b"event", b"subject", b"ref", b"nonce", b"ip")}
    ts0 = int(time.time() * 1000) - n // 100
    out = sys.stdout.buffer
    chunk = []
    total = cum[-1]
    for i in range(n):
        c = camps[bisect.bisect_left(cum, rnd.random() * total)]
        r = rnd.random() * 100
        e = events[bisect.bisect_right(ev_cum, r)]
        a = agents[bisect.bisect_right(ag_cum, rnd.random() * 100)]
        subj = b"subj-%d" % rnd.randrange(100000)
        has_ref = rnd.random() < 0.1
        nf = 11 if has_ref else 10
        parts = [b"*%d\r\n" % (3 + 2 * nf), head_key,
                 f[b"hid"], _bulk(b"bench.0-%d" % (i + 1)),
                 f[b"ts"], _bulk(b"%d" % (ts0 + i // 100)),
                 f[b"campaign"], _bulk(c),
                 f[b"event"], _bulk(e),
                 f[b"subject"], _bulk(subj)]
        if has_ref:
            parts += [f[b"ref"], _bulk(b"adv-%d" % rnd.randrange(50))]
        parts += [f[b"nonce"], _bulk(b"pf-%d-%d" % (seed, i)),
                  f[b"ip"], _bulk(b"198.51.%d.0" % rnd.randrange(256)),
                  ag_tail[a]]
        chunk.append(b"".join(parts))
        if len(chunk) >= 5000:
            out.write(b"".join(chunk))
            chunk = []
    out.write(b"".join(chunk))
    out.flush()


# ---------------------------------------------------------------- percentiles

def pct(path):
    lat, ok, bad = [], 0, 0
    with open(path) as fh:
        for line in fh:
            p = line.split("\t")
            if len(p) < 3:
                continue
            if p[1].startswith("2"):
                ok += 1
            else:
                bad += 1
            lat.append(int(p[2]))
    lat.sort()
    if not lat:
        print("p50=nan p99=nan count=0 ok=0 bad=0")
        return

    def q(x):
        return lat[min(len(lat) - 1, int(x * len(lat)))]
    print(f"p50={q(0.50)} p99={q(0.99)} p999={q(0.999)} max={lat[-1]} count={len(lat)} ok={ok} bad={bad}")


# ---------------------------------------------------------------- counters

class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))

    def reply(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            d = self.f.read(n + 2)
            return d[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError(f"bad reply {line!r}")


def counters(port, prefix="ag:"):
    """Prints total=<sum of per-event counters (human + machine_) + dup over
    every campaign in <prefix>campaigns> campaigns=<n>."""
    r = Resp(port)
    r.send("ZRANGE", prefix + "campaigns", 0, -1)
    camps = r.reply()
    for c in camps:
        r.send("HGETALL", b"%sc:{%s}" % (prefix.encode(), c))
    skip = {b"value", b"first_ts", b"last_ts"}
    total = 0
    for _ in camps:
        h = r.reply()
        for k, v in zip(h[::2], h[1::2]):
            if k not in skip:
                total += int(v)
    print(f"total={total} campaigns={len(camps)}")


def metric(url, name):
    body = urllib.request.urlopen(url, timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith("#"):
            continue
        k = line.split(" ")[0]
        if k == name or k.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    print(int(total) if total == int(total) else total)


def lag(port, url, out, key="ag:hits:{0}"):
    """Samples the aggregator's lag every 0.25 s until SIGTERM: entries in
    the stream (XLEN) minus entries it has handled (applied + duplicates +
    skipped + malformed on /metrics). Writes "lag max_lag=<entries> samples=<n>"
    to out on exit."""
    r = Resp(port)
    names = ("ag_agg_applied_total", "ag_agg_duplicates_total", "ag_agg_skipped_total",
             "ag_agg_malformed_total")
    state = {"max": 0, "n": 0, "stop": False}

    def on_term(*_):
        state["stop"] = True
    signal.signal(signal.SIGTERM, on_term)
    while not state["stop"]:
        r.send("XLEN", key)
        xlen = r.reply()
        body = urllib.request.urlopen(url, timeout=5).read().decode()
        handled = 0
        for line in body.splitlines():
            parts = line.split(" ")
            if parts[0] in names:
                handled += int(float(parts[-1]))
        state["max"] = max(state["max"], xlen - handled)
        state["n"] += 1
        time.sleep(0.25)
    with open(out, "w") as f:
        f.write(f"lag max_lag={state['max']} samples={state['n']}\n")


# ---------------------------------------------------------------- table

def table(path):
    res = {}
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                res[k] = v

    def g(k, d="n/a"):
        v = res.get(k, "")
        return v if v != "" else d

    def num(k):
        try:
            return float(res[k])
        except (KeyError, ValueError):
            return None

    def fmt_rps(v):
        return "n/a" if v is None else f"{v:,.0f}"

    def fmt_ratio(a, b):
        return "n/a" if a is None or b in (None, 0) else f"{a / b:.2f}×"

    def fmt_us(v):
        return "n/a" if v is None else f"{v:.1f}"

    def fmt_lat(k):
        v = num(k)
        return "n/a" if v is None else (f"{v / 1000:.2f} ms")

    def fmt_mb(k):
        v = num(k)
        if v is None:
            return "n/a"
        part = num(k.replace("_kb", "_main_kb"))
        extra = f" (collector {part / 1024:.1f})" if part is not None else ""
        return f"{v / 1024:.1f} MB{extra}"

    base_rps = num("nginx_log.rps")
    base_cpu = num("nginx_log.cpu_us")
    rows = [("actiongap", "ag"), ("nginx+access_log", "nginx_log"), ("nginx no log", "nginx_nolog"),
            ("redis XADD -P64", "xadd")]
    hdr = ("| server | req/s | ratio to nginx+log | CPU µs/hit | ratio | p50 @20k | p99 @20k "
           "| peak RSS | RSS 10k idle conns | loss |")
    print(hdr)
    print("|" + "---|" * 10)
    for label, k in rows:
        rps, cpu = num(k + ".rps"), num(k + ".cpu_us")
        main = num(k + ".cpu_main_us")
        cpu_s = fmt_us(cpu) + (f" (collector {main:.1f})" if main is not None else "")
        print(f"| {label} | {fmt_rps(rps)} | {fmt_ratio(rps, base_rps)} | {cpu_s} | "
              f"{fmt_ratio(cpu, base_cpu)} | {fmt_lat(k + '.p50_us')} | {fmt_lat(k + '.p99_us')} | "
              f"{fmt_mb(k + '.hwm_kb')} | {fmt_mb(k + '.idle_rss_kb')} | {g(k + '.loss')} |")
    rps, cpu = num("agg.rps"), num("agg.cpu_us")
    xr = num("xadd.rps")
    xcpu = num("xadd.cpu_us")
    print(f"| aggregator (hits applied/s) | {fmt_rps(rps)} | {fmt_ratio(rps, xr)} of XADD | {fmt_us(cpu)} | "
          f"{fmt_ratio(cpu, xcpu)} of XADD | n/a | n/a | {fmt_mb('agg.hwm_kb')} | n/a | {g('agg.loss')} |")
    if "ag.append_us" in res:
        nl = num("nginx_log.cpu_us")
        print(f"\nSplit (one more actiongap run with the aggregator paused): the collector and Redis "
              f"appending cost {fmt_us(num('ag.append_us'))} µs/hit ({fmt_ratio(num('ag.append_us'), nl)} "
              f"nginx+access_log; the collector alone {fmt_us(num('ag.append_coll_us'))}, "
              f"{fmt_ratio(num('ag.append_coll_us'), nl)}) at {fmt_rps(num('ag.split_rps'))} req/s "
              f"({fmt_ratio(num('ag.split_rps'), num('nginx_log.rps'))}); counting those hits afterwards "
              f"cost Redis {fmt_us(num('ag.count_redis_us'))} µs/hit and the aggregator "
              f"{fmt_us(num('ag.count_agg_us'))} µs/hit.")
    if "ag.lag_max" in res:
        print(f"\nAggregator lag while the collector ran at saturation (actiongap row): at most "
              f"{int(num('ag.lag_max')):,} entries behind (≈ {num('ag.lag_s'):.2f} s of that run's "
              f"traffic); caught up {num('ag.catchup_s'):.2f} s after the load stopped (medians of the runs).")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "freeport":
        freeport()
    elif cmd == "idle":
        idle(int(a[0]), int(a[1]), *a[2:3])
    elif cmd == "prefill":
        prefill(int(a[0]), *(a[1:2]), *(int(x) for x in a[2:3]))
    elif cmd == "pct":
        pct(a[0])
    elif cmd == "counters":
        counters(int(a[0]), *a[1:2])
    elif cmd == "metric":
        metric(a[0], a[1])
    elif cmd == "lag":
        lag(int(a[0]), a[1], a[2])
    elif cmd == "table":
        table(a[0])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
