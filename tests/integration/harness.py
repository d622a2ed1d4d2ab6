"""harness.py: what every integration test needs: a private redis-server
(temp dir, free port, waited for, always cleaned up), the real collector
binary, a tiny RESP client and raw HTTP over real sockets. Standard library
only, so it runs wherever meson (a Python program) runs."""

import atexit
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

COLLECTOR = os.environ.get("AG_COLLECTOR", "")
AGGREGATOR = os.environ.get("AG_AGGREGATOR", "")
CLI = os.environ.get("AG_CLI", "")
DASHBOARD = os.environ.get("AG_DASHBOARD", "")
DASHBOARD_TOKEN = "test-dashboard-token-0123456789"
SIGNING_KEY = "test-signing-key"
API_TOKEN = "test-api-token"

_cleanups = []


def _cleanup_all():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception:
            pass


atexit.register(_cleanup_all)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def free_port():
    """Returns a TCP port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout=10.0, what="condition", interval=0.02):
    """Polls pred() until it returns a true value; raises on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, ConnectionError, RespError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


# ------------------------------------------------------------------ RESP


class RespError(Exception):
    pass


class Redis:
    """A minimal synchronous RESP2 client."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RespError(f"bad reply {line!r}")

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def xrange_all(self, key):
        """Returns every entry of a stream as (id, {field: value}) with str keys."""
        out, start = [], "-"
        while True:
            page = self("XRANGE", key, start, "+", "COUNT", 10000)
            for eid, fields in page:
                d = {fields[i].decode(): fields[i + 1].decode("utf-8", "replace")
                     for i in range(0, len(fields), 2)}
                out.append((eid.decode(), d))
            if len(page) < 10000:
                return out
            start = "(" + page[-1][0].decode()


# ------------------------------------------------------------------ redis-server


class RedisServer:
    """A private redis-server in a temp dir on a free port, with AOF."""

    def __init__(self, appendfsync="always", extra=()):
        self.dir = tempfile.mkdtemp(prefix="ag-redis-")
        self.port = free_port()
        self.appendfsync = appendfsync
        self.extra = list(extra)
        self.proc = None
        _cleanups.append(self.destroy)
        self.start()

    def start(self):
        exe = shutil.which("redis-server")
        if not exe:
            raise AssertionError("redis-server is not installed (run ./deploy/deps.sh)")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "",
             "--daemonize", "no", "--logfile", os.path.join(self.dir, "redis.log"), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.client()("PING") == "PONG", what="redis-server to answer")

    def client(self):
        c = Redis(self.port)
        return c

    def stop(self):
        """Shuts redis down cleanly (AOF kept)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self.proc = None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def destroy(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ daemons


class Daemon:
    """What the collector and the aggregator share: a process with a log
    file in a temp dir, an HTTP port with /healthz and /metrics."""

    def _setup(self, prefix):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "daemon.log")
        self.proc = None
        _cleanups.append(self.destroy)

    def _spawn(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log,
                                     preexec_fn=getattr(self, "preexec", None))
        wait_for(lambda: http_get(self.port, "/healthz")[0] == 200, what=f"{self.args[0]} /healthz")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Signals the process and returns its exit code."""
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def health(self):
        import json
        return json.loads(http_get(self.port, "/healthz")[2])

    def metric(self, name):
        """Returns the sum of every sample of metric `name` (exact name match)."""
        body = http_get(self.port, "/metrics")[2].decode()
        total = 0.0
        for line in body.splitlines():
            if line.startswith("#"):
                continue
            key = line.split(" ")[0]
            if key == name or key.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def logs(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def destroy(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ collector


class Collector(Daemon):
    """The real actiongap-collector binary on a free port."""

    def __init__(self, redis, spool_dir=None, extra=(), start=True, threads=1, preexec=None):
        if not COLLECTOR or not os.access(COLLECTOR, os.X_OK):
            raise AssertionError("AG_COLLECTOR does not name the collector binary")
        self._setup("ag-coll-")
        self.preexec = preexec      # runs in the child before exec (e.g. a file size limit)
        self.redis = redis
        self.spool_dir = spool_dir or os.path.join(self.dir, "spool")
        self.args = [COLLECTOR, "--listen", f"127.0.0.1:{self.port}", "--redis", redis.url(),
                     "--spool-dir", self.spool_dir, "--signing-key", SIGNING_KEY,
                     "--api-token", API_TOKEN, "--redirect-allow", "allowed.example",
                     "--threads", str(threads), "--redis-timeout-ms", "1000",
                     *extra]
        if start:
            self.start()

    def start(self, wait_redis=True):
        self._spawn()
        if wait_redis:
            wait_for(lambda: b'"redis":"up"' in http_get(self.port, "/healthz")[2],
                     what="collector to reach redis")


# ------------------------------------------------------------------ disks


class SmallDisk:
    """A spool directory on a filesystem of `size` bytes: a tmpfs mounted here
    (root), else a plain directory with the collector's files capped at
    `size` bytes each (RLIMIT_FSIZE: EFBIG, which the collector treats as a
    full disk)."""

    def __init__(self, size):
        self.size = size
        self.dir = tempfile.mkdtemp(prefix="ag-disk-")
        self.mounted = False
        if os.geteuid() == 0:
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs",
                            self.dir], check=True)
            self.mounted = True
        self.spool = os.path.join(self.dir, "spool")
        _cleanups.append(self.destroy)

    def preexec(self):
        import resource
        if not self.mounted:
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, self.size))

    def remount(self, mode):
        subprocess.run(["mount", "-o", f"remount,{mode}", self.dir], check=True)

    def destroy(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.dir], check=False)
            self.mounted = False
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------------ HTTP


def http_raw(port, data, timeout=10, read_all=True):
    """Sends raw bytes, returns everything read until close (or one response)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_response(s) if not read_all else _read_until_close(s)
    finally:
        s.close()


