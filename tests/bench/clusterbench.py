#!/usr/bin/env python3
"""clusterbench.py: helpers of tests/bench/cluster.sh (standard library only;
bench.py's RESP client and pre-filler's hit mix).

  clusterbench.py topo PORT PARTS         the masters (lowest slot first) and
                                          each partition stream's slot and
                                          master: "master PORT" lines, then
                                          "part P SLOT PORT" lines
  clusterbench.py xlen PORT PARTS         XLEN of every ag:hits:{P} on its
                                          master: "total=N PORT=N PORT=N ..."
  clusterbench.py prefill N PARTS DIR SEED PORT
                                          N XADD commands (bench.py prefill's
                                          mix: 1,000 campaigns Zipf, 100,000
                                          subjects) each on its campaign's
                                          partition stream, written as one RESP
                                          file per master, DIR/<port>.resp, for
                                          `redis-cli -p PORT --pipe`; prints
                                          "PORT=N" lines (hits per master)
  clusterbench.py backlog PORT PARTS       entries not yet counted: the group
                                          `aggregator`'s lag + pending, summed
  clusterbench.py sample PORT PARTS COLL_METRICS_URL OUT
                                          until SIGTERM: max and p99 of the
                                          collector's queue depth and of that
                                          backlog, sampled every 0.2 s
  clusterbench.py ports N                 N distinct free TCP ports
  clusterbench.py table RESULTS           the markdown table of cluster.sh
  clusterbench.py counters PORT           the sum of every campaign's counters
                                          on a cluster (keys routed by slot)
  clusterbench.py seed-leases PORT PARTS CONSUMER... [--ms MS]
                                          SET ag:lease:{P} to the consumer of
                                          P's master (masters in topo order,
                                          one consumer each), PX MS (10000)
  clusterbench.py owned URL...            partitions each aggregator's /metrics
                                          says it holds: "a/b/c"
  clusterbench.py hist URL NAME           mean and p99 (bucket bound) of a
                                          Prometheus histogram: "mean=S p99=S n=N"
  clusterbench.py cmdstats LABEL HITS PORT...
                                          INFO commandstats of each node since
                                          CONFIG RESETSTAT, µs per hit, dearest
                                          first (one line per node)
  clusterbench.py genmem PORT CAMPAIGNS HOURS HITS SUBJECTS
                                          memory probe input: HITS hits spread
                                          evenly over CAMPAIGNS campaigns and
                                          the last HOURS hours (all within the
                                          24 h nonce window), SUBJECTS subjects
                                          per campaign, on ag:hits:{0} of a
                                          single redis-server at PORT (RESP on
                                          stdout, for redis-cli --pipe)
  clusterbench.py memory PORT CAMPAIGNS HOURS HITS SUBJECTS
                                          MEMORY USAGE of every key on a single
                                          redis-server, by kind, and per unit
                                          (per campaign, campaign-hour,
                                          campaign-day, nonce, stream entry,
                                          audience subject): key=value lines
"""

import bisect
import itertools
import os
import random
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import Resp, UAS, _bulk  # noqa: E402

# one CRC16 and slot function for the tests and the benchmarks: the fixture's
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from cluster import SLOTS, crc16, keyslot  # noqa: E402


def partition(campaign, parts):
    """proto_partition: crc16 of the whole campaign name mod partitions."""
    return 0 if parts <= 1 else crc16(campaign) % parts


