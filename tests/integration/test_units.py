"""The systemd units of deploy/systemd/ offline: `systemd-analyze verify`
clean on copies whose ExecStart names this build's binaries (verify checks
that the command exists and is executable); `systemd-analyze security
--offline=true` exposure at most 2.0 for every daemon, and equal to the
figure each unit quotes in its comment; the directives the hardening and
the readiness protocol rest on are present. A missing systemd-analyze is a
failure (./deploy/deps.sh installs it)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

UNITS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "systemd")
DAEMONS = {"collector": COLLECTOR, "aggregator": AGGREGATOR, "dashboard": DASHBOARD}
MAX_EXPOSURE = 2.0
REQUIRED = ["Type=notify", "User=actiongap", "RuntimeDirectory=actiongap",
            "ConfigurationDirectory=actiongap", "ProtectSystem=strict", "ProtectHome=yes",
            "PrivateTmp=yes", "PrivateDevices=yes", "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
            "ProtectClock=yes", "ProtectHostname=yes", "ProtectProc=invisible", "ProcSubset=pid",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces=yes",
            "RestrictRealtime=yes", "RestrictSUIDSGID=yes", "LockPersonality=yes",
            "MemoryDenyWriteExecute=yes", "NoNewPrivileges=yes", "SystemCallFilter=@system-service",
            "SystemCallArchitectures=native", "CapabilityBoundingSet=", "UMask=0077",
            "Restart=on-failure"]

analyze = shutil.which("systemd-analyze")
if not analyze:
    print("FAIL: systemd-analyze is not installed (run AG_DEPS_EXTRA=systemd ./deploy/deps.sh)", flush=True)
    sys.exit(1)
for name, exe in DAEMONS.items():
    if not exe or not os.access(exe, os.X_OK):
        print(f"FAIL: AG_{name.upper()} does not name the {name} binary", flush=True)
        sys.exit(1)


def unit_path(name):
    return os.path.join(UNITS, f"actiongap-{name}.service")


def run(*args):
    p = subprocess.run([analyze, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


# ---- the directives, read as systemd reads them: one key=value a line
for name in DAEMONS:
    with open(unit_path(name)) as f:
        text = f.read()
    lines = {l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")}
    for d in REQUIRED:
        check(d in lines, f"{name}: {d} missing")
    check(f"ExecStart=/usr/sbin/actiongap-{name} --config /etc/actiongap/actiongap.conf"
          in "\n".join(lines), f"{name}: ExecStart is not the installed /usr/sbin/actiongap-{name} --config …")
    m = re.search(r"^LimitNOFILE=(\d+)$", text, re.M)
    check(m is not None, f"{name}: LimitNOFILE missing")
    if name == "collector":
        # max_connections (10000 by default) + 64 (collector/main.c raise_nofile)
        check(m is not None and int(m.group(1)) >= 10000 + 64,
              f"collector: LimitNOFILE below max_connections + 64: {m and m.group(1)}")
        check("StateDirectory=actiongap" in lines, "collector: StateDirectory=actiongap missing")
        check("--spool-dir /var/lib/actiongap/spool" in text, "collector: the spool is not in the state directory")

# ---- verify: copies naming this build's binaries, so the command check means something
tmp = tempfile.mkdtemp(prefix="ag-units-")
try:
    copies = []
    for name, exe in DAEMONS.items():
        with open(unit_path(name)) as f:
            text = f.read()
        text = text.replace(f"ExecStart=/usr/sbin/actiongap-{name} ", f"ExecStart={os.path.abspath(exe)} ")
        path = os.path.join(tmp, f"actiongap-{name}.service")
        with open(path, "w") as f:
            f.write(text)
        copies.append(path)
    rc, out = run("verify", "--man=no", *copies)
    check(rc == 0 and out.strip() == "", f"systemd-analyze verify: rc={rc}: {out.strip()}")
    print(f"verify: rc={rc}, {len(out.strip())} bytes of complaints", flush=True)
    # and verify notices a unit whose command is missing (the copies above are not vacuous)
    if not os.path.exists("/usr/sbin/actiongap-collector"):
        rc, out = run("verify", "--man=no", unit_path("collector"))
        check(rc != 0 and "not executable" in out, f"verify of a missing command: rc={rc}: {out.strip()}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

# ---- security: the exposure, and the figure quoted in each unit
for name in DAEMONS:
    rc, out = run("security", "--offline=true", unit_path(name))
    m = re.search(r"Overall exposure level for (\S+): ([0-9.]+) (\S+)", out)
    check(m is not None, f"{name}: no exposure line in: {out[-400:]}")
    if not m:
        continue
    level = float(m.group(2))
    summary = f"{m.group(1)}: {m.group(2)} {m.group(3)}"
    print(f"security: {summary}", flush=True)
    check(level <= MAX_EXPOSURE, f"{name}: exposure {level} above {MAX_EXPOSURE}")
    with open(unit_path(name)) as f:
        quoted = re.search(r"^# systemd-analyze security .*Overall exposure level for (\S+: [0-9.]+ \S+)",
                           f.read(), re.M)
    check(quoted is not None and quoted.group(1) == summary,
          f"{name}: the unit quotes {quoted and quoted.group(1)!r}, the report says {summary!r}")

done("test_units")
