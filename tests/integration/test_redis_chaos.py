"""Chaos: a mixed load (opens, views, scrolls, signups, donations, retries
of one nonce, API follow-ups over eight campaigns) runs while a driver
applies Redis faults and daemon crashes in a random order for a bounded
time: OOM, BUSY, CLIENT PAUSE (WRITE and ALL), DEBUG SLEEP, every client
killed, Redis SIGKILLed and restarted from its AOF (appendfsync always),
the aggregator SIGKILLed, the collector stopped and restarted on its spool.
Then every answered hit must be in the stream exactly once, and every
counter, leaderboard, unique count, pending set and follow-up histogram
must equal an independent model computed from the stream.

AG_CHAOS_SEED replays a run; AG_CHAOS_SECONDS sets how long faults go on
(default 30)."""
import json, random, socket, sys, os, threading
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

SEED = int(os.environ.get("AG_CHAOS_SEED") or int(time.time() * 1000) % 1000000)
SECONDS = float(os.environ.get("AG_CHAOS_SECONDS") or 30)
print(f"chaos: seed {SEED} (AG_CHAOS_SEED={SEED} replays it), {SECONDS:.0f} s of faults", flush=True)
rng = random.Random(SEED)

rs = RedisServer(appendfsync="always", extra=["--enable-debug-command", "local"])
col = Collector(rs)
agg = Aggregator(rs)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CAMPAIGNS = [f"chaos{i}" for i in range(8)]


class Load:
    """Sends the mixed load from a thread until stopped; records which
    nonces were answered (accepted) and which were only tried."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.answered, self.tried, self.retried = [], set(), set()
        self.api_ok = self.api_tried = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def pixel(self, conn, q, nonce):
        self.tried.add(nonce)
        st, _, body = conn.request("GET", f"/p.gif?{q}&n={nonce}", headers={"User-Agent": UA})
        if st == 200 and len(body) == 43:
            self.answered.append(nonce)

    def run(self):
        conn, i = None, 0
        while not self.stop:
            i += 1
            c = self.rng.choice(CAMPAIGNS)
            s = f"s{self.rng.randrange(150)}"
            ref = self.rng.choice(["", "", "&ref=ann", "&ref=bob"])
            e = self.rng.choices(["open", "view", "scroll", "signup", "donate", "followup"],
                                 [40, 25, 10, 10, 5, 10])[0]
            try:
                if conn is None:
                    conn = Conn(col.port)
                if e == "followup":
                    self.api_tried += 1
                    st, _, _ = http_post(col.port, "/api/hits", json.dumps({"c": c, "e": "followup", "s": s,
                                                                            "n": f"f{i}"}).encode(),
                                         {"Content-Type": "application/json",
                                          "Authorization": f"Bearer {API_TOKEN}"})
                    self.tried.add(f"f{i}")
                    if st == 202:
                        self.answered.append(f"f{i}")
                else:
                    q = f"c={c}&e={e}&s={s}{ref}"
                    if e == "scroll":
                        q += f"&d={self.rng.choice([25, 50, 75, 100])}"
                    elif e == "donate":
                        q += f"&v={self.rng.randrange(100, 10000)}"
                    self.pixel(conn, q, f"h{i}")
                    if self.rng.random() < 0.03:    # a client's retry: the same nonce again
                        self.retried.add(f"h{i}")
                        self.pixel(conn, q, f"h{i}")
            except OSError:
                conn = None
                time.sleep(0.02)
            time.sleep(0.004)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop = True
        self.thread.join(60)


def busy():
    r = rs.client()
    r("CONFIG", "SET", "busy-reply-threshold", "100")
    s = socket.create_connection(("127.0.0.1", rs.port))
    body = b"while 1 do end"
    s.sendall(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body))
    time.sleep(rng.uniform(0.5, 2.5))
    wait_for(lambda: Redis(rs.port)("SCRIPT", "KILL") == "OK", what="SCRIPT KILL")
    s.close()
    wait_for(lambda: rs.client()("PING") == "PONG", what="redis after SCRIPT KILL")
    rs.client()("CONFIG", "SET", "busy-reply-threshold", "5000")


def oom():
    rs.client()("CONFIG", "SET", "maxmemory", "1")
    time.sleep(rng.uniform(0.5, 3))
    rs.client()("CONFIG", "SET", "maxmemory", "0")


def pause(mode):
    ms = rng.randrange(500, 3000)
    rs.client()("CLIENT", "PAUSE", str(ms), mode)
    time.sleep(ms / 1000 + 0.1)


def debug_sleep():
    secs = rng.choice(["0.5", "1", "2"])
    Redis(rs.port, timeout=30)("DEBUG", "SLEEP", secs)


def kill_clients():
    rs.client()("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")


def redis_kill():
    rs.kill()
    time.sleep(rng.uniform(0.2, 2))
    rs.start()


def agg_kill():
    agg.kill()
    time.sleep(rng.uniform(0, 1))
    agg.start()


def col_restart():
    check(col.stop() == 0, "chaos: the collector exits 0 on SIGTERM")
    col.start(wait_redis=False)


def quiet():
    time.sleep(rng.uniform(0.5, 2))


FAULTS = {"busy": busy, "oom": oom, "pause_write": lambda: pause("WRITE"), "pause_all": lambda: pause("ALL"),
          "debug_sleep": debug_sleep, "kill_clients": kill_clients, "redis_kill": redis_kill,
          "agg_kill": agg_kill, "col_restart": col_restart, "quiet": quiet}

load = Load(SEED + 1).start()
done_faults = []
t_end = time.monotonic() + SECONDS
while time.monotonic() < t_end:
    name = rng.choice(sorted(FAULTS))
    done_faults.append(name)
    FAULTS[name]()
    time.sleep(rng.uniform(0.1, 1.0))
time.sleep(1)
load.finish()
print(f"chaos: faults in order: {' '.join(done_faults)}", flush=True)

r = rs.client()
wait_for(lambda: col.metric("ag_spool_records") == 0 and col.metric("ag_queue_depth") == 0, timeout=120,
         what="the collector's spool to drain")
wait_applied(r, timeout=120)
entries = r.xrange_all("ag:hits:{0}")
ns = [f.get("nonce") for _, f in entries]
count = {}
for n in ns:
    count[n] = count.get(n, 0) + 1
answered = set(load.answered)
missing = [n for n in answered if n not in count]
extra = [n for n in count if n not in load.tried]
twice = [n for n, k in count.items() if k > 1 and n not in load.retried]
check(not missing, f"chaos: every answered hit is in the stream ({len(missing)} missing: {missing[:5]})")
check(not extra, f"chaos: nothing in the stream that was not sent ({extra[:5]})")
check(not twice, f"chaos: no hit twice in the stream but a client's own retries ({twice[:5]})")
check(col.metric("ag_hits_dropped_total") == 0, "chaos: the collector dropped nothing")
model = expected_counters(entries)
keys = check_against_model(r, model)
check(agg.alive() and col.alive(), "chaos: both daemons alive")
print(f"chaos: {len(done_faults)} faults; sent {len(load.tried)} distinct hits, answered {len(answered)}, "
      f"in the stream {len(count)} distinct ({len(entries)} entries, {len(load.retried)} retried by the "
      f"client); {keys} keys equal to the model", flush=True)
check(col.stop() == 0, "chaos: collector exits 0")
check(agg.stop() == 0, "chaos: aggregator exits 0")
done("test_redis_chaos")
