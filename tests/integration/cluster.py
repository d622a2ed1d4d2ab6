"""cluster.py: a real Redis Cluster on loopback for the integration tests
(issue 14): by default 3 masters and 3 replicas, each a private redis-server
in its own process group in a temp dir, on free ports, joined with
`redis-cli --cluster create`, waited for (cluster_state:ok on every node,
every replica synced) and always torn down (a `with` block, the harness's
atexit list, SIGTERM through the harness, and PR_SET_PDEATHSIG should the
test itself be SIGKILLed).

    with Cluster() as c:
        col = Collector(c)                  # c.url(): redis+cluster://...
        c.node_of_key("ag:c:{spring}")      # the master's port
        new = c.kill_master(c.masters()[0]) # its replica, promoted
        c.reshard(c.masters()[0], c.masters()[1], 100)
        c.move_slot(keyslot("ag:hits:{3}"), c.masters()[2])
        p = c.pause_shard(c.masters()[1], 30)   # a shard unreachable 30 s
        got = dump(c, "ag:c:")              # == dump(single_node, "ag:c:")

Standard library only, like harness.py, whose helpers it uses. Redis 7.0
(Debian 12) or later: `cluster-port` names the bus port, so the bus port is
a free port too rather than port + 10000 (over 65535 for half the
ephemeral range)."""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import harness
from harness import Redis, RespError, wait_for

SLOTS = 16384

# ------------------------------------------------------------------ slots

_CRC_TABLE = []
for _i in range(256):
    _c = _i << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0x1021) if _c & 0x8000 else (_c << 1)
    _CRC_TABLE.append(_c & 0xFFFF)


def crc16(data):
    """CRC16-CCITT (XMODEM), the checksum of Redis Cluster's key slots."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ b) & 0xFF]
    return crc


def keyslot(key):
    """The slot of a key, computed here (the test checks it against CLUSTER
    KEYSLOT): the CRC16 of the hash tag -- what lies between the first `{`
    and the first `}` after it, when not empty -- else of the whole key."""
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    return crc16(key) % SLOTS


def key_in_slot(slot, prefix="k:", start=0):
    """A key `prefix<n>` that hashes to `slot` (the first n >= start)."""
    n = start
    while keyslot(f"{prefix}{n}") != slot:
        n += 1
    return f"{prefix}{n}"


# ------------------------------------------------------------------ processes


def free_ports(n):
    """n distinct TCP ports that were free a moment ago (all held open
    together while picking, so no two are the same)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:
    _libc = None


