"""Webhook HTTPS: agg_webhook_post (through the webhook_post driver) verifies
the certificate chain against SSL_CERT_FILE and the host name (DNS name or IP
address), sends SNI, and delivers the exact JSON body; plain HTTP works too.
Certificates are made here with the openssl CLI. Standard library only."""

import http.server
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading

BIN = os.environ.get("AG_WEBHOOK_POST", "")
BODY = '{"kind":"followup_overdue","text":"Signup s-1 (c) has waited 17 min for follow-up; SLA 15 min","q":"\\"é"}'


def check(cond, what):
    """Fails the test (exit 1) with what unless cond holds."""
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)


def openssl(*args, cwd):
    """Runs the openssl CLI; fails the test if it does not succeed."""
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"openssl {' '.join(args)}: {p.stderr.strip()}")


def make_certs(d):
    """Writes ca.pem, three CA-signed leaves (ip+dns, ip only, dns only) and a self-signed one."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=actiongap test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, san in (("both", "IP:127.0.0.1,DNS:localhost"), ("iponly", "IP:127.0.0.1"),
                      ("dnsonly", "DNS:localhost")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n")
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=actiongap test server", cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext",
                cwd=d)
    openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            cwd=d)


class Receiver:
    """An HTTP(S) server on 127.0.0.1 that records each POST's path and body."""

    def __init__(self, cert=None, key=None):
        self.posts = []
        self.sni = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                outer.posts.append((self.path, self.rfile.read(n).decode("utf-8"),
                                    dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass    # a client refusing our certificate is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        if cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            ctx.sni_callback = lambda sock, name, _ctx: self.sni.append(name)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def post(url, env):
    """Runs the driver; returns (exit code, its output)."""
    p = subprocess.run([BIN, url, BODY], capture_output=True, text=True, timeout=30,
                       env={**os.environ, **env})
    return p.returncode, (p.stdout + p.stderr).strip()


def main():
    check(BIN and os.access(BIN, os.X_OK), f"AG_WEBHOOK_POST is not an executable: {BIN!r}")
    check(shutil.which("openssl") is not None, "the openssl CLI is missing")
    d = tempfile.mkdtemp(prefix="ag-webhook-tls-")
    try:
        make_certs(d)
        empty_dir = os.path.join(d, "nocerts")
        os.mkdir(empty_dir)
        trust = {"SSL_CERT_FILE": os.path.join(d, "ca.pem"), "SSL_CERT_DIR": empty_dir}
        posted = 0

        def cert(name):
            return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")

        both, iponly, dnsonly = Receiver(*cert("both")), Receiver(*cert("iponly")), Receiver(*cert("dnsonly"))
        selfsigned, plain = Receiver(*cert("self")), Receiver()
        servers = [both, iponly, dnsonly, selfsigned, plain]

        # 1. CA-signed, by IP address and by DNS name (with SNI)
        for url in (f"https://127.0.0.1:{both.port}/hooks/T1?token=s3cret",
                    f"https://localhost:{both.port}/hooks/T2"):
            rc, out = post(url, trust)
            check(rc == 0 and out == "status 200", f"{url}: want status 200, got rc={rc} {out!r}")
            posted += 1
        check([p[0] for p in both.posts] == ["/hooks/T1?token=s3cret", "/hooks/T2"],
              f"paths received: {[p[0] for p in both.posts]}")
        check(all(p[1] == BODY for p in both.posts), "the receiver got exactly the JSON body")
        check(all(p[2].get("Content-Type") == "application/json" and
                  p[2].get("User-Agent") == "actiongap-aggregator" for p in both.posts),
              f"headers: {[p[2] for p in both.posts]}")
        check([n for n in both.sni if n] == ["localhost"], f"SNI sent for the DNS name only: {both.sni}")

        # 2. refusals: self-signed, unknown CA, host name and IP mismatch
        cases = [
            (f"https://127.0.0.1:{selfsigned.port}/", trust, "certificate verify failed: self-signed"),
            (f"https://127.0.0.1:{both.port}/", {"SSL_CERT_FILE": os.path.join(d, "self.pem"),
                                                 "SSL_CERT_DIR": empty_dir},
             "certificate verify failed: unable to get local issuer certificate"),
            (f"https://localhost:{iponly.port}/", trust, "certificate verify failed: hostname mismatch"),
            (f"https://127.0.0.1:{dnsonly.port}/", trust, "certificate verify failed: IP address mismatch"),
        ]
        for url, env, want in cases:
            rc, out = post(url, env)
            check(rc == 1 and out.startswith("error: ") and want in out,
                  f"{url}: want a failure with {want!r}, got rc={rc} {out!r}")
            check("\n" not in out, f"the reason is one line: {out!r}")
        refused = sum(len(s.posts) for s in (selfsigned, iponly, dnsonly))
        check(refused == 0, f"no body reached an untrusted server ({refused})")

        # 3. plain HTTP
        rc, out = post(f"http://127.0.0.1:{plain.port}/plain", {})
        check(rc == 0 and out == "status 200", f"plain http: rc={rc} {out!r}")
        posted += 1
        check(plain.posts and plain.posts[0][1] == BODY, "plain http body received exactly")

        received = sum(len(s.posts) for s in servers)
        check(received == posted, f"posted {posted}, received {received}")
        print(f"posted {posted}, received {received}, refused {len(cases)} "
              f"(self-signed, unknown CA, hostname mismatch, IP mismatch)")
        for s in servers:
            s.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