def _read_until_close(s):
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        out += d
    return out


def read_response(s, buf=b""):
    """Reads one HTTP response from socket s. Returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError(f"closed before a response: {buf!r}")
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for l in lines[1:]:
        k, v = l.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed mid-body")
        rest += d
    return status, headers, rest[:n], rest[n:]


class Conn:
    """A keep-alive HTTP/1.1 connection."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, method, path, body=b"", headers=None):
        h = {"Host": "localhost"}
        h.update(headers or {})
        if body or method in ("POST", "PUT"):
            h["Content-Length"] = str(len(body))
        req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
        self.s.sendall(req.encode("latin-1") + b"\r\n" + body)
        st, hd, bd, self.buf = read_response(self.s, self.buf)
        return st, hd, bd

    def close(self):
        self.s.close()


def http_get(port, path, headers=None):
    c = Conn(port)
    try:
        return c.request("GET", path, headers=headers)
    finally:
        c.close()


def http_post(port, path, body, headers=None):
    c = Conn(port)
    try:
        return c.request("POST", path, body=body, headers=headers)
    finally:
        c.close()


# ------------------------------------------------------------------ checks

_failures = []
_checks = 0


def check(cond, msg):
    """Records one assertion; prints failures, never stops early."""
    global _checks
    _checks += 1
    if not cond:
        _failures.append(msg)
        print(f"FAIL: {msg}", flush=True)


def done(name):
    """Prints the summary and exits non-zero on any failure."""
    if _failures:
        print(f"{name}: {len(_failures)} of {_checks} checks failed", flush=True)
        sys.exit(1)
    print(f"{name}: all {_checks} checks passed", flush=True)
    sys.exit(0)


# ------------------------------------------------------------------ load


