"""Redis whose state is not what the daemons left: pointed at a replica
(READONLY, then MASTERDOWN once its master dies) until it is promoted; an
ACL user without XADD; FLUSHALL and a deleted stream mid-run; a restart
from an older snapshot. Nothing crashes, nothing accepted is lost while
Redis refuses, what is counted afterwards is exact, and what Redis itself
lost is said (ag_redis_rollbacks_total, one log line)."""
import subprocess, sys, os
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
LIMIT = 6       # warn/error lines a daemon may write in one outage


def opens(r, c):
    return int(hgetall(r, f"ag:c:{{{c}}}").get("open", "0"))


def send(col, c, n, prefix):
    """Sends n pixels of campaign c; returns how many were answered 200."""
    load = PixelLoad(col.port, n, prefix=prefix, rate=200, campaign=c).start().wait()
    check(not load.errors, f"{c}: every pixel answered ({load.errors[:3]})")
    return load.answered


def drained(col):
    wait_for(lambda: col.metric("ag_spool_records") == 0 and col.metric("ag_queue_depth") == 0,
             timeout=60, what="the collector's spool to drain")


def noisy(d, since):
    return [l for l in d.logs()[since:].splitlines() if "level=warn" in l or "level=error" in l]


# ---------------------------------------------------------------- a replica
primary = RedisServer(appendfsync="everysec")
replica = RedisServer(appendfsync="everysec")
rr = replica.client()
rr("REPLICAOF", "127.0.0.1", str(primary.port))
wait_for(lambda: b"master_link_status:up" in rr("INFO", "replication"), timeout=20, what="replica in sync")
col = Collector(replica, start=False)
col.start(wait_redis=False)
agg = Aggregator(replica)
sent = send(col, "ro", 300, "ro-")                      # READONLY
check(col.metric("ag_spool_records") == 300, f"readonly: 300 hits held in the spool "
      f"({col.metric('ag_spool_records'):.0f})")
primary.kill()
rr("CONFIG", "SET", "replica-serve-stale-data", "no")
wait_for(lambda: b"master_link_status:down" in rr("INFO", "replication"), timeout=20, what="master link down")
sent += send(col, "ro", 300, "md-")                     # MASTERDOWN
check(col.metric("ag_spool_records") == 600, f"masterdown: 600 hits held in the spool "
      f"({col.metric('ag_spool_records'):.0f})")
rr("REPLICAOF", "NO", "ONE")                            # promoted
drained(col)
wait_applied(rr)
check(sent == 600 and opens(rr, "ro") == 600, f"replica promoted: sent {sent}, counted {opens(rr, 'ro')}")
lc, la = noisy(col, 0), noisy(agg, 0)
check(any("READONLY" in l for l in lc), f"the collector names READONLY: {lc[:3]}")
check(len(lc) <= LIMIT and len(la) <= LIMIT, f"replica: {len(lc)} collector and {len(la)} aggregator "
      f"warn/error lines (limit {LIMIT}): {lc[:8]} {la[:8]}")
print(f"replica: READONLY then MASTERDOWN, then promoted: sent {sent}, counted {opens(rr, 'ro')}, "
      f"log lines collector {len(lc)} aggregator {len(la)}", flush=True)
check(col.stop() == 0 and agg.stop() == 0, "replica: both daemons exit 0")