def _die_with_parent():
    """In the child before exec: SIGKILL when the thread that started it
    dies, so a SIGKILLed test leaves no redis-server behind."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG


def _killpg(proc, sig):
    """Signals proc's process group (its own: start_new_session) while proc
    is not yet reaped, so the group id cannot belong to anyone else."""
    if proc is not None and proc.returncode is None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _info(c, section):
    """INFO section as {field: str}."""
    raw = c("INFO", section)
    return dict(line.split(":", 1) for line in raw.decode().splitlines() if ":" in line)


class Node:
    """One redis-server of the cluster: port, bus port, dir, process."""

    def __init__(self, cluster, port, bus):
        self.cluster = cluster
        self.port, self.bus = port, bus
        self.dir = os.path.join(cluster.dir, str(port))
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "redis.log")
        self.proc = None
        self.id = None

    def argv(self):
        c = self.cluster
        return [c.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(c.node_timeout), "--cluster-port", str(self.bus),
                "--cluster-announce-ip", "127.0.0.1",
                "--cluster-require-full-coverage", "yes" if c.full_coverage else "no",
                "--appendonly", "yes", "--appendfsync", c.appendfsync, "--save", "",
                # a replica syncs at once, not after the default 5 s delay
                "--repl-diskless-sync-delay", "0",
                "--daemonize", "no", "--logfile", self.log_path, *c.extra]

    def spawn(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)

    def up(self):
        """True once it answers PING; raises if it exited."""
        if self.proc.poll() is not None:
            raise ChildProcessError(f"redis-server :{self.port} exited {self.proc.returncode}: "
                                    + self.log_tail())
        try:
            c = Redis(self.port, timeout=2)
            try:
                return c("PING") == "PONG"
            finally:
                c.close()
        except (OSError, RespError):
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Kills its whole process group (a fork for a sync or an AOF
        rewrite too) and reaps it."""
        if self.proc is None:
            return
        _killpg(self.proc, signal.SIGCONT)
        _killpg(self.proc, sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _killpg(self.proc, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
        except OSError:
            return ""


# ------------------------------------------------------------------ the cluster


class Cluster:
    """A private Redis Cluster on loopback: `masters` masters with
    `replicas` replicas each. Knobs: node_timeout (ms), appendfsync
    (everysec: failover, not fsync, is what keeps data on a cluster; and six
    nodes fsyncing every write on two cores slow every test down),
    full_coverage (cluster-require-full-coverage; False lets the other
    shards serve while one is down, see pause_shard), extra redis-server
    arguments."""

    def __init__(self, masters=3, replicas=1, node_timeout=2000, appendfsync="everysec",
                 full_coverage=True, extra=(), start=True):
        self.exe = shutil.which("redis-server")
        self.cli = shutil.which("redis-cli")
        if not self.exe or not self.cli:
            raise AssertionError("redis-server and redis-cli are needed (run ./deploy/deps.sh)")
        self.n_masters, self.n_replicas = masters, replicas
        self.node_timeout, self.appendfsync = node_timeout, appendfsync
        self.full_coverage, self.extra = full_coverage, list(extra)
        self.dir = tempfile.mkdtemp(prefix="ag-cluster-")
        self.nodes = {}          # port -> Node, in creation order
        self.dead = set()        # ports killed by kill_master / kill_node
        self.paused = set()      # ports SIGSTOPped by pause_node
        self._pauses = []
        self.startup_s = None
        harness._cleanups.append(self.destroy)
        if start:
            self.start()

    # ---------------------------------------------------------- life

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    def start(self, timeout=30):
        """Starts every node, creates the cluster and waits until it is
        whole; records the time it took in startup_s."""
        t0 = time.monotonic()
        n = self.n_masters * (1 + self.n_replicas)
        ports = free_ports(2 * n)
        pending = []
        for i in range(n):
            node = Node(self, ports[2 * i], ports[2 * i + 1])
            self.nodes[node.port] = node
            node.spawn()
            pending.append(node)
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for the cluster's redis-servers: "
                                     + ", ".join(str(n.port) for n in pending))
            for node in list(pending):
                try:
                    if node.up():
                        pending.remove(node)
                except ChildProcessError:
                    # a port taken since free_ports (a parallel test): new ports
                    del self.nodes[node.port]
                    shutil.rmtree(node.dir, ignore_errors=True)
                    p, b = free_ports(2)
                    fresh = Node(self, p, b)
                    self.nodes[p] = fresh
                    fresh.spawn()
                    pending[pending.index(node)] = fresh
            time.sleep(0.01)
        for node in self.nodes.values():
            node.id = self.client(node.port)("CLUSTER", "MYID").decode()
        out = subprocess.run(
            [self.cli, "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.nodes],
             "--cluster-replicas", str(self.n_replicas), "--cluster-yes"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(self.dir, "create.log"), "w") as f:
            f.write(out.stdout + out.stderr)
        if out.returncode != 0 or "[ERR]" in out.stdout:
            raise AssertionError(f"redis-cli --cluster create failed ({out.returncode}):\n"
                                 + out.stdout[-2000:] + out.stderr[-2000:])
        self.wait_ok(timeout=max(1.0, deadline - time.monotonic()))
        self.startup_s = time.monotonic() - t0
        return self

    def destroy(self):
        """Kills every node (process groups, SIGKILL) and removes the dir.
        Safe to call twice."""
        for p in self._pauses:
            p.cancel()
        for node in self.nodes.values():
            node.kill()
        self.paused.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def pids(self):
        """The pids of the live nodes."""
        return [n.proc.pid for n in self.nodes.values() if n.alive()]

    def ports(self):
        """Every live node's port, in creation order."""
        return [p for p, n in self.nodes.items() if p not in self.dead and n.alive()]

    def url(self, ports=None):
        """redis+cluster://127.0.0.1:p1,127.0.0.1:p2,... (the live nodes, or
        `ports`), the URL the programs take as their redis setting."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in (ports or self.ports()))

    def client(self, port, timeout=10):
        """A harness.Redis connected to one node (no routing)."""
        return Redis(port, timeout=timeout)

    def router(self):
        """A ClusterClient: commands routed by slot, MOVED/ASK followed."""
        return ClusterClient(self)

    def _reachable(self):
        return [p for p in self.ports() if p not in self.paused]

    def _ask(self, *args):
        """Runs a command on the first reachable node that answers."""
        last = None
        for p in self._reachable():
            try:
                c = self.client(p, timeout=5)
                try:
                    return c(*args)
                finally:
                    c.close()
            except (OSError, RespError) as e:
                last = e
        raise AssertionError(f"no node answered {args}: {last!r}")

    # ---------------------------------------------------------- topology

    def cluster_nodes(self, port=None):
        """CLUSTER NODES as seen by `port` (default: any reachable node):
        [{id, port, flags (set), master (id or None), slots (list of
        (start, end)), link}]; open slots ([...->-...]) are left out."""
        if port is None:
            raw = self._ask("CLUSTER", "NODES")
        else:
            c = self.client(port, timeout=5)
            try:
                raw = c("CLUSTER", "NODES")
            finally:
                c.close()
        out = []
        for line in raw.decode().splitlines():
            f = line.split()
            if len(f) < 8:
                continue
            slots = []
            for s in f[8:]:
                if s.startswith("["):
                    continue
                a, _, b = s.partition("-")
                slots.append((int(a), int(b or a)))
            out.append({"id": f[0], "port": int(f[1].split("@")[0].rsplit(":", 1)[1]),
                        "flags": set(f[2].split(",")), "master": None if f[3] == "-" else f[3],
                        "slots": slots, "link": f[7]})
        return out

    def node_id(self, port):
        return self.nodes[port].id

    def port_of(self, node_id):
        for p, n in self.nodes.items():
            if n.id == node_id:
                return p
        raise KeyError(node_id)

    def slots(self, port=None):
        """CLUSTER SLOTS (from `port`, default any node): sorted
        [(start, end, master port, [replica ports])]."""
        if port is None:
            raw = self._ask("CLUSTER", "SLOTS")
        else:
            c = self.client(port, timeout=5)
            try:
                raw = c("CLUSTER", "SLOTS")
            finally:
                c.close()
        return sorted((r[0], r[1], r[2][1], sorted(x[1] for x in r[3:])) for r in raw)

    def masters(self):
        """The live masters' ports, the owner of the lowest slot first
        (masters owning no slot last)."""
        nodes = self.cluster_nodes()
        ms = [n for n in nodes if "master" in n["flags"] and "fail" not in n["flags"]
              and n["port"] not in self.dead]
        return [n["port"] for n in sorted(ms, key=lambda n: min(s for s, _ in n["slots"]) if n["slots"] else SLOTS)]

    def replicas(self):
        """The live replicas' ports."""
        return sorted(n["port"] for n in self.cluster_nodes()
                      if "slave" in n["flags"] and "fail" not in n["flags"] and n["port"] not in self.dead)

    def replicas_of(self, master):
        mid = self.node_id(master)
        return sorted(n["port"] for n in self.cluster_nodes()
                      if n["master"] == mid and "fail" not in n["flags"] and n["port"] not in self.dead)

    def replica_of(self, master):
        """The port of a live replica of `master` (None if it has none)."""
        r = self.replicas_of(master)
        return r[0] if r else None

    def master_of(self, replica):
        n = [n for n in self.cluster_nodes() if n["port"] == replica][0]
        return self.port_of(n["master"]) if n["master"] else None

    def slots_of(self, master):
        """Every slot `master` owns, sorted."""
        return [s for a, b, m, _ in self.slots() if m == master for s in range(a, b + 1)]

    def slot_owner(self, slot):
        """The port of the master owning `slot` (CLUSTER SLOTS)."""
        for a, b, m, _ in self.slots():
            if a <= slot <= b:
                return m
        raise AssertionError(f"slot {slot} is not served")

    def keyslot(self, key):
        """CLUSTER KEYSLOT key, asked of the cluster."""
        return self._ask("CLUSTER", "KEYSLOT", key)

    def node_of_key(self, key):
        """The port of the master that serves `key` (CLUSTER KEYSLOT, then
        CLUSTER SLOTS)."""
        return self.slot_owner(self.keyslot(key))

    # ---------------------------------------------------------- waiting

    def state(self, port):
        """(cluster_state, known nodes, size) as `port` sees it."""
        c = self.client(port, timeout=5)
        try:
            info = dict(l.split(":", 1) for l in c("CLUSTER", "INFO").decode().splitlines() if ":" in l)
        finally:
            c.close()
        return info["cluster_state"], int(info["cluster_known_nodes"]), int(info["cluster_size"])

    def whole(self):
        """'' when the cluster is whole, else why not: every reachable node
        says cluster_state:ok (unless full_coverage is off) and knows every
        node, they agree on who owns every slot, all 16384 slots are served
        by live masters, every live replica is synced (master_link_status:up)
        and every master sees its replicas online (so WAIT n counts them)."""
        ports = self._reachable()
        if not ports:
            return "no node is reachable"
        maps = set()
        for p in ports:
            st, known, _ = self.state(p)
            if st != "ok" and self.full_coverage:
                return f":{p} cluster_state:{st}"
            if known != len(self.nodes):
                return f":{p} knows {known} of {len(self.nodes)} nodes"
            for n in self.cluster_nodes(p):
                if n["port"] in ports and n["flags"] & {"fail", "fail?", "handshake", "noaddr"}:
                    return f":{p} flags :{n['port']} {','.join(sorted(n['flags']))}"
            maps.add(tuple((a, b, m) for a, b, m, _ in self.slots(p)))
        if len(maps) != 1:
            return f"the nodes disagree on the slot map ({len(maps)} views)"
        (m,) = maps
        if sum(b - a + 1 for a, b, _ in m) != SLOTS:
            return f"{sum(b - a + 1 for a, b, _ in m)} slots served"
        if any(o in self.dead or o not in self.nodes for _, _, o in m):
            return "a dead node still owns slots"
        nodes = self.cluster_nodes(ports[0])
        byid = {n["id"]: n for n in nodes}
        for n in nodes:
            p = n["port"]
            if p in self.dead or p in self.paused or "fail" in n["flags"]:
                continue
            c = self.client(p, timeout=5)
            try:
                info = _info(c, "replication")
            finally:
                c.close()
            if "slave" in n["flags"]:
                if info.get("role") != "slave" or info.get("master_link_status") != "up" \
                        or info.get("master_sync_in_progress") != "0":
                    return f":{p} replica not synced ({info.get('master_link_status')})"
                mp = byid.get(n["master"], {}).get("port")
                if mp is not None and int(info.get("master_port", 0)) != mp:
                    return f":{p} replicates :{info.get('master_port')}, the map says :{mp}"
            else:
                want = sum(1 for x in nodes if x["master"] == n["id"] and x["port"] not in self.dead
                           and x["port"] not in self.paused and "fail" not in x["flags"])
                online = sum(1 for k, v in info.items() if k.startswith("slave") and k[5:].isdigit()
                             and "state=online" in v)
                if online != want:
                    return f":{p} has {online} of {want} replicas online"
        return ""

    def wait_ok(self, timeout=30):
        """Waits until whole() (see there)."""
        wait_for(lambda: self.whole() == "", timeout=timeout, interval=0.05,
                 what="the cluster to be whole (" + self._why() + ")")

    def _why(self):
        try:
            return self.whole() or "whole"
        except Exception as e:      # noqa: BLE001 (only for the message)
            return repr(e)

    # ---------------------------------------------------------- faults

    def kill_node(self, port):
        """SIGKILLs one node (its process group) and reaps it."""
        self.nodes[port].kill()
        self.dead.add(port)
        self.paused.discard(port)

    def kill_master(self, port, timeout=30):
        """SIGKILLs master `port`, waits until one of its replicas has been
        promoted and owns its slots and the cluster is whole again; returns
        the new master's port."""
        reps = self.replicas_of(port)
        if not reps:
            raise AssertionError(f":{port} has no replica to promote")
        slot = self.slots_of(port)[0]
        self.kill_node(port)

        def promoted():
            owners = {self.slot_owner_seen_by(p, slot) for p in self._reachable()}
            return owners.pop() if len(owners) == 1 and owners <= set(reps) else None
        new = wait_for(promoted, timeout=timeout, interval=0.05,
                       what=f"a replica of :{port} to take slot {slot}")
        self.wait_ok(timeout=timeout)
        return new

    def slot_owner_seen_by(self, port, slot):
        for a, b, m, _ in self.slots(port):
            if a <= slot <= b:
                return m
        return None

    def restart_node(self, port, timeout=30):
        """Starts a killed node again (same dir, nodes.conf and AOF): a
        failed-over master comes back as a replica of its successor. Waits
        until the cluster is whole; returns 'master' or 'replica'."""
        node = self.nodes[port]
        node.spawn()
        wait_for(node.up, timeout=timeout, what=f"redis-server :{port} to restart")
        self.dead.discard(port)
        self.wait_ok(timeout=timeout)
        c = self.client(port)
        try:
            role = _info(c, "replication")["role"]
        finally:
            c.close()
        return "replica" if role == "slave" else role

    def pause_node(self, port, seconds):
        """SIGSTOPs node `port` (its process group) now and SIGCONTs it after
        `seconds` (None: only on .resume()) from a timer thread; returns the
        Pause (.resume(), .wait()). Alone, a master stopped for longer than
        node_timeout is failed over to its replica: use pause_shard for a
        shard that is unreachable as a whole."""
        return Pause(self, [port], seconds)

    def pause_shard(self, master, seconds):
        """pause_node for a master and every replica of it at once: the
        shard unreachable as a whole. Measured here (node_timeout 2000, a
        6 s pause): with full_coverage (Redis's default) every other node
        answers CLUSTERDOWN once node_timeout has passed, with
        full_coverage=False the other shards keep serving; and after the
        resume the replica, seeing its master flagged FAIL, usually wins an
        election (roles swapped; wait_ok() then node_of_key). To keep the
        roles: config_set("cluster-replica-no-failover", "yes") first."""
        return Pause(self, [master, *self.replicas_of(master)], seconds)

    # ---------------------------------------------------------- resharding

    def reshard(self, src, dst, slots, timeout=120):
        """`redis-cli --cluster reshard` of `slots` slots (the lowest ones,
        redis-cli's choice) from master src to master dst, with their keys;
        waits until every node agrees; returns the slots moved, sorted."""
        self.wait_ok(timeout=timeout)
        before = set(self.slots_of(src))
        out = subprocess.run(
            [self.cli, "--cluster", "reshard", f"127.0.0.1:{src}",
             "--cluster-from", self.node_id(src), "--cluster-to", self.node_id(dst),
             "--cluster-slots", str(slots), "--cluster-yes"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(self.dir, "reshard.log"), "a") as f:
            f.write(out.stdout + out.stderr)
        if out.returncode != 0 or "[ERR]" in out.stdout:
            raise AssertionError(f"redis-cli --cluster reshard failed ({out.returncode}):\n"
                                 + out.stdout[-2000:] + out.stderr[-2000:])
        self.wait_ok(timeout=timeout)
        return sorted(before & set(self.slots_of(dst)))

    def migration(self, slot, dst):
        """A SlotMigration of `slot` to master dst, by hand, step by step."""
        return SlotMigration(self, slot, dst)

    def move_slot(self, slot, dst, batch=100):
        """Moves one slot and its keys to master dst by hand (IMPORTING,
        MIGRATING, MIGRATE ... KEYS, SETSLOT NODE); returns the number of
        keys moved. To move the slot of a chosen key: keyslot(key)."""
        m = SlotMigration(self, slot, dst)
        m.begin()
        moved = m.migrate(batch=batch)
        return moved + m.finish(batch=batch)

    # ---------------------------------------------------------- data

    def dump(self, prefix="", with_ttl=False):
        return dump(self, prefix, with_ttl)

    def config_set(self, name, value):
        """CONFIG SET on every reachable node."""
        for p in self._reachable():
            c = self.client(p)
            try:
                c("CONFIG", "SET", name, value)
            finally:
                c.close()

    def logs(self, port):
        return self.nodes[port].log_tail(10 ** 6)


def _proc_state(pid):
    """The state letter of /proc/<pid>/stat ('T': stopped), '' if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


class Pause:
    """Nodes SIGSTOPped (process groups) until resume() or the timer."""

    def __init__(self, cluster, ports, seconds):
        self.cluster, self.ports = cluster, list(ports)
        self.lock = threading.Lock()
        self.resumed = False
        for p in self.ports:
            _killpg(cluster.nodes[p].proc, signal.SIGSTOP)
            cluster.paused.add(p)
        for p in self.ports:       # stopped for sure when pause_node returns
            wait_for(lambda: _proc_state(cluster.nodes[p].proc.pid) in ("T", "", "Z"), timeout=5,
                     what=f":{p} to stop", interval=0.002)
        cluster._pauses.append(self)
        self.timer = None
        if seconds is not None:
            self.timer = threading.Timer(seconds, self.resume)
            self.timer.daemon = True
            self.timer.start()

    def resume(self):
        with self.lock:
            if self.resumed:
                return
            self.resumed = True
            for p in self.ports:
                _killpg(self.cluster.nodes[p].proc, signal.SIGCONT)
            for p in self.ports:
                wait_for(lambda: _proc_state(self.cluster.nodes[p].proc.pid) != "T", timeout=5,
                         what=f":{p} to resume", interval=0.002)
                self.cluster.paused.discard(p)

    def cancel(self):
        if self.timer:
            self.timer.cancel()
        self.resume()

    def wait(self, timeout=None):
        """Waits for the timer's resume."""
        if self.timer:
            self.timer.join(timeout)
        return self.resumed


class SlotMigration:
    """Moves one slot by hand, in the steps a test may want to hold between
    (load running while the slot is half moved exercises ASK and TRYAGAIN):
    begin() (dst IMPORTING, src MIGRATING), migrate(count) (MIGRATE ... KEYS
    in batches; returns the keys moved), finish() (the rest, then SETSLOT
    NODE on dst, src and every other master; waits until all agree)."""

    def __init__(self, cluster, slot, dst):
        self.cluster, self.slot, self.dst = cluster, slot, dst
        self.src = cluster.slot_owner(slot)
        if self.src == dst:
            raise AssertionError(f"slot {slot} is already on :{dst}")
        self.s = cluster.client(self.src)
        self.d = cluster.client(dst)

    def begin(self):
        self.d("CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.cluster.node_id(self.src))
        self.s("CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.cluster.node_id(self.dst))
        return self

    def remaining(self):
        return self.s("CLUSTER", "COUNTKEYSINSLOT", self.slot)

    def migrate(self, count=None, batch=100):
        moved = 0
        while count is None or moved < count:
            n = batch if count is None else min(batch, count - moved)
            keys = self.s("CLUSTER", "GETKEYSINSLOT", self.slot, n)
            if not keys:
                break
            r = self.s("MIGRATE", "127.0.0.1", self.dst, "", 0, 10000, "KEYS", *keys)
            if r not in ("OK", "NOKEY"):
                raise AssertionError(f"MIGRATE slot {self.slot}: {r!r}")
            moved += len(keys)
        return moved

    def finish(self, batch=100):
        moved = self.migrate(batch=batch)
        did = self.cluster.node_id(self.dst)
        self.d("CLUSTER", "SETSLOT", self.slot, "NODE", did)
        self.s("CLUSTER", "SETSLOT", self.slot, "NODE", did)
        for p in self.cluster.masters():
            if p not in (self.src, self.dst) and p not in self.cluster.paused:
                c = self.cluster.client(p)
                try:
                    c("CLUSTER", "SETSLOT", self.slot, "NODE", did)
                finally:
                    c.close()
        self.s.close()
        self.d.close()
        self.cluster.wait_ok()
        return moved


# ------------------------------------------------------------------ a routing client


class ClusterClient:
    """A small slot-routing client for the tests' own reads and writes (not
    the product's router): the slot of the command's key (key_of(args), or
    key=),
    MOVED -> refresh the map and go there, ASK -> ASKING + the command once
    there, TRYAGAIN/CLUSTERDOWN/connection errors -> back off and retry.
    Counts each in .moved .ask .tryagain .down .errors."""

    def __init__(self, cluster, attempts=200):
        self.cluster = cluster
        self.attempts = attempts
        self.conns = {}
        self.map = None
        self.moved = self.ask = self.tryagain = self.down = self.errors = 0

    def refresh(self):
        m = [None] * SLOTS
        for a, b, p, _ in self.cluster.slots():
            m[a:b + 1] = [p] * (b - a + 1)
        self.map = m

    def conn(self, port):
        c = self.conns.get(port)
        if c is None:
            c = self.conns[port] = Redis(port, timeout=10)
        return c

    def drop(self, port):
        c = self.conns.pop(port, None)
        if c:
            c.close()

    def close(self):
        for p in list(self.conns):
            self.drop(p)

    # commands whose key is not their first argument
    _KEY_AT = {"XINFO": 2, "XGROUP": 2, "OBJECT": 2, "MEMORY": 2}

    @classmethod
    def key_of(cls, args):
        """The key a command routes by: args[1], XINFO/XGROUP/OBJECT/MEMORY's
        args[2], EVAL/EVALSHA/FCALL's first key (args[3])."""
        verb = str(args[0]).upper()
        if verb in ("EVAL", "EVALSHA", "FCALL", "EVAL_RO", "EVALSHA_RO", "FCALL_RO") and int(args[2]) > 0:
            return args[3]
        return args[cls._KEY_AT.get(verb, 1)]

    # every entry of a stream, as harness.Redis.xrange_all (it only calls self)
    xrange_all = Redis.xrange_all

    def __call__(self, *args, key=None):
        key = self.key_of(args) if key is None else key
        slot = keyslot(key if isinstance(key, bytes) else str(key))
        if self.map is None:
            self.refresh()
        port, asking = self.map[slot], False
        for _ in range(self.attempts):
            try:
                c = self.conn(port)
                if asking:
                    c("ASKING")
                return c(*args)
            except RespError as e:
                msg = str(e)
                word = msg.split(" ", 1)[0]
                if word in ("MOVED", "ASK"):
                    to = int(msg.split()[2].rsplit(":", 1)[1])
                    if word == "MOVED":
                        self.moved += 1
                        self.refresh()
                    else:
                        self.ask += 1
                    port, asking = to, word == "ASK"
                    continue
                if word in ("TRYAGAIN", "CLUSTERDOWN"):
                    if word == "TRYAGAIN":
                        self.tryagain += 1
                    else:
                        self.down += 1
                    time.sleep(0.02)
                    port, asking = self.map[slot], False
                    continue
                raise
            except (OSError, ConnectionError):
                self.errors += 1
                self.drop(port)
                time.sleep(0.05)
                try:
                    self.refresh()
                except AssertionError:
                    pass
                port, asking = self.map[slot], False
        raise AssertionError(f"{args[:2]}: no answer after {self.attempts} attempts")


# ------------------------------------------------------------------ dump


def _hll_registers(raw):
    """The 16384 registers of a HyperLogLog string (dense or sparse), as a
    tuple of (index, value) for the non-zero ones: the same elements give
    the same registers, whatever the encoding or the cached cardinality."""
    enc, body = raw[4], raw[16:]
    out = []
    if enc == 0:                                  # dense: 6 bits a register
        for i in range(16384):
            b, fb = i * 6 // 8, (i * 6) & 7
            lo = body[b] >> fb
            hi = (body[b + 1] << (8 - fb)) if b + 1 < len(body) else 0
            v = (lo | hi) & 63
            if v:
                out.append((i, v))
        return tuple(out)
    i, idx = 0, 0
    while i < len(body):                          # sparse: ZERO, XZERO, VAL
        op = body[i]
        if op & 0x80:
            v, run = ((op >> 2) & 0x1F) + 1, (op & 3) + 1
            out.extend((idx + k, v) for k in range(run))
            idx += run
            i += 1
        elif op & 0x40:
            idx += (((op & 0x3F) << 8) | body[i + 1]) + 1
            i += 2
        else:
            idx += (op & 0x3F) + 1
            i += 1
    return tuple(out)


def _s(b):
    return b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else b


def _value(c, key):
    t = c("TYPE", key)
    if t == "string":
        v = c("GET", key)
        if v is not None and v[:4] == b"HYLL" and len(v) >= 16:
            return "hll", _hll_registers(v)
        return "string", _s(v)
    if t == "hash":
        v = c("HGETALL", key) or []
        return "hash", {_s(v[i]): _s(v[i + 1]) for i in range(0, len(v), 2)}
    if t == "zset":
        v = c("ZRANGE", key, 0, -1, "WITHSCORES") or []
        return "zset", {_s(v[i]): float(v[i + 1]) for i in range(0, len(v), 2)}
    if t == "set":
        return "set", tuple(sorted(_s(x) for x in c("SMEMBERS", key)))
    if t == "list":
        return "list", [_s(x) for x in c("LRANGE", key, 0, -1)]
    if t == "stream":
        return "stream", [(e, tuple(sorted(f.items()))) for e, f in c.xrange_all(key)]
    return t, None                                # "none": gone meanwhile


def _glob_escape(prefix):
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in prefix)


def dump(target, prefix="", with_ttl=False):
    """Every key starting with `prefix` as {key: (type, canonical value)}
    (+ has-an-expiry, with_ttl), read with SCAN from every master of a
    Cluster, or from one node (a harness.RedisServer, or a port): hashes as
    dicts, sorted sets as {member: score}, sets as sorted tuples, lists and
    streams as lists, HyperLogLogs as ("hll", their non-zero registers),
    strings as str. Equal dumps mean equal data, key by key, whatever the
    node count. Read it while nothing writes (a key moving between masters
    during the SCAN could be missed); a key found on two masters raises."""
    if isinstance(target, Cluster):
        ports = target.masters()
    elif isinstance(target, int):
        ports = [target]
    else:
        ports = [target.port]
    out = {}
    pattern = _glob_escape(prefix) + "*"
    for p in ports:
        c = Redis(p)
        try:
            cursor = b"0"
            while True:
                cursor, keys = c("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
                for k in keys:
                    name = _s(k)
                    if name in out:
                        raise AssertionError(f"dump: {name} is on two masters")
                    t, v = _value(c, k)
                    if t == "none":
                        continue
                    out[name] = (t, v, c("PTTL", k) >= 0) if with_ttl else (t, v)
                if cursor == b"0":
                    break
        finally:
            c.close()
    return out


def dump_diff(a, b, limit=10):
    """Up to `limit` lines saying where two dumps differ ([] when equal)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            out.append(f"{k}: {str(a.get(k, 'missing'))[:200]} != {str(b.get(k, 'missing'))[:200]}")
            if len(out) >= limit:
                break
    return out