class PixelLoad:
    """Sends numbered pixel hits (nonce n=<prefix><i>) over keep-alive
    connections from a thread, at most `rate` per second (0: as fast as it
    can), recording each request's latency."""

    def __init__(self, port, count, prefix="n", rate=0, campaign="load", conns=4, campaigns=1,
                 event="open"):
        import threading
        self.port, self.count, self.prefix, self.rate = port, count, prefix, rate
        self.campaign, self.nconns, self.campaigns, self.event = campaign, conns, campaigns, event
        self.sent = 0
        self.answered = 0
        self.stopped = False
        self.errors = []
        self.latencies = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        conns = [Conn(self.port) for _ in range(self.nconns)]
        t0 = time.monotonic()
        for i in range(self.count):
            if self.rate:
                due = t0 + i / self.rate
                now = time.monotonic()
                if due > now:
                    time.sleep(due - now)
            c = conns[i % self.nconns]
            camp = self.campaign if self.campaigns == 1 else f"{self.campaign}{i % self.campaigns}"
            path = f"/p.gif?c={camp}&e={self.event}&s=s{i % 1000}&n={self.prefix}{i}"
            start = time.monotonic()
            self.sent += 1
            try:
                st, _, body = c.request("GET", path, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"})
                if st != 200 or len(body) != 43:
                    self.errors.append((i, st))
                else:
                    self.answered += 1
            except OSError as e:
                self.errors.append((i, repr(e)))
                try:
                    conns[i % self.nconns] = Conn(self.port)
                except OSError:
                    time.sleep(0.01)
            self.latencies.append(time.monotonic() - start)
            if self.stopped:
                break
        for c in conns:
            c.close()

    def stop(self):
        self.stopped = True
        return self.wait()

    def wait(self, timeout=300):
        self.thread.join(timeout)
        return self

    def p(self, q):
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def nonces(entries):
    return [e[1].get("nonce") for e in entries]


def wait_count(redis_client, key, n, timeout=60):
    """Waits until stream key holds at least n entries; returns its length."""
    deadline = time.monotonic() + timeout
    got = 0
    while time.monotonic() < deadline:
        try:
            got = redis_client("XLEN", key)
        except (OSError, RespError):
            got = 0
        if got >= n:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # anything extra (a duplicate) would land by now
    return redis_client("XLEN", key)


# ------------------------------------------------------------------ aggregator


class Aggregator(Daemon):
    """The real actiongap-aggregator binary, its metrics on a free port."""

    def __init__(self, redis, extra=(), start=True, name=None):
        if not AGGREGATOR or not os.access(AGGREGATOR, os.X_OK):
            raise AssertionError("AG_AGGREGATOR does not name the aggregator binary")
        self._setup("ag-agg-")
        self.redis = redis
        self.args = [AGGREGATOR, "--redis", redis.url(), "--metrics-listen", f"127.0.0.1:{self.port}",
                     *(["--consumer", name] if name else []), *extra]
        if start:
            self.start()

    def start(self):
        self._spawn()


class Dashboard(Daemon):
    """The real actiongap-dashboard binary on a free port."""

    def __init__(self, redis, extra=(), start=True):
        if not DASHBOARD or not os.access(DASHBOARD, os.X_OK):
            raise AssertionError("AG_DASHBOARD does not name the dashboard binary")
        self._setup("ag-dash-")
        self.redis = redis
        self.args = [DASHBOARD, "--redis", redis.url(), "--dashboard-listen", f"127.0.0.1:{self.port}",
                     "--dashboard-token", DASHBOARD_TOKEN, "--api-token", API_TOKEN, *extra]
        if start:
            self.start()

    def start(self):
        self._spawn()

    def url(self, path, token=DASHBOARD_TOKEN):
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}" + (f"{sep}t={token}" if token else "")


def wait_applied(redis_client, partitions=1, timeout=60):
    """Waits until every hit stream is applied: the aggregator group has no
    lag and nothing pending, and its cursor (ag:applied:{P}: the aggregator
    reads with NOACK) is at the stream's last entry."""
    def idle():
        for p in range(partitions):
            key = f"ag:hits:{{{p}}}"
            try:
                groups = redis_client("XINFO", "GROUPS", key)
            except RespError:
                return False
            ok = False
            # not XINFO's lag: Redis 7.0 miscounts it after reloading the AOF
            info = redis_client("XINFO", "STREAM", key)
            last = dict(zip(info[::2], info[1::2]))[b"last-generated-id"]
            for g in groups:
                d = {g[i].decode() if isinstance(g[i], bytes) else g[i]: g[i + 1] for i in range(0, len(g), 2)}
                if d.get("name") == b"aggregator":
                    ok = d.get("pending") == 0 and d.get("last-delivered-id") == last
            if not ok:
                return False
            cursor = redis_client("GET", f"ag:applied:{{{p}}}")
            if redis_client("XRANGE", key, f"({cursor.decode()}" if cursor else "-", "+", "COUNT", 1):
                return False
        return True
    wait_for(idle, timeout=timeout, what="the aggregator to apply every entry", interval=0.1)


def hgetall(r, key):
    v = r("HGETALL", key) or []
    return {v[i].decode(): v[i + 1].decode() for i in range(0, len(v), 2)}


def zrange(r, key):
    v = r("ZRANGE", key, 0, -1, "WITHSCORES") or []
    return {v[i].decode(): float(v[i + 1]) for i in range(0, len(v), 2)}


