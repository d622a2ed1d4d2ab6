"""cluster_e2e.py: what the end-to-end cluster tests (issue 14 item 5:
test_cluster_campaign, _failover, _reshard, _shard_outage) share on top of
cluster.py's fixture and harness.py: the partitions spread with `actiongap
cluster --balance`, every hit stream read through a ClusterClient, the
exact-count checks ("sent N, stored N, counted N") and the redirect
counters of both daemons' /metrics."""

import collections
import json
import subprocess
import time

from harness import CLI, check, hgetall, http_get, wait_for
from cluster import keyslot

PARTS = 16      # the default on a cluster (partitions = 0)
HUMAN = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def cli(c, *args, timeout=60):
    """Runs `actiongap --redis <cluster> args...`."""
    return subprocess.run([CLI, "--redis", c.url(), *args], capture_output=True, text=True,
                          timeout=timeout)


def balance(c):
    """`actiongap cluster --balance` once: the 16 partitions 6/5/5 over the
    3 masters. Returns {master port: [partitions]} as the cluster says."""
    out = cli(c, "cluster", "--balance", "--json")
    check(out.returncode == 0, f"actiongap cluster --balance exits 0: {out.stderr}")
    doc = json.loads(out.stdout)
    held = sorted(m["partitions"] for m in doc["masters"])
    check(held == [5, 5, 6], f"the masters hold 6/5/5 partitions after --balance: {held}")
    c.wait_ok()
    return partitions_by_master(c)


def partitions_by_master(c):
    out = collections.defaultdict(list)
    for p in range(PARTS):
        out[c.slot_owner(keyslot(f"ag:hits:{{{p}}}"))].append(p)
    return dict(out)


def campaign_master(c, camp):
    return c.slot_owner(keyslot(f"ag:c:{{{camp}}}"))


def partition_of(camp):
    """The partition of a campaign: CRC16 of its id modulo the partitions."""
    from cluster import crc16
    return crc16(camp.encode()) % PARTS


def entries(r, parts=PARTS):
    """Every entry of every partition stream, partition by partition in
    stream order (so each campaign's entries keep their order)."""
    out = []
    for p in range(parts):
        out += r.xrange_all(f"ag:hits:{{{p}}}")
    return out


def wait_drained(col, timeout=90):
    """Until the collector holds nothing in its spool and its sink is up."""
    wait_for(lambda: col.health()["spooled"] == 0 and col.health()["held"] == 0
             and col.health()["redis"] == "up", timeout=timeout, interval=0.1,
             what="the collector's spool to drain")


def stored_check(r, sent_nonces, prefix, what):
    """Stored N: every nonce sent with `prefix` found once across all the
    streams, each hid once, nothing else with that prefix. Returns the
    entries and the counts (found, duplicates, lost, extra)."""
    ents = entries(r)
    mine = [f for _, f in ents if f.get("nonce", "").startswith(prefix)]
    nonces = collections.Counter(f["nonce"] for f in mine)
    hids = collections.Counter(f["hid"] for _, f in ents)
    dups = sum(n - 1 for n in nonces.values() if n > 1)
    dup_hids = sum(n - 1 for n in hids.values() if n > 1)
    lost = len(set(sent_nonces) - set(nonces))
    extra = len(set(nonces) - set(sent_nonces))
    check(dups == 0 and dup_hids == 0, f"{what}: no hit stored twice ({dups} nonces, {dup_hids} hids)")
    check(extra == 0, f"{what}: nothing stored that was not sent ({extra})")
    return ents, {"found": len(set(nonces)), "dups": dups + dup_hids, "lost": lost}


def totals(r, camps, field):
    return sum(int(hgetall(r, f"ag:c:{{{c}}}").get(field, 0)) for c in camps)


def redirects(d, metric):
    """{kind: count} of a daemon's `metric{kind=...}` on /metrics."""
    body = http_get(d.port, "/metrics")[2].decode()
    out = {}
    for line in body.splitlines():
        if line.startswith(metric + '{kind="'):
            out[line.split('"')[1]] = int(float(line.rsplit(" ", 1)[1]))
    return out


def alerts(r, kind=None):
    """ag:alerts as [(kind, campaign, subject)] (an alert's identity)."""
    return [(f["kind"], f["campaign"], f["subject"]) for _, f in r.xrange_all("ag:alerts")
            if kind is None or f["kind"] == kind]


def pixel_loads(port, n, prefix, rate, campaign, campaigns, signups=0, conns=4):
    """A PixelLoad of n opens over `campaigns` campaigns at `rate`/s, and
    (signups > 0) one of `signups` signups over the same campaigns at
    about the same pace (each subject signs up once: pending alerts)."""
    from harness import PixelLoad
    loads = [PixelLoad(port, n, prefix=prefix, rate=rate, campaign=campaign, campaigns=campaigns,
                       conns=conns).start()]
    if signups:
        dur = n / rate if rate else 1.0
        loads.append(PixelLoad(port, signups, prefix=prefix + "g", rate=max(1, signups / dur),
                               campaign=campaign, campaigns=campaigns, conns=1,
                               event="signup").start())
    return loads


def wait_loads(loads):
    for ld in loads:
        ld.wait()
    return sum(ld.sent for ld in loads), [e for ld in loads for e in ld.errors]


def elapsed(t0):
    return f"{time.monotonic() - t0:.1f} s"


class CampaignLoad:
    """Opens (every 10th a signup of a new subject) over the named
    campaigns in turn, nonce <prefix><i>, at most `rate` a second over
    keep-alive connections, from a thread; .sent, .answered, .errors, and
    .nonces (every nonce sent)."""

    def __init__(self, port, names, rate, prefix, conns=4):
        import threading
        self.port, self.names, self.rate, self.prefix, self.nconns = port, list(names), rate, prefix, conns
        self.sent = self.answered = 0
        self.errors, self.nonces = [], []
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        from harness import Conn
        conns = [Conn(self.port) for _ in range(self.nconns)]
        t0 = time.monotonic()
        i = 0
        while not self.stopped:
            due = t0 + i / self.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            c = self.names[i % len(self.names)]
            ev = "signup" if i % 10 == 9 else "open"
            n = f"{self.prefix}{i}"
            path = f"/p.gif?c={c}&e={ev}&s=u{i // 10 if ev == 'signup' else i % 500}&n={n}"
            self.nonces.append(n)
            self.sent += 1
            k = i % self.nconns
            try:
                st, _, body = conns[k].request("GET", path, headers={"User-Agent": HUMAN})
                if st == 200 and len(body) == 43:
                    self.answered += 1
                else:
                    self.errors.append((i, st))
            except OSError as e:
                self.errors.append((i, repr(e)))
                try:
                    conns[k] = Conn(self.port)
                except OSError:
                    time.sleep(0.01)
            i += 1
        for c in conns:
            c.close()

    def stop(self):
        self.stopped = True
        self.thread.join(60)
        return self
