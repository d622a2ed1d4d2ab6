"""The collector's sink on a Redis Cluster of 3 masters on loopback, started
here and always torn down: hits over 16 partitions land exactly once in
their partition's stream on the master that owns its slot; a master frozen
with SIGSTOP for 10 s under load costs no answer and no hit; a partition's
slot moved under load (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE: the
steps of `redis-cli --cluster reshard`) is followed through ASK and MOVED,
counted on /metrics, every hit still exactly once."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403,E402
from cluster import Cluster, crc16, keyslot  # noqa: E402

PARTS = 16
CAMPAIGNS = 64
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"


def key(p):
    return f"ag:hits:{{{p}}}"


def slot(p):
    return keyslot(key(p))


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
        owner = cl.slot_owner(slot(p))     # another master would answer MOVED
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
# 3 masters, no replica (nothing here fails over); a node timeout longer
# than the 10 s freeze below, so that the frozen master is never flagged FAIL
cl = Cluster(replicas=0, node_timeout=30000)
masters = cl.masters()
col = Collector(cl, threads=2, extra=("--partitions", str(PARTS)))
owners = {p: cl.slot_owner(slot(p)) for p in range(PARTS)}
spread = {port: sum(1 for o in owners.values() if o == port) for port in masters}
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
print(f"spread: sent {N1}, found {len(found)} in {parts_used} partitions on {len(masters)} masters, "
      f"duplicates {dups}, misplaced {misplaced}", flush=True)

# 2. one master frozen for 10 s under load
RATE, SECONDS = 250, 14
N2 = RATE * SECONDS
frozen = owners[0]
b = load(col, N2, "b", RATE)
time.sleep(2)
cl.pause_node(frozen, 10).wait()
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
dst = next(port for port in masters if port != src)
s = slot(P)
before = cluster_metrics(col)
N3 = RATE * 8
c = load(col, N3, "c", RATE)
time.sleep(1.5)
m = cl.migration(s, dst).begin()          # dst IMPORTING, src MIGRATING
m.migrate()                               # the stream on dst, the slot still src's: ASK
time.sleep(2)
m.finish()                                # SETSLOT NODE on dst, src and the other master
time.sleep(0.5)
c.wait()
check(not c.errors and c.answered == N3, f"every hit answered 200 during the move ({c.answered} of {N3})")
want |= {f"c{i}" for i in range(N3)}
sent += N3
wait_for(lambda: cl.slot_owner(s) == dst, what="the slot to be dst's in every map")
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
cl.destroy()
print(f"test_cluster_collector: {time.monotonic() - t0:.1f} s", flush=True)
done("test_cluster_collector")