# ------------------------------------------------------------------ reference model

BUILTIN = {"open", "view", "click", "scroll", "signup", "donate", "convert", "followup"}


def expected_counters(entries):
    """Computes every SPEC 3 counter from the stream entries, independently
    of the aggregator: returns {key_suffix: value} for the campaigns."""
    import collections
    import datetime
    out = collections.defaultdict(lambda: collections.defaultdict(int))
    uniq = collections.defaultdict(set)
    sets = collections.defaultdict(dict)
    seen_nonce = {}
    pending = collections.defaultdict(dict)
    fl = collections.defaultdict(lambda: collections.defaultdict(int))
    first_last = {}
    for _, f in entries:
        c = f["campaign"]
        ts = int(f["ts"])
        n = f.get("nonce")
        if n:
            prev = seen_nonce.get((c, n))
            if prev is not None and ts - prev < 86400000:
                out[(c, "")]["dup"] += 1
                continue
            seen_nonce[(c, n)] = ts
        e = f["event"]
        human = f["agent"] == "human"
        field = e if human else "machine_" + e
        out[(c, "")][field] += 1
        t = datetime.datetime.fromtimestamp(ts / 1000, datetime.timezone.utc)
        out[(c, "h:" + t.strftime("%Y%m%d%H"))][field] += 1
        out[(c, "d:" + t.strftime("%Y%m%d"))][field] += 1
        lo, hi = first_last.get(c, (ts, ts))
        first_last[c] = (min(lo, ts), max(hi, ts))
        if not human:
            continue
        if "value" in f:
            out[(c, "")]["value"] += int(f["value"])
        person = None
        if f.get("subject"):
            person = "s:" + f["subject"]
        elif f.get("ip") or f.get("ua"):
            person = "a:" + f.get("ip", "") + "|" + f.get("ua", "")
        if person:
            uniq[(c, e)].add(person)
        else:
            out[(c, "")]["anonymous"] += 1     # GPC/DNT: counted apart, in no unique
        if e == "scroll" and person:
            for b in (25, 50, 75, 100):
                if int(f["depth"]) >= b:
                    uniq[(c, "scroll:" + str(b))].add(person)
        ref = f.get("ref")
        action = e in ("signup", "donate", "convert") or e not in BUILTIN
        day = "d:" + t.strftime("%Y%m%d")
        if ref:
            if e in ("open", "view", "click"):
                out[(c, "ref:reach")][ref] += 1
            if action:
                out[(c, "ref")][ref] += 1
                out[(c, day)]["adv_action:" + ref] += 1
            if e == "click":
                out[(c, "ref:click")][ref] += 1
                out[(c, day)]["adv_click:" + ref] += 1
        elif f.get("uref") and action:     # an unsigned ?via=: counted apart
            out[(c, "ref:unverified")][f["uref"]] += 1
            out[(c, "")]["unverified"] += 1
        s = f.get("subject")
        if s and e == "signup":
            pending[c].setdefault(s, ts)
        elif s and e == "followup":
            if s in pending[c]:
                lat = max(0, ts - pending[c].pop(s))
                d = fl[c]
                d["count"] += 1
                d["sum_ms"] += lat
                d["max_ms"] = max(d.get("max_ms", -1), lat)
                for b in (60, 300, 900, 3600, 14400, 86400):
                    if lat <= b * 1000:
                        d[f"le_{b}s"] += 1
                d["le_inf"] += 1
            else:
                fl[c]["unmatched"] += 1
    for c, (lo, hi) in first_last.items():
        out[(c, "")]["first_ts"] = lo
        out[(c, "")]["last_ts"] = hi
    return {"hashes": out, "uniques": uniq, "pending": pending, "fl": fl}


