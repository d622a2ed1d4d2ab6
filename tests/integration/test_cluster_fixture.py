"""The cluster fixture itself (cluster.py), before any product code runs on
it: 3 masters + 3 replicas come up whole; keys land on the node CLUSTER
KEYSLOT + CLUSTER SLOTS name (and cluster.keyslot agrees with the server);
dump() of a cluster equals dump() of one node holding the same data, key by
key; a slot moved by hand and `redis-cli --cluster reshard` move exactly
their keys, under load; kill_master promotes the replica and every write
acknowledged with WAIT 1 survives; pause_node stops and resumes; and the
teardown leaves no redis-server behind, also when the test process is
SIGTERMed or SIGKILLed."""
import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from cluster import SLOTS, Cluster, ClusterClient, dump, dump_diff, key_in_slot, keyslot

HERE = os.path.dirname(os.path.abspath(__file__))
timing = {}


def node_state(pid):
    """The one-letter state of /proc/<pid>/stat, '' when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def redis_servers_on(ports):
    """The pids of live (not zombie) redis-servers whose command line names one of ports."""
    found = []
    want = {f":{p}" for p in ports}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if "redis-server" in cmd and any(w in cmd for w in want) and node_state(d) not in ("", "Z"):
            found.append(int(d))
    return found


def refused(port):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


class Load:
    """INCRs `keys` in turn through a ClusterClient from a thread, counting
    each acknowledged INCR."""

    def __init__(self, cluster, keys):
        self.keys = keys
        self.r = ClusterClient(cluster)
        self.ok = collections.Counter()
        self.errors = []
        self.stopped = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        i = 0
        while not self.stopped:
            k = self.keys[i % len(self.keys)]
            try:
                self.r("INCR", k)
                self.ok[k] += 1
            except Exception as e:     # noqa: BLE001 (counted, checked)
                self.errors.append(repr(e))
            i += 1
            time.sleep(0.001)

    def stop(self):
        self.stopped = True
        self.t.join(30)
        return self


# ------------------------------------------------------------------ up and whole
c = Cluster()
timing["startup"] = c.startup_s
print(f"cluster up in {c.startup_s:.2f} s: {c.url()}", flush=True)
check(c.startup_s < 15, f"the cluster comes up in {c.startup_s:.2f} s")
masters, replicas = c.masters(), c.replicas()
check(len(masters) == 3, f"3 masters: {masters}")
check(len(replicas) == 3, f"3 replicas: {replicas}")
check(sorted(masters + replicas) == sorted(c.nodes), "the 6 nodes are the 3 masters and 3 replicas")
check(all(len(c.replicas_of(m)) == 1 for m in masters), "each master has exactly one replica")
check(sorted(c.replica_of(m) for m in masters) == replicas, "each replica replicates a different master")
check(all(c.master_of(c.replica_of(m)) == m for m in masters), "master_of(replica_of(m)) is m")
spans = c.slots()
check([a for a, _, _, _ in spans] == [0] + [b + 1 for _, b, _, _ in spans[:-1]] and spans[-1][1] == SLOTS - 1,
      f"the slot ranges tile 0..16383: {[(a, b) for a, b, _, _ in spans]}")
check(sorted(len(c.slots_of(m)) for m in masters) == [5461, 5461, 5462], "the slots split 5461/5461/5462")
check(all(c.state(p) == ("ok", 6, 3) for p in c.nodes), "every node: cluster_state:ok, 6 known, size 3")
check(c.url() == "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in c.nodes), f"url() {c.url()}")
check(c.whole() == "", "whole()")

# ------------------------------------------------------------------ slots
known = {"foo": 12182, "bar": 5061, "hello": 866, "{user1000}.following": keyslot("user1000"),
         "foo{}{bar}": keyslot("foo{}{bar}"), "foo{{bar}}zap": keyslot("{bar"),
         "foo{bar}{zap}": keyslot("bar"), "ag:c:{spring}:u:open": keyslot("spring")}
for k, want in known.items():
    check(keyslot(k) == want and c.keyslot(k) == want, f"slot of {k}: {keyslot(k)}, server {c.keyslot(k)}, want {want}")
probe = c.client(masters[0])
names = [f"x{i}" for i in range(1000)] + [f"ag:c:{{c{i}}}:h:2024" for i in range(500)] + \
        [f"ag:hits:{{{p}}}" for p in range(16)] + ["", "{", "}{", "{}", "a{b", "a}b{c}", "é{ü}"]
bad = [k for k in names if keyslot(k) != probe("CLUSTER", "KEYSLOT", k)]
check(not bad, f"cluster.keyslot == CLUSTER KEYSLOT for all {len(names)} keys (differ: {bad[:5]})")

r = c.router()
N = 3000
for i in range(N):
    r("SET", f"fx:{i}", f"v{i}")
where = {}
for m in masters:
    cl = c.client(m)
    cur = b"0"
    while True:
        cur, keys = cl("SCAN", cur, "MATCH", "fx:*", "COUNT", 1000)
        for k in keys:
            where[k.decode()] = m
        if cur == b"0":
            break
check(len(where) == N and set(where) == {f"fx:{i}" for i in range(N)},
      f"the masters hold exactly the {N} keys written ({len(where)})")
owner = {}
for a, b, m, _ in c.slots():
    for s in range(a, b + 1):
        owner[s] = m
misplaced = [k for k, m in where.items() if owner[keyslot(k)] != m]
check(not misplaced, f"every key is on the master owning its slot ({len(misplaced)} are not)")
per = collections.Counter(where.values())
check(all(per[m] > 0 for m in masters), f"keys on every master: {dict(per)}")
sample = [f"fx:{i}" for i in range(0, N, 15)]
wrong = [k for k in sample if c.node_of_key(k) != where[k]]
check(not wrong, f"node_of_key agrees for {len(sample)} keys ({wrong[:3]})")
moved_ok = 0
for k in sample:
    other = next(m for m in masters if m != where[k])
    try:
        c.client(other)("GET", k)
    except RespError as e:
        if str(e) == f"MOVED {keyslot(k)} 127.0.0.1:{where[k]}":
            moved_ok += 1
check(moved_ok == len(sample), f"another master answers MOVED <slot> <owner> ({moved_ok} of {len(sample)})")
for m in masters:
    cl = c.client(m)
    cl("SET", key_in_slot(c.slots_of(m)[0], "sync:"), "1")
    check(cl("WAIT", 1, 5000) == 1, f":{m} WAIT 1 -> 1")
    check(c.client(c.replica_of(m))("DBSIZE") == cl("DBSIZE"), f"the replica of :{m} holds as many keys")

# ------------------------------------------------------------------ dump
one = RedisServer(appendfsync="everysec")
single = one.client()
single("CONFIG", "SET", "hll-sparse-max-bytes", 0)   # dense HLLs there, sparse on the cluster
for w, rev in ((r, False), (single, True)):           # the same elements, in another order
    for t in range(20):
        w("SET", f"dx:s:{{{t}}}", f"text {t} é")
        w("HSET", f"dx:h:{{{t}}}", "open", t, "click", 2 * t, "first_ts", 1700000000000 + t)
        w("ZADD", f"dx:z:{{{t}}}", 1.5, "ann", t, "bob")
        w("SADD", f"dx:set:{{{t}}}", "b", "a", str(t))
        w("RPUSH", f"dx:l:{{{t}}}", "x", str(t), "y")
        w("PFADD", f"dx:u:{{{t}}}", *sorted((f"s{i}" for i in range(10 * (t + 1))), reverse=rev))
        w("XADD", f"dx:st:{{{t}}}", f"{t + 1}-1", "campaign", "spring", "n", t)
single("PFCOUNT", "dx:u:{3}")                          # a cached cardinality on one side only
for w in (r, single):                                  # not under the prefix
    w("SET", "other:{1}", "1")
dc, ds = dump(c, "dx:"), dump(one, "dx:")
check(len(dc) == 140 and len(ds) == 140, f"dump finds the 140 keys on both ({len(dc)}, {len(ds)})")
check(dc == ds, f"dump(cluster) == dump(one node): {dump_diff(dc, ds)}")
check(dc.get("dx:h:{7}") == ("hash", {"open": "7", "click": "14", "first_ts": "1700000000007"}), f"{dc.get('dx:h:{7}')}")
check(dc.get("dx:z:{2}") == ("zset", {"bob": 2.0, "ann": 1.5}), f"{dc.get('dx:z:{2}')}")
check(dc.get("dx:set:{5}") == ("set", ("5", "a", "b")), f"{dc.get('dx:set:{5}')}")
check(dc.get("dx:l:{4}") == ("list", ["x", "4", "y"]), f"{dc.get('dx:l:{4}')}")
check(dc.get("dx:s:{9}") == ("string", "text 9 é"), f"{dc.get('dx:s:{9}')}")
check(dc.get("dx:st:{0}") == ("stream", [("1-1", (("campaign", "spring"), ("n", "0")))]), f"{dc.get('dx:st:{0}')}")
hll = dc.get("dx:u:{19}")
check(hll and hll[0] == "hll" and 150 <= len(hll[1]) <= 200 and
      r("PFCOUNT", "dx:u:{19}") == single("PFCOUNT", "dx:u:{19}"),
      f"the HLL of 200 elements: {len(hll[1]) if hll else None} registers set, sparse here, dense there")
check(single("GETRANGE", "dx:u:{19}", 4, 4) == b"\x00" and r("GETRANGE", "dx:u:{19}", 4, 4) == b"\x01",
      "the two HLLs are encoded differently (dense on the single node, sparse on the cluster)")
check(set(dump(c, "dx:s:")) == {f"dx:s:{{{t}}}" for t in range(20)}, "a prefix selects its keys only")
check(len({c.node_of_key(k) for k in dc}) == 3, "the dumped keys are spread over the 3 masters")
single("HINCRBY", "dx:h:{7}", "open", 1)
diff = dump_diff(dc, dump(one, "dx:"))
check(len(diff) == 1 and diff[0].startswith("dx:h:{7}:"), f"one changed field: one difference: {diff}")
check(dump(one, "dx:h:{7}", with_ttl=True)["dx:h:{7}"][2] is False, "with_ttl: no expiry")
single("PEXPIRE", "dx:h:{7}", 600000)
check(dump(one, "dx:h:{7}", with_ttl=True)["dx:h:{7}"][2] is True, "with_ttl: an expiry")
one.destroy()

# ------------------------------------------------------------------ a slot moved by hand, under load
hot = keyslot("{hot}")
src = c.slot_owner(hot)
dst = next(m for m in masters if m != src)
for i in range(200):
    r("SET", f"mv:{{hot}}:{i}", f"h{i}")
# the load: 30 counters in 30 slots, 5 in the hot slot (created after the
# mv: keys, so GETKEYSINSLOT lists them first and they move in the first
# batch), 10 in the slots the reshard below moves
load_keys = [f"ld:{{{i}}}" for i in range(15)] + [f"ld:{{hot}}:{i}" for i in range(5)] + \
            [key_in_slot(s, "ld:") for s in c.slots_of(masters[0])[:100:10]]
load = Load(c, load_keys)
wait_for(lambda: len(load.ok) == len(load_keys), what="the load to create its counters")
total_before = sum(c.client(m)("DBSIZE") for m in masters)
t0 = time.monotonic()
mig = c.migration(hot, dst).begin()
check(mig.migrate(100) == 100, "100 keys migrated")
check(mig.remaining() == 105 and c.client(dst)("CLUSTER", "COUNTKEYSINSLOT", hot) == 100,
      "100 of the slot's 205 keys on the destination, 105 on the source")
on_dst = set(k.decode() for k in c.client(dst)("CLUSTER", "GETKEYSINSLOT", hot, 1000))
mv_on_dst = sorted(k for k in on_dst if k.startswith("mv:"))
check(len(on_dst) == 100 and len(mv_on_dst) == 95 and on_dst - set(mv_on_dst) == {f"ld:{{hot}}:{i}" for i in range(5)},
      f"the destination lists the 100 migrated keys: the load's 5 counters first ({len(on_dst)}, {len(mv_on_dst)})")
wait_for(lambda: load.r.ask >= 5, what="the load to be sent to the destination by ASK")
k_moved = mv_on_dst[0]
k_stay = next(f"mv:{{hot}}:{i}" for i in range(200) if f"mv:{{hot}}:{i}" not in on_dst)
try:
    c.client(src)("GET", k_moved)
    check(False, "the source answers ASK for a migrated key")
except RespError as e:
    check(str(e) == f"ASK {hot} 127.0.0.1:{dst}", f"the source answers {e}")
try:
    c.client(dst)("GET", k_moved)
    check(False, "the destination answers MOVED without ASKING")
except RespError as e:
    check(str(e) == f"MOVED {hot} 127.0.0.1:{src}", f"the destination without ASKING: {e}")
d = c.client(dst)
d("ASKING")
check(d("GET", k_moved) == f"h{k_moved.rsplit(':', 1)[1]}".encode(), "ASKING, then the destination serves it")
try:
    c.client(src)("MGET", k_moved, k_stay)
    check(False, "a multi-key command half moved gets TRYAGAIN")
except RespError as e:
    check(str(e).startswith("TRYAGAIN"), f"a multi-key command half moved: {e}")
reader = ClusterClient(c)
vals = [reader("GET", f"mv:{{hot}}:{i}") for i in range(200)]
check(vals == [f"h{i}".encode() for i in range(200)], "the router reads all 200 mid-move")
check(reader.ask == 95 and reader.moved == 0, f"exactly 95 ASK redirections ({reader.ask}), no MOVED ({reader.moved})")
check(mig.finish() == 105, "finish() migrates the other 105")
timing["move_slot"] = time.monotonic() - t0
check(all(c.slot_owner_seen_by(p, hot) == dst for p in c.nodes), "every node: the slot is on the destination")
check(c.client(dst)("CLUSTER", "COUNTKEYSINSLOT", hot) == 205 and c.client(src)("CLUSTER", "COUNTKEYSINSLOT", hot) == 0,
      "all 205 keys on the destination, none left behind")
vals = [reader("GET", f"mv:{{hot}}:{i}") for i in range(200)]
check(vals == [f"h{i}".encode() for i in range(200)] and reader.moved == 1,
      f"the router: one MOVED, then all 200 from the destination ({reader.moved})")
key2 = "ag:hits:{3}"
r("XADD", key2, "*", "n", "1")
to = next(m for m in masters if m != c.node_of_key(key2))
s2, frm = keyslot(key2), c.node_of_key(key2)
in_slot = c.client(frm)("CLUSTER", "COUNTKEYSINSLOT", s2)
n_moved = c.move_slot(s2, to)
check(in_slot >= 1 and n_moved == in_slot and c.client(to)("CLUSTER", "COUNTKEYSINSLOT", s2) == in_slot and
      c.client(frm)("CLUSTER", "COUNTKEYSINSLOT", s2) == 0 and c.node_of_key(key2) == to and r("XLEN", key2) == 1,
      f"move_slot(keyslot(key), to) moves a chosen key's slot and exactly its {in_slot} keys ({n_moved})")

# ------------------------------------------------------------------ reshard, under load
rs_src, rs_dst = masters[0], masters[2]
before_slots = c.slots_of(rs_src)
for s in before_slots[:100]:
    r("SET", key_in_slot(s, "rs:"), s)
in_first = sum(c.client(rs_src)("CLUSTER", "COUNTKEYSINSLOT", s) for s in before_slots[:100])
n_src, n_dst = c.client(rs_src)("DBSIZE"), c.client(rs_dst)("DBSIZE")
moved0 = load.r.moved
t0 = time.monotonic()
got = c.reshard(rs_src, rs_dst, 100)
timing["reshard_100"] = time.monotonic() - t0
check(got == before_slots[:100], f"reshard moved the source's lowest 100 slots ({len(got)}: {got[:3]}...)")
check(all(c.slot_owner_seen_by(p, got[0]) == rs_dst and c.slot_owner_seen_by(p, got[-1]) == rs_dst for p in c.nodes),
      "every node sees them on the destination")
wait_for(lambda: load.r.moved > moved0, timeout=10, what="the load to be MOVED by the reshard")
load.stop()
check(c.client(rs_src)("DBSIZE") == n_src - in_first and c.client(rs_dst)("DBSIZE") == n_dst + in_first,
      f"exactly the {in_first} keys of those slots moved (+ the load's counters, settled below)")
check(not load.errors and load.r.errors == 0, f"the load saw no errors: {load.errors[:3]}")
counters = {k: int(r("GET", k)) for k in load.ok}
check(counters == dict(load.ok), f"every load counter == its acknowledged INCRs ({sum(load.ok.values())} INCRs)")
print(f"load: {sum(load.ok.values())} INCRs, {load.r.moved} MOVED, {load.r.ask} ASK, {load.r.tryagain} TRYAGAIN",
      flush=True)
check(sum(c.client(m)("DBSIZE") for m in masters) == total_before + 100 + 1,
      "no key lost or doubled by the moves (total = before + the rs: keys + the stream)")

# ------------------------------------------------------------------ kill_master
before = dump(c)
victim = masters[1]
heir = c.replica_of(victim)
vs = set(c.slots_of(victim))
wk = [k for k in (f"wk:{i}" for i in range(20000)) if keyslot(k) in vs][:500]
vc = c.client(victim)
acked = 0
for b in range(0, 500, 50):
    for k in wk[b:b + 50]:
        vc("SET", k, k[::-1])
    acked += vc("WAIT", 1, 5000) == 1
check(len(wk) == 500 and acked == 10, f"500 writes to :{victim}, 10 of 10 WAIT 1 acknowledged ({acked})")
vc.close()
t0 = time.monotonic()
new = c.kill_master(victim)
timing["failover"] = time.monotonic() - t0
check(new == heir, f"kill_master promoted the replica :{heir} (got :{new})")
check(sorted(c.masters()) == sorted([m for m in masters if m != victim] + [heir]), f"3 masters again: {c.masters()}")
check(len(c.replicas()) == 2 and c.replica_of(heir) is None, "2 replicas left; the new master has none")
check(all(c.state(p)[0] == "ok" for p in c.ports()) and victim not in c.ports(), "cluster_state:ok on the 5 live nodes")
nc = c.client(heir)
survived = sum(nc("GET", k) == k[::-1].encode() for k in wk)
check(survived == 500, f"all 500 acknowledged writes survived the failover ({survived})")
after = dump(c)
before.update({k: ("string", k[::-1]) for k in wk})
check(after == before, f"the whole data set survived, key by key ({len(after)} keys): {dump_diff(before, after)}")
t0 = time.monotonic()
check(c.restart_node(victim) == "replica" and c.master_of(victim) == heir,
      "restart_node: the old master comes back as the new one's replica")
timing["restart"] = time.monotonic() - t0
check(len(c.replicas()) == 3 and len(c.ports()) == 6, "6 nodes, 3 replicas again")

# ------------------------------------------------------------------ pause
rep = c.replicas()[0]
pid = c.nodes[rep].proc.pid
p = c.pause_node(rep, 1.0)
check(node_state(pid) == "T" and rep in c.paused, f"pause_node: stopped ({node_state(pid)})")
check(p.wait(5) and node_state(pid) in ("S", "R", "D") and rep not in c.paused, f"resumed after 1 s: running, sleeping or in disk I/O, not stopped ({node_state(pid)})")
shard = c.pause_shard(heir, None)
check(sorted(shard.ports) == sorted([heir, victim]) and all(node_state(c.nodes[q].proc.pid) == "T" for q in shard.ports),
      "pause_shard stops the master and its replica")
shard.resume()
c.wait_ok()
check(c.whole() == "", "whole after the pauses")

# ------------------------------------------------------------------ teardown
pids = c.pids()
ports = [n.port for n in c.nodes.values()] + [n.bus for n in c.nodes.values()]
check(len(pids) == 6, f"6 live nodes before teardown ({len(pids)})")
c.destroy()
check(all(node_state(q) in ("", "Z") for q in pids), "every node process is gone")
check(redis_servers_on(ports[:6]) == [], "no redis-server names one of the cluster's ports")
check(sum(refused(q) for q in ports) == 12, "the 6 ports and 6 bus ports are closed")
check(not os.path.exists(c.dir), "the cluster's dir is removed")
c.destroy()                                      # twice is harmless

# the test process itself SIGTERMed (meson's timeout) or SIGKILLed
child = f"""
import json, os, sys, time
sys.path.insert(0, {HERE!r})
from cluster import Cluster
with Cluster(replicas=int(sys.argv[1])) as c:
    print(json.dumps({{"pids": c.pids(), "ports": list(c.nodes), "dir": c.dir}}), flush=True)
    time.sleep(120)
