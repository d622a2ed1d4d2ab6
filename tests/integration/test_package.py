"""The Debian package, built once by deploy/package.sh (dpkg-buildpackage and
lintian, which must pass), unpacked with dpkg -x into a throwaway root: its
layout (binaries, conffile, units, sysusers, tmpfiles, man pages), its
sysusers file applied to that root, and a smoke run of the installed
binaries with the installed configuration against a private redis-server:
--version of all four, the collector's /healthz and a pixel, the aggregator
counting it, `actiongap stats` showing it, the dashboard answering."""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import check, done, http_get, RedisServer, wait_applied  # noqa: E402

SRC = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

for tool in ("dpkg-buildpackage", "dpkg-deb", "lintian", "man", "systemd-sysusers"):
    if not shutil.which(tool):
        print(f"FAIL: {tool} is not installed (run ./deploy/deps.sh)", flush=True)
        sys.exit(1)

work = tempfile.mkdtemp(prefix="ag-package-test-")
harness._cleanups.append(lambda: shutil.rmtree(work, ignore_errors=True))

# ---------------------------------------------------------------- build (once)
t0 = time.monotonic()
p = subprocess.run([os.path.join(SRC, "deploy", "package.sh"), os.path.join(work, "out")],
                   cwd=SRC, capture_output=True, text=True, timeout=900)
took = time.monotonic() - t0
print(f"package.sh: exit {p.returncode} in {took:.0f} s", flush=True)
if p.returncode != 0:
    print(p.stderr[-6000:], flush=True)
    check(False, "deploy/package.sh builds the package and lintian passes")
    done("test_package")
deb = p.stdout.strip().splitlines()[-1]
check(re.search(r"/actiongap_[0-9.]+_[a-z0-9]+\.deb$", deb) is not None, f"package.sh names the .deb: {deb}")
lintian_tags = [ln for ln in p.stderr.splitlines() if re.match(r"^[EWIXPO]: ", ln)]
print(f"lintian: {len(lintian_tags)} tags: {lintian_tags}", flush=True)
check(not any(t.startswith(("E:", "W:")) for t in lintian_tags), "lintian: no error or warning")

# ---------------------------------------------------------------- layout
root = os.path.join(work, "root")
subprocess.run(["dpkg", "-x", deb, root], check=True)
want = ["usr/bin/actiongap", "usr/sbin/actiongap-collector", "usr/sbin/actiongap-aggregator",
        "usr/sbin/actiongap-dashboard", "etc/actiongap/actiongap.conf",
        "lib/systemd/system/actiongap-collector.service",
        "lib/systemd/system/actiongap-aggregator.service",
        "lib/systemd/system/actiongap-dashboard.service",
        "usr/lib/sysusers.d/actiongap.conf", "usr/lib/tmpfiles.d/actiongap.conf",
        "usr/share/man/man1/actiongap.1.gz", "usr/share/man/man5/actiongap.conf.5.gz",
        "usr/share/man/man8/actiongap-collector.8.gz", "usr/share/man/man8/actiongap-aggregator.8.gz",
        "usr/share/man/man8/actiongap-dashboard.8.gz", "usr/share/doc/actiongap/copyright"]
for path in want:
    check(os.path.isfile(os.path.join(root, path)), f"the package holds /{path}")
for exe in want[:4]:
    check(os.access(os.path.join(root, exe), os.X_OK), f"/{exe} is executable")
conffiles = subprocess.run(["dpkg-deb", "-I", deb, "conffiles"], capture_output=True, text=True).stdout
check(conffiles.split() == ["/etc/actiongap/actiongap.conf"], f"the one conffile: {conffiles!r}")
with open(os.path.join(root, "usr/lib/sysusers.d/actiongap.conf")) as f:
    check('u actiongap - "actiongap" /var/lib/actiongap' in f.read(), "sysusers.d makes the actiongap user")
postinst = subprocess.run(["dpkg-deb", "-I", deb, "postinst"], capture_output=True, text=True).stdout
check("systemd-sysusers" in postinst and "systemd-tmpfiles" in postinst,
      "postinst makes the user and the state directory")
