"""The README's tour, command by command, so it cannot rot: the real
deploy/run.sh (AG_NO_BUILD=1, its var/ in a temp dir, free ports) starts
Redis, the collector, the aggregator, the dashboard and the demo page; then
every command of every `sh` block of "A 60-second tour" runs in bash, in
order, with the tour's ports replaced by the ones given to run.sh, and must
exit 0. What the tour asks a person to do by hand (open two links in a
browser and sign up on the page) the test does over HTTP between the
blocks, as the page's /ag.js would. A few figures the README prints are
checked exactly.

With --cluster the same tour runs on `run.sh --cluster` (a private Redis
Cluster of 3 masters), read as the README says: `redis-cli -c -p <first
master>` for `redis-cli -p 6399` and spring's partition 9 for 0."""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403
from harness import _cleanups

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(CLI)))     # build/aggregator/actiongap
HUMAN = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"

readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
tour = readme.split("## A 60-second tour", 1)[1].split("\n## ", 1)[0]
# (prose before the block, the block's lines)
blocks = [(m.group(1), m.group(2)) for m in re.finditer(r"((?:[^`]|`[^`])*?)```sh\n(.*?)```", tour, re.S)]
check(len(blocks) >= 8, f"the tour has its sh blocks: {len(blocks)}")

CLUSTER = "--cluster" in sys.argv[1:]


def cluster_base():
    """A port p with p..p+2 and their bus ports (+10000) free."""
    import socket
    for _ in range(200):
        p = free_port()
        if p + 10002 >= 65536:
            continue
        socks = []
        try:
            for q in (p, p + 1, p + 2, p + 10000, p + 10001, p + 10002):
                s = socket.socket()
                s.bind(("127.0.0.1", q))
                socks.append(s)
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free cluster ports")


ports = {"6399": cluster_base() if CLUSTER else free_port(), "8080": free_port(), "8081": free_port(),
         "8082": free_port(), "8083": free_port()}
work = tempfile.mkdtemp(prefix="ag-tour-")
os.symlink(BUILD, os.path.join(work, "build"))
env = dict(os.environ, AG_NO_BUILD="1", AG_RUN_ROOT=work, AG_REDIS_PORT=str(ports["6399"]),
           AG_CLUSTER_PORT=str(ports["6399"]),
           AG_LISTEN=f"127.0.0.1:{ports['8080']}", AG_METRICS_LISTEN=f"127.0.0.1:{ports['8081']}",
           AG_DASHBOARD_LISTEN=f"127.0.0.1:{ports['8082']}", AG_DEMO_LISTEN=f"127.0.0.1:{ports['8083']}")
env.pop("AG_REDIS", None)
log = open(os.path.join(work, "run.log"), "wb")
run = subprocess.Popen([os.path.join(ROOT, "deploy", "run.sh"), *(["--cluster"] if CLUSTER else [])], env=env,
                       stdout=log, stderr=log, start_new_session=True)


def stop_run():
    if run.poll() is None:
        os.killpg(run.pid, signal.SIGINT)
        try:
            run.wait(timeout=120)
        except subprocess.TimeoutExpired:
            ps = subprocess.run(["ps", "-eo", "pid,ppid,pgid,stat,wchan:20,cmd"], capture_output=True,
                                text=True).stdout.splitlines()
            print("\n".join(l for l in ps if f" {run.pid} " in l), flush=True)
            raise


_cleanups.append(stop_run)
wait_for(lambda: b"actiongap is running" in open(os.path.join(work, "run.log"), "rb").read(), timeout=30,
         what="run.sh to start")
r = Redis(ports["6399"])
PARTS = 1
if CLUSTER:
    class Routed:
        """Each command to the master of its key's slot (the map read once:
        nothing moves slots during the tour)."""

        def __init__(self, port):
            self.owner = {}
            for lo, hi, master, *_ in Redis(port)("CLUSTER", "SLOTS"):
                self.owner[(lo, hi)] = Redis(int(master[1]))

        def __call__(self, *args):
            sys.path.insert(0, os.path.dirname(__file__))
            from cluster import keyslot
            key = args[2] if args[0].upper() in ("XINFO", "XGROUP") else args[1]
            s = keyslot(key)
            return next(c for (lo, hi), c in self.owner.items() if lo <= s <= hi)(*args)

    r = Routed(ports["6399"])
    PARTS = 16


def ported(cmd):
    """The tour's command with the tour's ports replaced by the test's (and,
    on a cluster, read as the README says)."""
    if CLUSTER:
        cmd = (cmd.replace("redis-cli -p 6399", "redis-cli -c -p 6399").replace("'ag:hits:{0}'", "'ag:hits:{9}'")
               .replace("AG_REDIS=redis://127.0.0.1:6399/0", "AG_REDIS=redis+cluster://127.0.0.1:6399"))
    for old, new in ports.items():
        cmd = re.sub(rf"(127\.0\.0\.1:|-p ){old}\b", lambda m: m.group(1) + str(new), cmd)
        cmd = cmd.replace(f"127.0.0.1:{old}", f"127.0.0.1:{new}")
    return cmd