"""
kids = [subprocess.Popen([sys.executable, "-c", child, str(reps)], stdout=subprocess.PIPE, text=True)
        for reps in (1, 0)]
infos = [json.loads(k.stdout.readline() or "{}") for k in kids]
check(len(infos[0].get("pids", [])) == 6 and len(infos[1].get("pids", [])) == 3,
      f"two child clusters up (6 and 3 nodes): {[len(i.get('pids', [])) for i in infos]}")
kids[0].send_signal(signal.SIGTERM)
kids[1].send_signal(signal.SIGKILL)
rcs = [k.wait(30) for k in kids]
check(rcs == [1, -9], f"the children exit 1 (SIGTERM, through the harness) and -9: {rcs}")
check(all(node_state(q) in ("", "Z") for q in infos[0].get("pids", [])) and
      not os.path.exists(infos[0].get("dir", "/nonexistent")),
      "SIGTERM: every node of the child's cluster is gone, its dir removed")
wait_for(lambda: all(node_state(q) in ("", "Z") for q in infos[1].get("pids", [])), timeout=10,
         what="PR_SET_PDEATHSIG to kill the SIGKILLed child's nodes")
check(redis_servers_on(infos[0].get("ports", []) + infos[1].get("ports", [])) == [],
      "SIGKILL: no node of the child's cluster outlives it")
shutil.rmtree(infos[1].get("dir", "/nonexistent"), ignore_errors=True)   # nobody left to remove it

print("timing: " + ", ".join(f"{k} {v:.2f} s" for k, v in timing.items()), flush=True)
done("test_cluster_fixture")
