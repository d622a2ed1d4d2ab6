"""Disk faults under the spool (SPEC 9, docs/RELIABILITY.md): a full or
failing disk never loses an accepted hit silently.

Runs the real collector against a real redis-server with its spool on a
small filesystem: a tmpfs the test mounts when it runs as root, otherwise a
file size limit (RLIMIT_FSIZE) on the collector. Each scenario states
sent N = found N + dropped D, with D counted on /metrics, and D = 0 while the
in-memory queue had room."""
import glob, json, os, shutil, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

ROOT = os.geteuid() == 0
UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"}


def health(col):
    """Returns (HTTP status, body) of /healthz."""
    st, _, body = http_get(col.port, "/healthz")
    return st, json.loads(body)


def dropped(col, reason=None):
    return int(col.metric(f'ag_hits_dropped_total{{reason="{reason}"}}' if reason
                          else "ag_hits_dropped_total"))


def in_order(r, prefix, n):
    return nonces(r.xrange_all("ag:hits:{0}")) == [f"{prefix}{i}" for i in range(n)]


# 1. The scenario: Redis down, a 256 KiB disk, 4,000 pixels. The disk
# fills; the rest are held in memory; all 4,000 arrive when Redis returns.
N = 4000
disk = SmallDisk(256 * 1024)
rs = RedisServer()
col = Collector(rs, spool_dir=disk.spool, preexec=disk.preexec)
rs.stop()
load = PixelLoad(col.port, N, prefix="d", conns=2).start().wait()
check(not load.errors and load.answered == N, f"disk full: {load.answered} of {N} pixels answered 200")
wait_for(lambda: health(col)[1]["spooled"] + health(col)[1]["held"] == N, what="every hit spooled or held")
st, h = health(col)
on_disk = int(col.metric("ag_hits_spooled_total"))
check(st == 503 and h["status"] == "degraded" and h["reason"] == "disk_full",
      f"healthz says degraded/disk_full while hits are held: {st} {h}")
check(h["held"] > 0 and h["spooled"] == on_disk, f"held {h['held']} in memory, {h['spooled']} on disk = written {on_disk}")
check(col.metric("ag_spool_bytes") <= 256 * 1024, f"spool bytes {col.metric('ag_spool_bytes')} fit the disk")
check(dropped(col) == 0, f"nothing dropped while memory had room (dropped {dropped(col)})")
check("write failed, holding hits in memory" in col.logs(), "the full disk is logged")
rs.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N, timeout=60)
check(got == N, f"disk full: sent {N}, found {got}")
check(in_order(r, "d", N), "disk, then memory: replayed in order, none twice")
wait_for(lambda: health(col)[1]["status"] == "ok", timeout=15, what="healthz ok again")
check(health(col)[1]["held"] == 0, "nothing held after the replay")
print(f"disk-full: sent {N}, on disk {on_disk}, held in memory {h['held']}, found {got}, dropped {dropped(col)}")
col.stop()
rs.destroy()
disk.destroy()

# 2. A memory queue smaller than the backlog: found + dropped = accepted, every
# drop counted (reason disk_full) and logged; /b and /api/hits answer 503 with
# Retry-After while /p.gif and /r still answer and count the drop.
N = 4000
QMAX = 1000
disk = SmallDisk(256 * 1024)
rs = RedisServer()
col = Collector(rs, spool_dir=disk.spool, preexec=disk.preexec, extra=["--queue-max", str(QMAX)])
rs.stop()
load = PixelLoad(col.port, N, prefix="q", conns=2).start().wait()
check(not load.errors and load.answered == N, f"small queue: {load.answered} of {N} pixels answered 200")
wait_for(lambda: health(col)[1]["spooled"] + health(col)[1]["held"] + dropped(col) == N,
         what="spooled + held + dropped = sent")
st, h = health(col)
d = dropped(col, "disk_full")
check(h["held"] == QMAX, f"memory holds queue_max = {QMAX} hits (held {h['held']})")
check(d > 0 and d == dropped(col), f"drops counted with reason disk_full: {d}")
check(st == 503 and h["status"] == "degraded", f"healthz degraded while dropping: {st} {h}")
check("hit dropped: cannot spool" in col.logs() and "reason=disk_full" in col.logs(), "drops are logged")
st, hdrs, body = http_post(col.port, "/b", b"c=spring&e=view&s=b1&n=beacon1",
                           {"Content-Type": "application/x-www-form-urlencoded", **UA})
