"""What each spool_fsync mode costs: pixels answered per second, and their
p99, while Redis is unreachable and every hit goes to the spool, on the
disk under /var/tmp. Modes alternate round by round (these machines are
noisy); ratios are against `never` measured in the same run.

    AG_COLLECTOR=build/collector/actiongap-collector \
        /usr/bin/python3 tests/bench/spool_fsync.py [N per round] [rounds]
"""
import os, statistics, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from harness import Collector, PixelLoad, RedisServer, http_get, wait_for  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
MODES = ("never", "second", "always")

rs = RedisServer()
rate = {m: [] for m in MODES}
p99 = {m: [] for m in MODES}
for rnd in range(ROUNDS):
    for mode in MODES:
        spool = tempfile.mkdtemp(prefix="ag-bench-spool-", dir="/var/tmp")
        col = Collector(rs, spool_dir=spool, extra=["--spool-fsync", mode])
        rs.stop()
        wait_for(lambda: b'"redis":"down"' in http_get(col.port, "/healthz")[2], what="redis down")
        t0 = time.monotonic()
        load = PixelLoad(col.port, N, prefix=f"{mode}{rnd}-", conns=4).start().wait()
        dt = time.monotonic() - t0
        if load.answered != N:
            raise SystemExit(f"{mode}: answered {load.answered} of {N}")
        rate[mode].append(N / dt)
        p99[mode].append(load.p(0.99) * 1000)
        col.stop()
        col.destroy()
        for f in os.listdir(spool):
            os.unlink(os.path.join(spool, f))
        os.rmdir(spool)
        rs.start()

base = statistics.median(rate["never"])
print(f"spool_fsync, Redis unreachable, {N} pixels x {ROUNDS} rounds, 4 connections, spool on /var/tmp")
for mode in MODES:
    r = statistics.median(rate[mode])
    print(f"  {mode:7s} {r:8.0f} pixels/s (ratio {r / base:.2f} of never)  p99 {statistics.median(p99[mode]):.2f} ms")