class Cluster:
    """Slot map from CLUSTER SLOTS and one Resp connection per master."""

    def __init__(self, port):
        r = Resp(int(port))
        r.send("CLUSTER", "SLOTS")
        try:
            rows = r.reply()
            self.ranges = sorted((row[0], row[1], int(row[2][1])) for row in rows)
        except RuntimeError:        # one redis-server: it holds every slot
            self.ranges = [(0, SLOTS - 1, int(port))]
        r.s.close()
        self.starts = [a for a, _, _ in self.ranges]
        first = {}
        for a, _, p in self.ranges:
            first.setdefault(p, a)
        self.masters = sorted(first, key=lambda p: first[p])
        self.conns = {}

    def node(self, slot):
        i = bisect.bisect_right(self.starts, slot) - 1
        a, b, p = self.ranges[i]
        if not a <= slot <= b:
            raise RuntimeError(f"slot {slot} not served")
        return p

    def node_of(self, key):
        return self.node(keyslot(key))

    def conn(self, port):
        if port not in self.conns:
            self.conns[port] = Resp(port)
        return self.conns[port]

    def call(self, *args, key=None):
        c = self.conn(self.node_of(key if key is not None else args[1]))
        c.send(*args)
        return c.reply()

    def pipeline(self, cmds):
        """cmds: [(key, args)] -> replies in order (one pipeline per node)."""
        by = {}
        for i, (k, a) in enumerate(cmds):
            by.setdefault(self.node_of(k), []).append((i, a))
        out = [None] * len(cmds)
        for port, items in by.items():
            c = self.conn(port)
            for j in range(0, len(items), 1000):
                chunk = items[j:j + 1000]
                for _, a in chunk:
                    c.send(*a)
                for i, _ in chunk:
                    try:
                        out[i] = c.reply()
                    except RuntimeError as e:   # an error reply: the rest stays in step
                        out[i] = e
        return out


def topo(port, parts):
    c = Cluster(port)
    for m in c.masters:
        print(f"master {m}")
    for p in range(int(parts)):
        s = keyslot(f"ag:hits:{{{p}}}")
        print(f"part {p} {s} {c.node(s)}")


def xlen(port, parts):
    c = Cluster(port)
    per = {m: 0 for m in c.masters}
    keys = [f"ag:hits:{{{p}}}" for p in range(int(parts))]
    for k, n in zip(keys, c.pipeline([(k, ("XLEN", k)) for k in keys])):
        per[c.node_of(k)] += n
    print(f"total={sum(per.values())} " + " ".join(f"{m}={per[m]}" for m in c.masters))


def backlog(port, parts):
    """Entries of every partition's group not yet acknowledged: lag (not
    delivered) + pending (delivered, not acknowledged)."""
    c = Cluster(port)
    keys = [f"ag:hits:{{{p}}}" for p in range(int(parts))]
    total = 0
    for k, g in zip(keys, c.pipeline([(k, ("XINFO", "GROUPS", k)) for k in keys])):
        if isinstance(g, Exception):
            if "no such key" in str(g):
                continue
            raise g
        for grp in g or []:
            d = dict(zip(grp[::2], grp[1::2]))
            if d.get(b"name") != b"aggregator":
                continue
            total += int(d.get(b"pending") or 0) + int(d.get(b"lag") or 0)
    return total


def sample(port, parts, coll_url, out, every=0.2):
    """Until SIGTERM: the collector's queue depth (hits held in memory
    awaiting Redis) and the aggregator's backlog, every `every` s; writes
    their maxima and p99 to out."""
    import signal
    state = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: state.__setitem__("stop", True))
    q, b = [], []
    while not state["stop"]:
        try:
            depth = 0
            for line in _metrics(coll_url).splitlines():
                if line.startswith("ag_queue_depth"):
                    depth += int(float(line.rsplit(" ", 1)[1]))
            q.append(depth)
            b.append(backlog(port, parts))
        except Exception:  # noqa: BLE001 -- a sample lost is no reason to stop
            pass
        time.sleep(float(every))
    def p99(v):
        v = sorted(v)
        return v[min(len(v) - 1, int(0.99 * len(v)))] if v else 0
    with open(out, "w") as f:
        f.write(f"sample queue_max={max(q, default=0)} queue_p99={p99(q)} "
                f"backlog_max={max(b, default=0)} backlog_p99={p99(b)} n={len(q)}\n")