# ---------------------------------------------------------------- ACL
rs = RedisServer(appendfsync="everysec")
r = rs.client()
for user, rules, what in (("noxadd", ["~*", "&*", "+@all", "-xadd"], "xadd"),
                          ("onlyrejects", ["~ag:rejects", "&*", "+@all"], "ag:hits:{0}")):
    r("ACL", "SETUSER", user, "on", ">pw-secret", *rules)
    c = Collector(rs, start=False)
    c.args[c.args.index("--redis") + 1] = f"redis://{user}:pw-secret@127.0.0.1:{rs.port}/0"
    p = subprocess.run(c.args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    out = p.stdout.decode("utf-8", "replace")
    lines = [l for l in out.splitlines() if "level=error" in l]
    check(p.returncode == 1, f"ACL user {user}: the collector exits 1 at start ({p.returncode})")
    check(len(lines) == 1 and what in lines[0].lower() and "pw-secret" not in out,
          f"ACL user {user}: one line naming {what}, no password: {lines}")
print("acl: a user without XADD, and one limited to ag:rejects, refused at start with one line", flush=True)

# ---------------------------------------------------------------- FLUSHALL, DEL
col = Collector(rs)
agg = Aggregator(rs)
n1 = send(col, "fl", 200, "f1-")
drained(col)
wait_applied(r)
check(opens(r, "fl") == 200, f"before FLUSHALL: 200 counted ({opens(r, 'fl')})")
logc, loga = len(col.logs()), len(agg.logs())
r("FLUSHALL")
n2 = send(col, "fl", 300, "f2-")
drained(col)
wait_applied(r)
check(opens(r, "fl") == 300, f"FLUSHALL: the 200 before went with it; sent 300 after, counted {opens(r, 'fl')}")
check(r("XLEN", "ag:hits:{0}") == 300, f"FLUSHALL: 300 entries in the new stream ({r('XLEN', 'ag:hits:{0}')})")
lc, la = noisy(col, logc), noisy(agg, loga)
check(len(lc) <= LIMIT and len(la) <= LIMIT, f"FLUSHALL: {len(lc)} + {len(la)} warn/error lines: {lc} {la}")
print(f"flushall: sent {n1} before (gone with the flush), {n2} after, counted {opens(r, 'fl')}", flush=True)

n3 = send(col, "del", 200, "d1-")
drained(col)
wait_applied(r)
r("DEL", "ag:hits:{0}")
n4 = send(col, "del", 250, "d2-")
drained(col)
wait_applied(r)
check(opens(r, "del") == 450, f"deleted stream: counters kept; sent {n3} + {n4}, counted {opens(r, 'del')}")
print(f"deleted stream: sent {n3} + {n4}, counted {opens(r, 'del')}", flush=True)
check(col.stop() == 0 and agg.stop() == 0, "flush: both daemons exit 0")

# ---------------------------------------------------------------- an older snapshot
snap = RedisServer(extra=["--appendonly", "no"])
rs_ = snap.client()
col = Collector(snap)
agg = Aggregator(snap)
a1 = send(col, "snap", 200, "s1-")
drained(col)
wait_applied(rs_)
rs_("SAVE")                                     # the snapshot: 200 hits, counted
a2 = send(col, "snap", 150, "s2-")
drained(col)
wait_applied(rs_)
check(opens(rs_, "snap") == 350, f"before the crash: 350 counted ({opens(rs_, 'snap')})")
snap.kill()                                     # what came after SAVE is gone
snap.start()
rs_ = snap.client()
a3 = send(col, "snap", 250, "s3-")
drained(col)
wait_applied(rs_)
got = opens(rs_, "snap")
ns = nonces(rs_.xrange_all("ag:hits:{0}"))
check(got == a1 + a3, f"older snapshot: {a1} kept, {a2} lost with Redis's own data, {a3} after: counted {got} "
      f"(want {a1 + a3})")
check(len(ns) == len(set(ns)) == a1 + a3, f"older snapshot: {len(ns)} stream entries, {len(set(ns))} distinct "
      f"(want {a1 + a3})")
check(col.metric("ag_redis_rollbacks_total") == 1, f"older snapshot: the collector counted the rollback "
      f"({col.metric('ag_redis_rollbacks_total'):.0f})")
said = [l for l in col.logs().splitlines() if "went back in time" in l]
check(len(said) == 1 and "partition=0" in said[0], f"older snapshot: one line names the partition: {said}")
print(f"older snapshot: {a1} before SAVE, {a2} after it (lost with Redis's data, said once), {a3} after the "
      f"restart: counted {got}", flush=True)
check(col.stop() == 0 and agg.stop() == 0, "snapshot: both daemons exit 0")
done("test_redis_state")