def commands(block):
    """The commands of a block: continuation lines joined, comments and
    run.sh itself left out (it already runs)."""
    out, cur = [], ""
    for line in block.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line + "\n"
        if line.endswith("\\") or cur.count("{") > cur.count("}"):
            continue
        if "./deploy/run.sh" not in cur:
            out.append(cur.rstrip("\n"))
        cur = ""
    return out


state = os.path.join(work, "state.sh")
open(state, "w").close()
outputs = []


def sh(cmd):
    """Runs one command in bash in the tour's directory, the exports and
    functions of the commands before it kept; returns (rc, output)."""
    script = (f"source {state}\n{ported(cmd)}\nrc=$?\n"
              f"{{ declare -p | grep -v -E '^declare -[a-zA-Z]*r' | grep -v -E '^declare -[-a-zA-Z]* "
              f"(BASH[A-Z_]*|SHLVL|PWD|OLDPWD|_|HIST[A-Z]*|FUNCNAME|GROUPS|DIRSTACK|PIPESTATUS|RANDOM|SRANDOM|"
              f"SECONDS|LINENO|EPOCH[A-Z]*|COLUMNS|LINES|COMP_WORDBREAKS|IFS|OPTIND|OPTERR|PS[0-9]|rc)(=|$)'; "
              f"declare -f; }} > {state}.new\n"
              f"mv {state}.new {state}\nexit $rc\n")
    p = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PATH=os.environ["PATH"]))
    return p.returncode, p.stdout + p.stderr


def sign_up_through(code, email):
    """What a person's browser does on the demo page: follow the short link,
    land with the token, sign up (the beacon /ag.js sends)."""
    st, h, _ = http_get(ports["8080"], f"/s/{code}", {"User-Agent": HUMAN})
    check(st == 302, f"short link {code}: {st}")
    tok = urllib.parse.parse_qs(urllib.parse.urlsplit(h["location"]).query)["ag_attr"][0]
    body = urllib.parse.urlencode({"c": "spring", "e": "signup", "s": email, "at": tok}).encode()
    st, _, _ = http_post(ports["8080"], "/b", body, {"Content-Type": "application/x-www-form-urlencoded",
                                                     "User-Agent": HUMAN})
    check(st == 204, f"signup through {code}: {st}")


ran = 0
for prose, block in blocks:
    if "Open fay's and gus's links" in prose:
        rows = [l.split(",") for l in open(os.path.join(work, "var", "links.csv")).read().splitlines()[1:]]
        codes = {row[0]: row[3] for row in rows}
        sign_up_through(codes["fay"], "fay-friend@example.org")
        sign_up_through(codes["gus"], "gus-friend@example.org")
    for cmd in commands(block):
        try:
            wait_applied(r, partitions=PARTS, timeout=30)
        except AssertionError:
            pass            # Redis stopped on purpose by the tour
        rc, out = sh(cmd)
        ran += 1
        outputs.append((cmd, out))
        check(rc == 0, f"tour command exits 0: {cmd!r}: {rc}: {out[-400:]}")
        if "links spring --to" in cmd and "--advocates" in cmd:   # what the person would read off the screen
            sh(cmd.split("--qr")[0] + " --format csv > var/links.csv")

out = dict(outputs)
first_curl = [o for c, o in outputs if "p.gif?c=spring&e=open&s=contact-1" in c][0]
check(first_curl.strip() == "200", f"the first pixel answers 200: {first_curl!r}")
top = [o for c, o in outputs if c.strip() == "./build/aggregator/actiongap top spring"][-1]
rows = {l.split()[1]: l.split() for l in top.splitlines()[1:] if l.strip()}
check(rows.get("fay", [])[2:3] == ["1"] and rows.get("fay", [])[-1:] == ["1"] and
      rows.get("gus", [])[2:3] == ["1"] and rows.get("gus", [])[-1:] == ["1"],
      f"top: fay and gus with one action and one click each: {top}")
hooks = [o for c, o in outputs if c.startswith("hs hubspot ")]
check(hooks and all('"accepted":1' in o for o in hooks), f"the HubSpot hooks were accepted: {hooks}")
stop_run()
check(run.returncode in (0, 130), f"run.sh stops cleanly on Ctrl-C: {run.returncode}")
check(b"stopped." in open(os.path.join(work, "run.log"), "rb").read(), "run.sh says it stopped")
if CLUSTER:
    stream = [o for c, o in outputs if "XRANGE 'ag:hits:{0}'" in c][0]
    check("contact-1" in stream, f"on the cluster, spring's first hit is in its partition's stream: {stream[:200]!r}")
print(f"tour{' on a cluster' if CLUSTER else ''}: {len(blocks)} blocks, {ran} commands run")
done("test_readme_tour")