check(st == 503 and "retry-after" in {k.lower() for k in hdrs}, f"/b answers 503 with Retry-After: {st} {hdrs}")
st, hdrs, body = http_post(col.port, "/api/hits",
                           json.dumps([{"c": "spring", "e": "signup", "s": "a1", "n": "api1"},
                                       {"c": "spring", "e": "bad{", "s": "a2"},
                                       {"c": "spring", "e": "signup", "s": "a3", "n": "api3"}]).encode(),
                           {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
ans = json.loads(body)
check(st == 503 and "retry-after" in {k.lower() for k in hdrs}, f"/api/hits answers 503 with Retry-After: {st}")
check(ans.get("accepted") == 0 and ans.get("refused") == 2 and ans.get("rejected") == 1 and
      {e["index"]: e["reason"] for e in ans.get("errors", [])} == {0: "unavailable", 1: "bad_event", 2: "unavailable"},
      f"the API says which hits were not accepted: {ans}")
st, _, body = http_get(col.port, "/p.gif?c=load&e=open&s=x&n=qpix", UA)
check(st == 200 and len(body) == 43, f"/p.gif still answers the GIF: {st}")
st, _, _ = http_get(col.port, "/r?c=load&to=https%3A%2F%2Fallowed.example%2F&n=qclick", UA)
check(st == 302, f"/r still redirects: {st}")
accepted = N + 2
wait_for(lambda: dropped(col) == d + 2, what="the pixel and the click counted as dropped")
refused = int(col.metric('ag_hits_total{endpoint="beacon",result="refused"}') +
              col.metric('ag_hits_total{endpoint="api",result="refused"}'))
check(refused == 3, f"refused hits counted apart (3): {refused}")
held, spooled, d = health(col)[1]["held"], health(col)[1]["spooled"], dropped(col)
rs.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", spooled + held, timeout=60)
check(got + d == accepted, f"small queue: accepted {accepted} = found {got} + dropped {d}")
check(got == spooled + held, f"found {got} = on disk {spooled} + held {held}")
wait_for(lambda: health(col)[1]["status"] == "ok", timeout=15, what="healthz ok again")
print(f"small-queue: accepted {accepted}, found {got}, dropped {d} (disk_full), refused {refused} (503)")
col.stop()
rs.destroy()
disk.destroy()

# 3. Space returns while Redis is still down: the held hits are written (no
# partial record left behind), the collector stops cleanly, and a restart
# replays them all from disk.
if ROOT:
    N = 500
    disk = SmallDisk(256 * 1024)
    filler = os.path.join(disk.dir, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * 200 * 1024)
    rs = RedisServer()
    col = Collector(rs, spool_dir=disk.spool)
    rs.stop()
    load = PixelLoad(col.port, N, prefix="s", conns=1).start().wait()
    check(not load.errors, "pixels answered while the disk is full")
    wait_for(lambda: health(col)[1]["held"] > 0, what="hits held")
    held0 = health(col)[1]["held"]
    os.unlink(filler)
    wait_for(lambda: health(col)[1]["held"] == 0 and health(col)[1]["status"] == "ok", timeout=15,
             what="held hits written once space returns")
    written = int(col.metric("ag_hits_spooled_total"))
    check(written == N, f"space returns: all {N} written to the spool ({written}), {held0} of them held before")
    check(col.stop() == 0, "collector exits 0 with everything on disk")
    rs.start()
    col.start()
    r = rs.client()
    got = wait_count(r, "ag:hits:{0}", N, timeout=30)
    check(got == N and in_order(r, "s", N), f"space returns: sent {N}, found {got} in order")
    check("torn or corrupt" not in col.logs(), "no partial record was left in the file")
    print(f"space-returns: sent {N}, held {held0}, written {written}, found {got}")
    col.stop()
    rs.destroy()
    disk.destroy()
else:
    print("space-returns: needs root to mount a tmpfs; the unit test enospc_partial_then_space_returns covers it")

# 4. The spool directory deleted while running: the hits in the deleted file
# are held (degraded), new ones go to a new file in a recreated directory, and
# SIGTERM rewrites the deleted file's hits, so a restart replays all of them.
N = 300
rs = RedisServer()
col = Collector(rs)
rs.stop()
PixelLoad(col.port, N, prefix="x", conns=1).start().wait()
wait_for(lambda: col.metric("ag_hits_spooled_total") == N, what="first hits written")
shutil.rmtree(col.spool_dir)
PixelLoad(col.port, N, prefix="x", conns=1).start().wait()
wait_for(lambda: col.metric("ag_hits_spooled_total") == 2 * N, what="later hits written to a new file")
st, h = health(col)
check(st == 503 and h["reason"] == "disk_error" and h["held"] == N,
      f"deleted directory: the deleted file's {N} hits are held, healthz degraded: {st} {h}")
check(col.stop() == 0, "collector exits 0: the deleted file was rewritten")
check("damaged file rewritten" in col.logs(), "the rewrite is logged")
rs.start()
col.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", 2 * N, timeout=30)
ns = nonces(r.xrange_all("ag:hits:{0}"))
check(got == 2 * N and ns == [f"x{i}" for i in range(N)] * 2, f"deleted directory: sent {2 * N}, found {got} in order")
print(f"dir-deleted: sent {2 * N}, held {h['held']}, found {got}")
col.stop()
rs.destroy()

# 5. The spool directory made read-only while running: hits are held, and
# written once it is writable again.
N = 200
disk = SmallDisk(4 * 1024 * 1024)
rs = RedisServer()
col = Collector(rs, spool_dir=disk.spool)
rs.stop()
if ROOT:
    disk.remount("ro")
else:
    os.chmod(disk.spool, 0o500)
PixelLoad(col.port, N, prefix="o", conns=1).start().wait()
wait_for(lambda: health(col)[1]["held"] == N, what="hits held while read-only")
st, h = health(col)
check(st == 503 and h["reason"] == "disk_error", f"read-only: healthz degraded/disk_error: {st} {h}")
check(dropped(col) == 0, "read-only: nothing dropped while memory has room")
if ROOT:
    disk.remount("rw")
else:
    os.chmod(disk.spool, 0o750)
wait_for(lambda: health(col)[1]["held"] == 0 and health(col)[1]["status"] == "ok", timeout=15,
         what="written once writable")
check(col.metric("ag_hits_spooled_total") == N, f"all {N} written once writable")
rs.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", N, timeout=30)
check(got == N and in_order(r, "o", N), f"read-only: sent {N}, found {got} in order")
print(f"read-only: sent {N}, held {h['held']}, found {got}")
col.stop()
rs.destroy()

# 6. Start-up with an unwritable spool directory: one line naming the key, exit non-zero.
bad = SmallDisk(64 * 1024)
if ROOT:
    bad.remount("ro")
else:
    os.makedirs(bad.spool)
    os.chmod(bad.spool, 0o500)
rs = RedisServer()
probe = Collector(rs, spool_dir=bad.spool, start=False)
res = subprocess.run(probe.args, capture_output=True, timeout=20)
lines = res.stderr.decode().strip().splitlines()
check(res.returncode != 0, f"unwritable spool_dir: exit {res.returncode}")
check(len(lines) == 1 and "spool_dir" in lines[0] and "not writable" in lines[0],
      f"one line naming spool_dir: {lines}")
print(f"unwritable-at-start: exit {res.returncode}: {lines[0] if lines else ''}")
rs.destroy()
bad.destroy()

# 7. A spool file corrupted between restarts: the records before the damage
# replay, the damage is reported, nothing after it is invented.
N = 300
K = 120
rs = RedisServer()
col = Collector(rs)
rs.stop()
PixelLoad(col.port, N, prefix="c", conns=1).start().wait()
wait_for(lambda: col.metric("ag_hits_spooled_total") == N, what="spooled")
check(col.stop() == 0, "collector exits 0")
path = sorted(glob.glob(os.path.join(col.spool_dir, "spool-*.log")))[0]
with open(path, "r+b") as f:
    data = f.read()
    off = 16 + int.from_bytes(data[8:12], "little")
    for _ in range(K):
        off += 8 + int.from_bytes(data[off:off + 4], "little")
    f.seek(off + 8 + 10)            # inside record K's payload
    f.write(bytes([data[off + 18] ^ 0xFF]))
rs.start()
col.start()
r = rs.client()
got = wait_count(r, "ag:hits:{0}", K, timeout=30)
check(got == K and in_order(r, "c", K), f"corrupt file: {N} spooled, damage at record {K}, found {got}")
check("torn or corrupt tail skipped" in col.logs(), "the damage is logged")
check(col.metric("ag_spool_damaged_total") == 1, "the damage is counted")
print(f"corrupt-file: spooled {N}, damaged at {K}, replayed {got}, invented {max(0, got - K)}")
col.stop()
rs.destroy()
done("test_coll_disk")