def ports(n):
    """n distinct TCP ports free a moment ago (held together while picked)."""
    import socket
    socks = []
    for _ in range(int(n)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def prefill(n, parts, outdir, seed, port):
    """bench.py prefill's mix, each hit on its campaign's partition stream,
    one RESP file per master."""
    n, parts, seed = int(n), int(parts), int(seed)
    c = Cluster(port)
    rnd = random.Random(seed)
    camps = [b"camp-%d" % i for i in range(1000)]
    cum = list(itertools.accumulate(1.0 / (k + 1) for k in range(1000)))
    events = [b"open", b"view", b"click", b"signup"]
    ev_cum = [55, 80, 95, 100]
    agents = [b"human", b"mailproxy", b"bot"]
    ag_cum = [90, 97, 100]
    ag_tail = {a: _bulk(b"agent") + _bulk(a) + _bulk(b"ua") + _bulk(UAS[a.decode()].encode())
               + _bulk(b"via") + _bulk(b"pixel") for a in agents}
    head = {}
    node_of_camp = {}
    for cm in camps:
        key = b"ag:hits:{%d}" % partition(cm, parts)
        head[cm] = _bulk(b"XADD") + _bulk(key) + _bulk(b"*")
        node_of_camp[cm] = c.node_of(key)
    f = {k: _bulk(k) for k in (b"hid", b"ts", b"campaign", b"event", b"subject", b"ref", b"nonce", b"ip")}
    files = {m: open(os.path.join(outdir, f"{m}.resp"), "wb") for m in c.masters}
    chunks = {m: [] for m in c.masters}
    count = {m: 0 for m in c.masters}
    ts0 = int(time.time() * 1000) - n // 100
    total = cum[-1]
    for i in range(n):
        cm = camps[bisect.bisect_left(cum, rnd.random() * total)]
        e = events[bisect.bisect_right(ev_cum, rnd.random() * 100)]
        a = agents[bisect.bisect_right(ag_cum, rnd.random() * 100)]
        subj = b"subj-%d" % rnd.randrange(100000)
        has_ref = rnd.random() < 0.1
        nf = 11 if has_ref else 10
        parts_ = [b"*%d\r\n" % (3 + 2 * nf), head[cm],
                  f[b"hid"], _bulk(b"bench.%d-%d" % (seed, i + 1)),
                  f[b"ts"], _bulk(b"%d" % (ts0 + i // 100)),
                  f[b"campaign"], _bulk(cm),
                  f[b"event"], _bulk(e),
                  f[b"subject"], _bulk(subj)]
        if has_ref:
            parts_ += [f[b"ref"], _bulk(b"adv-%d" % rnd.randrange(50))]
        parts_ += [f[b"nonce"], _bulk(b"pf-%d-%d" % (seed, i)),
                   f[b"ip"], _bulk(b"198.51.%d.0" % rnd.randrange(256)),
                   ag_tail[a]]
        m = node_of_camp[cm]
        chunks[m].append(b"".join(parts_))
        count[m] += 1
        if len(chunks[m]) >= 5000:
            files[m].write(b"".join(chunks[m]))
            chunks[m] = []
    for m in c.masters:
        files[m].write(b"".join(chunks[m]))
        files[m].close()
        print(f"{m}={count[m]}")


def counters(port):
    c = Cluster(port)
    camps = c.call("ZRANGE", "ag:campaigns", 0, -1)
    skip = {b"value", b"first_ts", b"last_ts"}
    total = 0
    keys = [b"ag:c:{%s}" % cm for cm in camps]
    for h in c.pipeline([(k, ("HGETALL", k)) for k in keys]):
        for k, v in zip(h[::2], h[1::2]):
            if k not in skip:
                total += int(v)
    print(f"total={total} campaigns={len(camps)}")


def seed_leases(port, parts, consumers, ms=10000):
    c = Cluster(port)
    if len(consumers) != len(c.masters):
        raise SystemExit(f"seed-leases: {len(c.masters)} masters, {len(consumers)} consumers")
    who = dict(zip(c.masters, consumers))
    for p in range(int(parts)):
        k = f"ag:lease:{{{p}}}"
        c.call("SET", k, who[c.node_of(k)], "PX", int(ms))
    print(" ".join(f"{m}:{who[m]}" for m in c.masters))


def _metrics(url):
    return urllib.request.urlopen(url, timeout=5).read().decode()


def owned(urls):
    out = []
    for u in urls:
        n = 0
        for line in _metrics(u).splitlines():
            if line.startswith("ag_agg_partition_owned{"):
                n += int(float(line.rsplit(" ", 1)[1]))
        out.append(str(n))
    print("/".join(out))


def hist(url, name):
    bounds, s, cnt = [], 0.0, 0
    for line in _metrics(url).splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bounds.append((float("inf") if le == "+Inf" else float(le), int(float(line.rsplit(" ", 1)[1]))))
        elif line.startswith(name + "_sum "):
            s = float(line.split()[1])
        elif line.startswith(name + "_count "):
            cnt = int(float(line.split()[1]))
    p99 = "nan"
    for le, c in bounds:
        if cnt and c >= 0.99 * cnt:
            p99 = f"{le:g}"
            break
    print(f"mean={s / cnt if cnt else float('nan'):.4f} p99={p99} n={cnt}")


def cmdstats(label, hits, ports):
    hits = max(1, int(hits))
    for port in ports:
        r = Resp(int(port))
        r.send("INFO", "commandstats")
        raw = r.reply().decode()
        u, calls = {}, {}
        for line in raw.splitlines():
            if not line.startswith("cmdstat_"):
                continue
            name, _, rest = line[8:].partition(":")
            kv = dict(x.split("=", 1) for x in rest.split(","))
            u[name] = int(kv["usec"])
            calls[name] = int(kv["calls"])
        total = sum(u.values())
        top = sorted(u, key=u.get, reverse=True)[:7]
        if "wait" in u and "wait" not in top:     # replicas_ack: always said
            top.append("wait")
        parts = [f"{k} {u[k] / hits:.2f} µs ({100 * u[k] / total if total else 0:.0f}%, "
                 f"{calls[k] / hits:.3f}/hit)" for k in top]
        print(f"  {label} :{port}: commandstats {total / hits:.2f} µs/hit: " + "; ".join(parts))


# ---------------------------------------------------------------- memory probe

def genmem(port, ncamp, hours, nhits, subjects):
    """nhits hits, evenly over ncamp campaigns x hours (each campaign-hour
    the same number), subjects drawn uniformly from `subjects` per campaign,
    events open 55 % / view 25 % / click 15 % / signup 5 %, ref on 10 %,
    human agents only (they touch every structure), unique nonces. ts over
    the last `hours` hours (minus a margin, inside the 24 h nonce window)."""
    ncamp, hours, nhits, subjects = int(ncamp), int(hours), int(nhits), int(subjects)
    rnd = random.Random(7)
    now = int(time.time() * 1000)
    hour_ms = 3600 * 1000
    base = (now // hour_ms - hours + 1) * hour_ms   # the start of the oldest hour
    events = [b"open", b"view", b"click", b"signup"]
    ev_cum = [55, 80, 95, 100]
    tail = (_bulk(b"ip") + _bulk(b"198.51.100.0") + _bulk(b"agent") + _bulk(b"human")
            + _bulk(b"ua") + _bulk(UAS["human"].encode()) + _bulk(b"via") + _bulk(b"pixel"))
    head = _bulk(b"XADD") + _bulk(b"ag:hits:{0}") + _bulk(b"*")
    out = sys.stdout.buffer
    chunk = []
    per_ch = nhits // (ncamp * hours)
    i = 0
    for h in range(hours):
        t_lo = base + h * hour_ms
        t_hi = min(t_lo + hour_ms, now - 60000)
        for k in range(per_ch * ncamp):
            cm = b"mem-%d" % (k % ncamp)
            ts = t_lo + (k * (t_hi - t_lo)) // (per_ch * ncamp)
            e = events[bisect.bisect_right(ev_cum, rnd.random() * 100)]
            has_ref = rnd.random() < 0.1
            nf = 11 if has_ref else 10
            p = [b"*%d\r\n" % (3 + 2 * nf), head,
                 _bulk(b"hid"), _bulk(b"mem.0-%d" % (i + 1)),
                 _bulk(b"ts"), _bulk(b"%d" % ts),
                 _bulk(b"campaign"), _bulk(cm),
                 _bulk(b"event"), _bulk(e),
                 _bulk(b"subject"), _bulk(b"subscriber-%07d" % rnd.randrange(subjects))]
            if has_ref:
                p += [_bulk(b"ref"), _bulk(b"adv-%d" % rnd.randrange(50))]
            p += [_bulk(b"nonce"), _bulk(b"%016x" % rnd.getrandbits(64)), tail]
            chunk.append(b"".join(p))
            i += 1
            if len(chunk) >= 5000:
                out.write(b"".join(chunk))
                chunk = []
    out.write(b"".join(chunk))
    out.flush()
    print(f"genmem: {i} hits, {per_ch} per campaign-hour", file=sys.stderr)


def memory(port, ncamp, hours, nhits, subjects):
    ncamp, hours = int(ncamp), int(hours)
    r = Resp(int(port))
    keys, cur = [], b"0"
    while True:
        r.send("SCAN", cur, "COUNT", 1000)
        cur, ks = r.reply()
        keys += ks
        if cur == b"0":
            break
    for k in keys:
        r.send("MEMORY", "USAGE", k, "SAMPLES", 0)
    use = [r.reply() or 0 for _ in keys]
    for k in keys:
        r.send("TYPE", k)
    types = [r.reply() for _ in keys]
    kinds = {}

    def add(kind, n, b, items=0):
        d = kinds.setdefault(kind, [0, 0, 0])
        d[0] += n
        d[1] += b
        d[2] += items

    for k, b, t in zip(keys, use, types):
        s = k.decode()
        items = 0
        if s.startswith("ag:hits:"):
            r.send("XLEN", k)
            items = r.reply()
            add("stream", 1, b, items)
        elif s.startswith("ag:c:{"):
            rest = s.split("}", 1)[1]
            if rest == "":
                add("totals", 1, b)
            elif rest.startswith(":h:"):
                add("hour", 1, b)
            elif rest.startswith(":d:"):
                add("day", 1, b)
            elif rest.startswith(":u:") or rest.startswith(":scroll:"):
                add("hll", 1, b)
            elif rest.startswith(":aud:"):
                r.send("HLEN", k)
                add("audience", 1, b, r.reply())
            elif rest == ":nonce":
                r.send("ZCARD", k)
                add("nonce", 1, b, r.reply())
            else:
                add("other:" + rest.lstrip(":").split(":")[0], 1, b)
        else:
            add("global", 1, b)
    r.send("INFO", "memory")
    info = dict(l.split(":", 1) for l in r.reply().decode().splitlines() if ":" in l)
    print(f"used_memory={info.get('used_memory', '0')}")
    for kind in sorted(kinds):
        n, b, items = kinds[kind]
        print(f"{kind}.keys={n}")
        print(f"{kind}.bytes={b}")
        if items:
            print(f"{kind}.items={items}")
    # per unit
    def per(kind, unit):
        n, b, items = kinds.get(kind, (0, 0, 0))
        return b / unit if unit else 0
    print(f"per.totals_campaign={per('totals', ncamp):.0f}")
    print(f"per.hll_campaign={per('hll', ncamp):.0f}")
    print(f"per.hour_bucket={per('hour', kinds.get('hour', [0])[0]):.0f}")
    print(f"per.day_bucket={per('day', kinds.get('day', [0])[0]):.0f}")
    print(f"per.nonce={per('nonce', kinds.get('nonce', [0, 0, 0])[2]):.1f}")
    print(f"per.stream_entry={per('stream', kinds.get('stream', [0, 0, 0])[2]):.1f}")
    print(f"per.audience_subject={per('audience', kinds.get('audience', [0, 0, 0])[2]):.1f}")
    other = sum(v[1] for k, v in kinds.items() if k.startswith("other:"))
    print(f"per.other_campaign={other / ncamp:.0f}")


# ---------------------------------------------------------------- table

def table(path):
    res = {}
    with open(path) as fh:
        for line in fh:
            k, _, v = line.rstrip("\n").partition("=")
            res[k] = v

    def g(r, k, d=""):
        return res.get(f"{r}.{k}", d)

    def nums(r, k):
        return [float(x) for x in g(r, k).split()]

    def total(r):
        return sum(nums(r, "cpu_coll") + nums(r, "cpu_redis") + nums(r, "cpu_repl") + nums(r, "cpu_agg"))

    def each(v):
        if not v:
            return "–"
        s = " + ".join(f"{x:.1f}" for x in v)
        return s if len(v) == 1 else f"{s} = {sum(v):.1f}"

    print("| setup | aggregators | load | hits | req/s (hits/s applied) | CPU µs/hit, all processes "
          "| collector | each Redis master | each replica | each aggregator | hits per master (share) "
          "| p50 / p99 | loss |")
    print("|" + "---|" * 13)
    for r in res.get("rows", "").split(","):
        if not r or f"{r}.hits" not in res:
            continue
        base = g(r, "base")
        t = total(r)
        ratio = ""
        if base and f"{base}.hits" in res and total(base) > 0 and base != r:
            ratio = f" ({t / total(base):.2f}× {g(base, 'short', base)})"
        rate = float(g(r, "rate", "0") or 0)
        rratio = ""
        if base and base != r and float(g(base, "rate", "0") or 0) > 0 and g(r, "ratekind") == "sat":
            rratio = f" ({rate / float(g(base, 'rate')):.2f}×)"
        spread = [int(x) for x in g(r, "spread").split()]
        sp = "–"
        if len(spread) > 1 and sum(spread):
            sp = " / ".join(f"{x:,} ({100 * x / sum(spread):.0f} %)" for x in spread)
        lat = "–"
        if g(r, "p99"):
            lat = f"{float(g(r, 'p50')) / 1000:.2f} / {float(g(r, 'p99')) / 1000:.2f} ms"
        print(f"| {g(r, 'setup')} | {g(r, 'aggs')} | {g(r, 'load')} | {int(g(r, 'hits', '0')):,} "
              f"| {rate:,.0f}{rratio} | **{t:.1f}**{ratio} | {each(nums(r, 'cpu_coll'))} "
              f"| {each(nums(r, 'cpu_redis'))} | {each(nums(r, 'cpu_repl'))} | {each(nums(r, 'cpu_agg'))} "
              f"| {sp} | {lat} | {g(r, 'loss', 'n/a')} |")
    if "mem.used_memory" in res:
        def m(k):
            return float(res.get("mem." + k, "0") or 0)
        hll_keys = m("hll.keys") / max(1, m("totals.keys"))
        print()
        print(f"Memory, one redis-server after counting {res.get('mem.shape')}: "
              f"an hour bucket {m('per.hour_bucket'):.0f} B, a day bucket {m('per.day_bucket'):.0f} B, "
              f"HyperLogLogs {m('per.hll_campaign'):,.0f} B a campaign ({hll_keys:.0f} keys), "
              f"totals {m('per.totals_campaign'):.0f} B and the other small keys {m('per.other_campaign'):,.0f} B "
              f"a campaign, audience {m('per.audience_subject'):.1f} B a subject "
              f"({m('audience.items'):,.0f} subjects in {m('audience.keys'):,.0f} buckets), "
              f"nonce {m('per.nonce'):.1f} B a hit ({m('nonce.items'):,.0f} in the ZSETs), "
              f"stream {m('per.stream_entry'):.1f} B an entry; used_memory {m('used_memory') / 1048576:.1f} MiB.")
    notes = [res[k] for k in sorted(res) if k.startswith("note.")]
    if notes:
        print()
        for n in notes:
            print(f"- {n}")


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "topo":
        topo(*a)
    elif cmd == "xlen":
        xlen(*a)
    elif cmd == "backlog":
        print(backlog(*a))
    elif cmd == "sample":
        sample(*a)
    elif cmd == "ports":
        ports(*a)
    elif cmd == "table":
        table(*a)
    elif cmd == "prefill":
        prefill(*a)
    elif cmd == "counters":
        counters(*a)
    elif cmd == "seed-leases":
        ms = 10000
        if "--ms" in a:
            i = a.index("--ms")
            ms = int(a[i + 1])
            a = a[:i] + a[i + 2:]
        seed_leases(a[0], a[1], a[2:], ms)
    elif cmd == "owned":
        owned(a)
    elif cmd == "hist":
        hist(*a)
    elif cmd == "cmdstats":
        cmdstats(a[0], a[1], a[2:])
    elif cmd == "genmem":
        genmem(*a)
    elif cmd == "memory":
        memory(*a)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
