"""Redis answering with an error, or not at all, while hits flow through the
real collector and aggregator: OOM under maxmemory with noeviction, BUSY
(a script that will not end), LOADING (a restart reading a large data set),
CLIENT PAUSE and DEBUG SLEEP. In each case every pixel is answered 200, the
hits wait in the spool and the aggregator waits; once Redis is back every
hit is counted exactly once, in the campaigns the fault hit and in the ones
it did not, and the daemons said so in a bounded number of log lines."""
import socket, sys, os, threading
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

rs = RedisServer(appendfsync="everysec", extra=["--enable-debug-command", "local"])
r = rs.client()
col = Collector(rs)
agg = Aggregator(rs)
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
RATE = 100
LIMIT = 6               # warning and error lines a daemon may write in one outage, however long


def noisy_lines(d, since):
    """Returns the warn/error lines daemon d wrote after byte offset since."""
    return [l for l in d.logs()[since:].splitlines() if "level=warn" in l or "level=error" in l]


def opens(c):
    return int(hgetall(r, f"ag:c:{{{c}}}").get("open", "0"))


ONLY = os.environ.get("AG_SCENARIOS", "").split(",") if os.environ.get("AG_SCENARIOS") else None


def scenario(name, fault_on, fault_off, seconds=4.0, load_s=None):
    """Sends hits to two campaigns at RATE/s before, during and after a fault,
    and a third campaign only before it; checks every count exactly
    (AG_SCENARIOS=a,b runs only those, when debugging)."""
    if ONLY and name not in ONLY:
        return [], []
    c0, c1 = f"{name}0", f"{name}1"
    quiet = f"{name}-quiet"
    for i in range(20):
        http_get(col.port, f"/p.gif?c={quiet}&e=open&s=q{i}", headers={"User-Agent": UA})
    n = int(RATE * (load_s or seconds + 2))
    logc, loga = len(col.logs()), len(agg.logs())
    dropped0 = col.metric("ag_hits_dropped_total")
    load = PixelLoad(col.port, n, prefix=f"{name}-", rate=RATE, campaign=name, campaigns=2).start()
    time.sleep(1)
    t0 = time.monotonic()
    fault_on()
    time.sleep(seconds)
    fault_off()
    fault_s = time.monotonic() - t0
    load.wait()
    wait_for(lambda: col.metric("ag_spool_records") == 0 and b'"redis":"up"' in http_get(col.port, "/healthz")[2],
             timeout=60, what=f"{name}: the spool to drain")
    try:
        wait_applied(r, timeout=60)
    except AssertionError:
        print("aggregator log:\n" + agg.logs()[loga:][-3000:], flush=True)
        print("groups", r("XINFO", "GROUPS", "ag:hits:{0}"), "xlen", r("XLEN", "ag:hits:{0}"),
              "consumers", r("XINFO", "CONSUMERS", "ag:hits:{0}", "aggregator"), flush=True)
        raise
    got = (opens(c0), opens(c1), opens(quiet))
    want = ((n + 1) // 2, n // 2, 20)
    check(not load.errors and load.answered == n, f"{name}: every pixel answered 200 ({load.answered} of {n}, "
          f"errors {load.errors[:3]})")
    check(got == want, f"{name}: sent {want}, counted {got} (two loaded campaigns, one quiet)")
    check(col.metric("ag_hits_dropped_total") == dropped0, f"{name}: nothing dropped")
    lc, la = noisy_lines(col, logc), noisy_lines(agg, loga)
    check(len(lc) <= LIMIT and len(la) <= LIMIT,
          f"{name}: {len(lc)} collector and {len(la)} aggregator warn/error lines in {fault_s:.1f} s "
          f"(limit {LIMIT} an outage): {lc[:8]} {la[:8]}")
    print(f"{name}: fault {fault_s:.1f} s, sent {n}, counted {got[0] + got[1]}, quiet campaign {got[2]} of 20, "
          f"p99 {load.p(0.99) * 1000:.1f} ms, log lines collector {len(lc)} aggregator {len(la)}", flush=True)
    return lc, la


# -- OOM: maxmemory below what is used, noeviction: every write is refused
r("CONFIG", "SET", "maxmemory-policy", "noeviction")
lc, la = scenario("oom", lambda: r("CONFIG", "SET", "maxmemory", "1"),
                  lambda: r("CONFIG", "SET", "maxmemory", "0"))
check(any("OOM" in l for l in lc), f"oom: the collector names OOM ({lc[:2]})")


# -- BUSY: a script that will not end (busy-reply-threshold 200 ms), killed
def busy_on():
    r("CONFIG", "SET", "busy-reply-threshold", "200")
    s = socket.create_connection(("127.0.0.1", rs.port))
    body = b"while 1 do end"
    s.sendall(b"*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(body), body))
    busy_on.sock = s
    time.sleep(0.3)


def busy_off():
    wait_for(lambda: Redis(rs.port)("SCRIPT", "KILL") == "OK", what="SCRIPT KILL")
    busy_on.sock.close()
    wait_for(lambda: r("PING") == "PONG", what="redis after SCRIPT KILL")
    r("CONFIG", "SET", "busy-reply-threshold", "5000")


scenario("busy", busy_on, busy_off)


# -- LOADING: a restart that reads 20,000 keys at 200 µs each (about 4 s)
def loading_on():
    global r
    r("DEBUG", "POPULATE", "20000", "filler", "10")
    r("BGREWRITEAOF")
    wait_for(lambda: b"aof_rewrite_in_progress:0" in r("INFO", "persistence")
             and b"aof_rewrite_scheduled:0" in r("INFO", "persistence"), timeout=30, what="AOF rewrite")
    rs.stop()
    rs.extra = [*rs.extra, "--key-load-delay", "200"]
    loading_on.t0 = time.monotonic()
    rs.start()      # returns once PING answers PONG, not LOADING
    loading_on.load_s = time.monotonic() - loading_on.t0
    r = rs.client()


def loading_off():
    rs.extra = rs.extra[:-2]
    r("CONFIG", "SET", "key-load-delay", "0")


lc, la = scenario("loading", loading_on, lambda: None, seconds=0.1, load_s=8)
if hasattr(loading_on, "load_s"):
    loading_off()
    check(loading_on.load_s >= 2.0, f"loading: redis answered LOADING for {loading_on.load_s:.1f} s (at least 2)")
    said = agg.logs().splitlines()
    check(any("redis: working again" in l and "lines_held_back=" in l for l in said),
          "loading: the aggregator says when it works again, and how many lines it held back")
    r("DEL", *[f"filler:{i}" for i in range(20000)])

# -- CLIENT PAUSE WRITE 4 s: writes wait, reads answer
scenario("pause", lambda: r("CLIENT", "PAUSE", "4000", "WRITE"), lambda: r("CLIENT", "UNPAUSE"))
# -- CLIENT PAUSE ALL: nothing answers
scenario("pauseall", lambda: r("CLIENT", "PAUSE", "4000", "ALL"), lambda: r("CLIENT", "UNPAUSE"))


# -- DEBUG SLEEP 4: the whole server blocked
def sleep_on():
    threading.Thread(target=lambda: Redis(rs.port, timeout=30)("DEBUG", "SLEEP", "4"), daemon=True).start()


scenario("sleep", sleep_on, lambda: wait_for(lambda: r("PING") == "PONG", what="redis after DEBUG SLEEP"), 4.5)

check(col.stop() == 0, "collector exits 0")
check(agg.stop() == 0, "aggregator exits 0")
done("test_redis_errors")
