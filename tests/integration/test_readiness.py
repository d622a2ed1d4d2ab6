"""Type=notify readiness without systemd as PID 1: each daemon is started
with NOTIFY_SOCKET naming an AF_UNIX datagram socket bound here, as systemd
would; READY=1 must arrive once its port answers (a connection made the
moment READY=1 is read succeeds, and its /healthz answers), never before,
and STOPPING=1 must arrive on SIGTERM before the process exits. A daemon
whose NOTIFY_SOCKET names nothing still serves (the notice is best effort),
and one without NOTIFY_SOCKET sends nothing."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

rs = RedisServer()
tmp = tempfile.mkdtemp(prefix="ag-notify-")
atexit.register(shutil.rmtree, tmp, ignore_errors=True)


def notify_socket(name):
    """Binds an AF_UNIX datagram socket as systemd's notify socket; returns (sock, path)."""
    path = os.path.join(tmp, name + ".sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    return s, path


def port_answers(port):
    """Returns True if a TCP connection to port is accepted right now."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def receive(s, timeout):
    """Returns the next notice's state lines, or None after timeout s."""
    s.settimeout(timeout)
    try:
        return s.recv(4096).decode().split("\n")
    except socket.timeout:
        return None


def wait_state(s, state, proc, timeout=20):
    """Reads notices until one carries `state`; returns its lines, or None on
    timeout or once the process has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = receive(s, 0.2)
        if lines is not None and state in lines:
            return lines
        if proc.poll() is not None:
            return None
    return None


def daemon_args(name, port):
    common = ["--redis", rs.url()]
    if name == "collector":
        return [COLLECTOR, "--listen", f"127.0.0.1:{port}", "--spool-dir", os.path.join(tmp, "spool"),
                "--signing-key", SIGNING_KEY, "--threads", "2", *common]
    if name == "aggregator":
        return [AGGREGATOR, "--metrics-listen", f"127.0.0.1:{port}", *common]
    return [DASHBOARD, "--dashboard-listen", f"127.0.0.1:{port}", "--dashboard-token", DASHBOARD_TOKEN,
            *common]


def start(name, port, notify_path):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    if notify_path:
        env["NOTIFY_SOCKET"] = notify_path
    log = open(os.path.join(tmp, name + ".log"), "ab")
    p = subprocess.Popen(daemon_args(name, port), stdout=log, stderr=log, env=env)
    atexit.register(lambda p=p: p.poll() is None and p.kill())
    return p


for name in ("collector", "aggregator", "dashboard"):
    s, path = notify_socket(name)
    port = free_port()
    check(not port_answers(port), f"{name}: port {port} answers before the daemon starts")
    p = start(name, port, path)
    ready = wait_state(s, "READY=1", p)
    # the moment READY=1 is read the port must take a connection: nothing to wait for
    answered = port_answers(port)
    check(ready is not None, f"{name}: no READY=1 (exit status {p.poll()})")
    check(answered, f"{name}: READY=1 sent before its port {port} answers")
    if ready is not None:
        print(f"{name}: READY=1 ({' '.join(l for l in ready if l)}), port answers: {answered}", flush=True)
        st = http_get(port, "/healthz" if name != "dashboard" else "/")[0]
        check(st in (200, 401, 302, 303), f"{name}: first request after READY=1 answered {st}")
    # nothing else before the stop: READY=1 is sent once
    extra = receive(s, 0.3)
    check(extra is None, f"{name}: unexpected notice before SIGTERM: {extra}")
    p.send_signal(signal.SIGTERM)
    stopping = wait_state(s, "STOPPING=1", p, timeout=10)
    if stopping is None:       # sent just before exit: it may already be queued
        stopping = receive(s, 0.5)
        stopping = stopping if stopping and "STOPPING=1" in stopping else None
    check(stopping is not None, f"{name}: no STOPPING=1 on SIGTERM")
    rc = p.wait(timeout=30)
    check(rc == 0, f"{name}: exit status {rc} after SIGTERM")
    s.close()

# NOTIFY_SOCKET naming no socket: the daemon logs and serves on
port = free_port()
p = start("collector", port, os.path.join(tmp, "nobody-listens.sock"))
try:
    wait_for(lambda: http_get(port, "/healthz")[0] == 200, what="collector without a notify listener")
    check(p.poll() is None, "collector died when NOTIFY_SOCKET names nothing")
finally:
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=30) == 0, "collector: exit status after SIGTERM (NOTIFY_SOCKET names nothing)")
with open(os.path.join(tmp, "collector.log")) as f:
    check("cannot notify the service manager" in f.read(), "collector: a failed notice is not logged")

done("test_readiness")
