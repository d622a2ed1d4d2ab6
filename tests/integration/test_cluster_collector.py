"""The collector's sink on a Redis Cluster of 3 masters on loopback, started
here and always torn down: hits over 16 partitions land exactly once in
their partition's stream on the master that owns its slot; a master frozen
with SIGSTOP for 10 s under load costs no answer and no hit; a partition's
slot moved under load (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE: the
steps of `redis-cli --cluster reshard`) is followed through ASK and MOVED,
counted on /metrics, every hit still exactly once."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import *  # noqa: F401,F403,E402

PARTS = 16
CAMPAIGNS = 64
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def crc16(data):
    """CRC16/XMODEM, as proto_crc16 and Redis Cluster compute it."""
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xffff if crc & 0x8000 else (crc << 1) & 0xffff
    return crc


class Cluster:
    """Three cluster-enabled redis-servers in a temp dir, joined by
    redis-cli --cluster create, waited for cluster_state:ok."""

    def __init__(self, masters=3):
        self.dir = tempfile.mkdtemp(prefix="ag-cluster-")
        self.procs = {}
        harness._cleanups.append(self.destroy)
        used = set()
        while len(used) < masters:   # the bus port (port + 10000) must be free too
            p = free_port()
            if p + 10000 < 65536 and p not in used:
                used.add(p)
        self.ports = sorted(used)
        for p in self.ports:
            self.procs[p] = subprocess.Popen(
                ["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--dir", self.dir,
                 "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{p}.conf",
                 "--cluster-node-timeout", "30000", "--save", "", "--appendonly", "no",
                 "--daemonize", "no", "--logfile", os.path.join(self.dir, f"redis-{p}.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in self.ports:
            wait_for(lambda: Redis(p)("PING") == "PONG", what=f"redis {p}")
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
                        "--cluster-yes"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        for p in self.ports:
            wait_for(lambda: b"cluster_state:ok" in Redis(p)("CLUSTER", "INFO"), timeout=30,
                     what=f"cluster_state:ok on {p}")

    def url(self):
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def owner(self, slot):
        """Returns the port of the master that owns slot."""
        for lo, hi, master, *_ in Redis(self.ports[0])("CLUSTER", "SLOTS"):
            if lo <= slot <= hi:
                return master[1]
        raise AssertionError(f"slot {slot} has no master")

    def node_id(self, port):
        return Redis(port)("CLUSTER", "MYID").decode()

    def destroy(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                except OSError:
                    pass
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def key(p):
    return f"ag:hits:{{{p}}}"


def slot(p):
    return crc16(str(p).encode()) % 16384


def cluster_metrics(col):
    """Returns {kind: count} of ag_redis_cluster_redirects_total and the map reads."""
    body = http_get(col.port, "/metrics")[2].decode()
    out = {}
    for line in body.splitlines():
        if line.startswith("ag_redis_cluster_redirects_total{kind=\""):
            out[line.split('"')[1]] = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("ag_redis_cluster_map_reads_total "):
            out["map_reads"] = int(float(line.rsplit(" ", 1)[1]))
    return out


def survey(cl):
    """Reads every partition's stream on the master owning its slot.
    Returns (nonces in order, entries found on the wrong node or stream)."""
    found, misplaced = [], 0
    for p in range(PARTS):
        owner = cl.owner(slot(p))     # another master would answer MOVED
        for _, f in Redis(owner).xrange_all(key(p)):
            if crc16(f["campaign"].encode()) % PARTS != p:
                misplaced += 1
            found.append(f.get("nonce"))
    return found, misplaced


def wait_exact(cl, want, timeout=60):
    """Waits until every wanted nonce is stored; returns (found, misplaced)."""
    deadline = time.monotonic() + timeout
    while True:
        found, misplaced = survey(cl)
        if set(found) >= want or time.monotonic() > deadline:
            time.sleep(0.5)     # a duplicate would land by now
            return survey(cl)
        time.sleep(0.3)


def load(col, n, prefix, rate):
    return PixelLoad(col.port, n, prefix=prefix, rate=rate, campaign="cmp", campaigns=CAMPAIGNS,
                     conns=4).start()


t0 = time.monotonic()
cl = Cluster()
col = Collector(cl, threads=2, extra=("--partitions", str(PARTS)))
owners = {p: cl.owner(slot(p)) for p in range(PARTS)}
spread = {port: sum(1 for o in owners.values() if o == port) for port in cl.ports}
print(f"partitions per master: {spread}", flush=True)
want = set()
sent = 0

# 1. hits over 16 partitions, as fast as they come
N1 = 3000
a = load(col, N1, "a", 0).wait()
check(not a.errors, f"every hit of the first batch answered 200 ({a.errors[:3]})")
want |= {f"a{i}" for i in range(N1)}
sent += N1
found, misplaced = wait_exact(cl, want)
dups = len(found) - len(set(found))
parts_used = sum(1 for p in range(PARTS) if Redis(owners[p])("XLEN", key(p)) > 0)
check(set(found) == want and dups == 0 and misplaced == 0,
      f"spread: sent {N1}, found {len(found)}, duplicates {dups}, misplaced {misplaced}")
check(parts_used == PARTS, f"all {PARTS} partitions written ({parts_used})")
print(f"spread: sent {N1}, found {len(found)} in {parts_used} partitions on {len(cl.ports)} masters, "
      f"duplicates {dups}, misplaced {misplaced}", flush=True)

# 2. one master frozen for 10 s under load
RATE, SECONDS = 250, 14
N2 = RATE * SECONDS
frozen = owners[0]
b = load(col, N2, "b", RATE)
time.sleep(2)
cl.procs[frozen].send_signal(signal.SIGSTOP)
time.sleep(10)
cl.procs[frozen].send_signal(signal.SIGCONT)
b.wait()
spooled_peak = col.metric("ag_hits_spooled_total")
check(not b.errors and b.answered == N2, f"every hit answered 200 while a master was frozen "
      f"({b.answered} of {N2}; {b.errors[:3]})")
want |= {f"b{i}" for i in range(N2)}
sent += N2
wait_for(lambda: col.health()["spooled"] == 0 and col.health()["redis"] == "up", timeout=60,
         what="the spool to drain")
found, misplaced = wait_exact(cl, want)
dups = len(found) - len(set(found))
check(set(found) == want and dups == 0 and misplaced == 0,
      f"frozen master: sent {sent}, found {len(found)}, duplicates {dups}, misplaced {misplaced}")
print(f"master {frozen} SIGSTOP 10 s: sent {N2} (all answered 200, max {max(b.latencies) * 1000:.1f} ms), "
      f"spooled {int(spooled_peak)}, reconciled {int(col.metric('ag_hits_reconciled_total'))}; "
      f"total sent {sent}, found {len(found)}, duplicates {dups}", flush=True)

# 3. a partition's slot moved to another master under load
P = next(p for p in range(PARTS) if owners[p] != frozen)
src = owners[P]
dst = next(port for port in cl.ports if port != src)
s = slot(P)
before = cluster_metrics(col)
N3 = RATE * 8
c = load(col, N3, "c", RATE)
time.sleep(1.5)
src_id, dst_id = cl.node_id(src), cl.node_id(dst)
Redis(dst)("CLUSTER", "SETSLOT", s, "IMPORTING", src_id)
Redis(src)("CLUSTER", "SETSLOT", s, "MIGRATING", dst_id)
Redis(src)("MIGRATE", "127.0.0.1", dst, "", 0, 5000, "KEYS", key(P))
time.sleep(2)           # the stream is on dst, the slot still src's: ASK
for port in (dst, src, *[q for q in cl.ports if q not in (src, dst)]):
    Redis(port)("CLUSTER", "SETSLOT", s, "NODE", dst_id)
time.sleep(0.5)
c.wait()
check(not c.errors and c.answered == N3, f"every hit answered 200 during the move ({c.answered} of {N3})")
want |= {f"c{i}" for i in range(N3)}
sent += N3
wait_for(lambda: cl.owner(s) == dst, what="the slot to be dst's in every map")
wait_for(lambda: col.health()["spooled"] == 0 and col.health()["redis"] == "up", timeout=60,
         what="the spool to drain after the move")
found, misplaced = wait_exact(cl, want)
dups = len(found) - len(set(found))
after = cluster_metrics(col)
delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
check(delta.get("ask", 0) > 0, f"ASK counted on /metrics ({delta})")
check(delta.get("moved", 0) > 0, f"MOVED counted on /metrics ({delta})")
check(delta.get("map_reads", 0) > 0, f"the map read again ({delta})")


def moved_to(port, k):
    try:
        Redis(port)("EXISTS", k)
    except RespError as e:
        return str(e).endswith(f":{dst}") and str(e).startswith("MOVED")
    return False


check(Redis(dst)("XLEN", key(P)) > 0 and moved_to(src, key(P)),
      f"partition {P}'s stream now on {dst}, {src} answers MOVED for it")
check(set(found) == want and dups == 0 and misplaced == 0,
      f"reshard: sent {sent}, found {len(found)}, duplicates {dups}, misplaced {misplaced}")
print(f"slot {s} (partition {P}) moved {src} -> {dst} under load: sent {N3}, "
      f"ask {delta.get('ask')}, moved {delta.get('moved')}, map reads {delta.get('map_reads')}; "
      f"total sent {sent}, found {len(found)}, duplicates {dups}", flush=True)

check(col.metric("ag_hits_dropped_total") == 0, "no hit dropped")
check(col.stop() == 0, "collector exits 0")
print(f"test_cluster_collector: {time.monotonic() - t0:.1f} s", flush=True)
done("test_cluster_collector")