def check_against_model(r, model):
    """Checks every key of the model (expected_counters) against Redis,
    exactly: hashes and leaderboards by value, each HyperLogLog by PFCOUNT
    against a scratch HyperLogLog of the model's own elements (the same set
    gives the same registers, so estimation error cannot hide a lost or an
    extra element); returns the number of keys checked."""
    n = 0
    for (c, sfx), want in model["hashes"].items():
        key = f"ag:c:{{{c}}}" + (":" + sfx if sfx else "")
        if sfx in ("ref", "ref:reach", "ref:click", "ref:unverified"):
            got = {k: int(v) for k, v in zrange(r, key).items()}
        else:
            got = {k: int(v) for k, v in hgetall(r, key).items()}
        check(got == dict(want), f"{key}: want {dict(want)}, got {got}")
        n += 1
    for (c, e), subjects in model["uniques"].items():
        scratch = "test:model:hll"
        r("DEL", scratch)
        r("PFADD", scratch, *sorted(subjects))
        want = r("PFCOUNT", scratch)
        r("DEL", scratch)
        got = r("PFCOUNT", uniq_key(c, e))
        check(got == want, f"{uniq_key(c, e)}: want {want} (the model's {len(subjects)} elements), got {got}")
        n += 1
    for c, pend in model["pending"].items():
        got = {k: int(v) for k, v in zrange(r, f"ag:c:{{{c}}}:pending").items()}
        check(got == pend, f"ag:c:{{{c}}}:pending: want {pend}, got {got}")
        n += 1
    for c, d in model["fl"].items():
        got = {k: int(v) for k, v in hgetall(r, f"ag:c:{{{c}}}:fl").items()}
        check(got == dict(d), f"ag:c:{{{c}}}:fl: want {dict(d)}, got {got}")
        n += 1
    return n


def uniq_key(c, name):
    """The key of an HLL of the model: u:<event>, or scroll:<depth>."""
    return f"ag:c:{{{c}}}:" + (name if name.startswith("scroll:") else "u:" + name)


# ------------------------------------------------------------------ alert channels


class Subscriber:
    """Collects the messages PUBLISHed on a channel, from a thread."""

    def __init__(self, port, channel):
        import threading
        self.messages = []
        self.c = Redis(port, timeout=None)
        self.c("SUBSCRIBE", channel)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            while True:
                m = self.c._reply()
                if isinstance(m, list) and m and m[0] == b"message":
                    self.messages.append(m[2].decode())
        except (OSError, ConnectionError, RespError):
            pass


class WebhookReceiver:
    """A local HTTP receiver that records the JSON POSTed to it (`posts`) and
    every request it accepted as (path, headers, raw body, time) (`raw`);
    `mode` can be switched to 'down' (answers 503) or 'slow' (waits `delay` s)."""

    def __init__(self):
        import http.server
        import json
        import threading
        outer = self
        self.posts = []
        self.raw = []
        self.attempts = 0
        self.mode = "up"
        self.delay = 5.0

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                outer.attempts += 1
                if outer.mode == "slow":
                    time.sleep(outer.delay)
                if outer.mode == "down":
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.raw.append((self.path, dict(self.headers), body, time.time()))
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    outer.posts.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        _cleanups.append(self.server.shutdown)

    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"


# ------------------------------------------------------------------ mail


class SmtpSink:
    """A small SMTP server on loopback (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
    that records each message: (MAIL FROM, [RCPT TO], raw bytes with CRLF). It
    answers 451 to the first `flaky_left` RCPT of flaky@… (a full mailbox)."""

    def __init__(self):
        outer = self
        self.flaky_left = 2
        self.messages = []
        self.commands = []

        class H(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink.example ESMTP test sink\r\n")
                mail_from, rcpts = None, []
                while True:
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    cmd = line.decode("ascii", "replace").rstrip("\r\n")
                    verb = cmd.split(" ", 1)[0].upper()
                    outer.commands.append(verb)
                    if verb == "EHLO":
                        self.wfile.write(b"250-sink.example\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n")
                    elif verb == "HELO":
                        self.wfile.write(b"250 sink.example\r\n")
                    elif verb == "MAIL":
                        mail_from, rcpts = cmd[10:].split(" ")[0].strip("<>"), []
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "RCPT":
                        to = cmd[8:].strip().strip("<>")
                        if to.startswith("flaky@") and outer.flaky_left > 0:
                            outer.flaky_left -= 1
                            self.wfile.write(b"451 try again later\r\n")
                            continue
                        rcpts.append(to)
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b""
                        while True:
                            l = self.rfile.readline(65536)
                            if not l or l == b".\r\n":
                                break
                            data += l[1:] if l.startswith(b"..") else l
                        outer.messages.append((mail_from, rcpts, data))
                        self.wfile.write(b"250 OK queued\r\n")
                    elif verb in ("RSET", "NOOP"):
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"502 not implemented\r\n")

        class S(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