check("chmod 0640 /etc/actiongap/actiongap.conf" in postinst, "postinst closes the configuration")
# the sysusers file applied to the throwaway root creates the user there
sysroot = os.path.join(work, "sysroot")
os.makedirs(os.path.join(sysroot, "etc"))
su = subprocess.run(["systemd-sysusers", f"--root={sysroot}",
                     os.path.join(root, "usr/lib/sysusers.d/actiongap.conf")], capture_output=True, text=True)
passwd = open(os.path.join(sysroot, "etc/passwd")).read() if su.returncode == 0 else su.stderr
check(re.search(r"^actiongap:x:\d+:\d+:actiongap:/var/lib/actiongap:", passwd, re.M) is not None,
      f"systemd-sysusers makes actiongap with home /var/lib/actiongap: {passwd!r}")
for page in ("man1/actiongap.1.gz", "man5/actiongap.conf.5.gz", "man8/actiongap-collector.8.gz"):
    path = os.path.join(root, "usr/share/man", page)
    r = subprocess.run(["man", "-l", path], capture_output=True, text=True, env={**os.environ, "MANWIDTH": "80"})
    check(r.returncode == 0 and "actiongap" in r.stdout and not r.stderr.strip(),
          f"man -l {page} renders ({len(r.stdout.splitlines())} lines, {r.stderr.strip()!r})")
with gzip.open(os.path.join(root, "usr/share/man/man5/actiongap.conf.5.gz"), "rt") as f:
    check("spool_fsync" in f.read(), "actiongap.conf(5) lists the keys")

# ---------------------------------------------------------------- smoke run
bins = {"actiongap": "usr/bin", "actiongap-collector": "usr/sbin", "actiongap-aggregator": "usr/sbin",
        "actiongap-dashboard": "usr/sbin"}
version = re.search(r"version : '([^']+)'", open(os.path.join(SRC, "meson.build")).read()).group(1)
for name, d in bins.items():
    r = subprocess.run([os.path.join(root, d, name), "--version"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and r.stdout.startswith(f"{name} {version}"),
          f"{name} --version: {r.returncode} {r.stdout.strip()!r}")

conf = os.path.join(root, "etc/actiongap/actiongap.conf")
harness.COLLECTOR = os.path.join(root, "usr/sbin/actiongap-collector")
harness.AGGREGATOR = os.path.join(root, "usr/sbin/actiongap-aggregator")
harness.DASHBOARD = os.path.join(root, "usr/sbin/actiongap-dashboard")
cli = os.path.join(root, "usr/bin/actiongap")

rs = RedisServer()
r = rs.client()
# the installed configuration, its addresses moved to the private ones by flags
coll = harness.Collector(rs, extra=["--config", conf])
status, _, body = http_get(coll.port, "/healthz")
check(status == 200 and json.loads(body).get("redis") == "up", f"collector /healthz: {status} {body[:80]!r}")
status, _, body = http_get(coll.port, "/p.gif?c=pkgtest&e=open&s=contact-1", headers={"User-Agent": BROWSER})
check(status == 200 and body[:6] == b"GIF89a", f"collector takes a pixel: {status}")
agg = harness.Aggregator(rs, extra=["--config", conf])
wait_applied(r)
check(http_get(agg.port, "/healthz")[0] == 200, "aggregator /healthz answers")
env = {k: v for k, v in os.environ.items() if not k.startswith("AG_")}
out = subprocess.run([cli, "--config", conf, "--redis", rs.url(), "stats", "pkgtest", "--json"],
                     capture_output=True, text=True, timeout=30, env=env)
stats = json.loads(out.stdout) if out.returncode == 0 else {}
check(out.returncode == 0, f"actiongap stats: exit {out.returncode} {out.stderr.strip()!r}")
check(json.dumps(stats).find('"reach": 1') >= 0, f"actiongap stats counts the pixel: {out.stdout[:200]!r}")
out = subprocess.run([cli, "--config", conf, "--redis", rs.url(), "stats", "pkgtest"],
                     capture_output=True, text=True, timeout=30, env=env)
check(re.search(r"^reach\s+1 ", out.stdout, re.M) is not None, f"actiongap stats table: {out.stdout[:120]!r}")
dash = harness.Dashboard(rs, extra=["--config", conf])
status, _, _ = http_get(dash.port, "/healthz")
check(status == 200, f"dashboard /healthz: {status}")
check(coll.stop() == 0, "collector stops cleanly")
agg.stop()
dash.stop()
done("test_package")
