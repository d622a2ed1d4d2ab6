#!/usr/bin/env python3
"""gen_corpus.py: regenerates the seed corpora under tests/fuzz/corpus/ —
pixel queries, JSON and form bodies, signed links (HMAC computed here from
SPEC 6, independently of proto/sign.c), HTTP requests (pipelined, chunked,
malformed) and spool files written by the real spool code (gen_spool.c).
Run from anywhere after a build: tests/fuzz/gen_corpus.py (AG_BUILD names the build
directory, ./build by default)."""
import base64
import hashlib
import hmac
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")
KEY = b"fuzz-signing-key"      # fuzz_http.c and fuzz_redirect.c use this key
TOKEN = "fuzz-api-token"       # fuzz_http.c's api_token
UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def dec(s):
    """Decodes form encoding ('+' is a space) to bytes."""
    b = s.encode("latin-1") if isinstance(s, str) else s
    out, i = bytearray(), 0
    while i < len(b):
        c = b[i]
        if c == 0x25:
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B else c)
        i += 1
    return bytes(out)


def enc(b):
    """Encodes bytes per RFC 3986 with uppercase hex."""
    return "".join(chr(c) if c in UNRESERVED else "%%%02X" % c for c in b)


def sign(q):
    """Returns the SPEC 6 signature of raw query q."""
    pairs = []
    for seg in q.split("&"):
        if not seg:
            continue
        n, _, v = seg.partition("=")
        pairs.append((dec(n), dec(v)))
    canon = "&".join(enc(n) + "=" + enc(v) for n, v in sorted(pairs) if n != b"sig")
    mac = hmac.new(KEY, canon.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def signed(q):
    """Returns q with its signature appended."""
    return q + "&sig=" + sign(q)


def put(target, name, data):
    """Writes one seed file of target."""
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("latin-1"))


TO = "to=https%3A%2F%2Fexample.org%2Fpetition%3Fid%3D7%26src%3Demail"
TO_EVIL = "to=https%3A%2F%2Fevil.test%2Fphish"
QUERIES = {
    "open": "c=spring-appeal&e=open&s=crm-1234&ch=email",
    "view": "c=spring&ref=alice.b&ch=twitter&utm_source=tw&cb=1699999",
    "scroll": "c=gotv_2024&e=scroll&d=75&t=1700000000000&n=Nonce-1",
    "donate": "c=gotv_2024&e=donate&v=2500&g=monthly&ch=web",
    "signup": "c=gotv_2024&e=signup&s=Ann+Lee%20%28volunteer%29",
    "followup": "c=gotv_2024&e=followup&s=crm-9",
    "custom": "c=x.y-z_1&e=shared_on_fb2&ch=facebook",
    "click": "c=spring&e=click&" + TO,
    "click-signed": signed("c=spring&s=crm-1&" + TO_EVIL),
    "utf8": "c=eu&s=Ren%C3%A9e+%E2%82%AC+%F0%9F%98%80",
    "bad-escape": "c=a&s=%zz",
    "bad-nul": "c=a&s=a%00b",
    "bad-overlong": "c=a&s=%C0%AF",
    "bad-surrogate": "c=a&s=%ED%A0%80",
    "bad-truncated-utf8": "c=a&s=%E2%82",
    "bad-campaign": "c=sp%20ring",
    "bad-event": "c=a&e=Open",
    "bad-depth": "c=a&e=view&d=50",
    "depth-range": "c=a&e=scroll&d=101",
    "value-neg": "c=a&e=donate&v=-1",
    "value-huge": "c=a&e=convert&v=99999999999999999999999",
    "dup": "c=a&c=b",
    "no-campaign": "e=open&s=x",
    "empties": "&&c=a&&=&x&=y&",
    "long-subject": "c=a&s=" + "x" * 129,
    "long-to": "c=a&to=https%3A%2F%2Fexample.org%2F" + "a" * 2100,
    "many": "&".join("p%d=%d" % (i, i) for i in range(65)) + "&c=a",
    "sig-short": "c=a&sig=AAAA",
    "plus-space": "c=a&s=a+b+%2B",
    "empty": "",
}


def gen_query():
    """Writes the query seeds."""
    for name, q in QUERIES.items():
        put("fuzz_query", name, q)


def gen_body():
    """Writes the body seeds."""
    bodies = {
        "one.json": '{"c":"spring","e":"view","t":1700000000000}',
        "batch.json": '[{"c":"a","e":"open"},{"c":"a","e":"scroll","d":50},'
                      '{"c":"a","e":"donate","v":1500,"g":"g1"},{"c":"a","e":"signup","s":"u1"}]',
        "followup.json": '[{"c":"gotv","e":"followup","s":"crm-9","ref":"bob"}]',
        "types.json": '{"c":"a","d":"50","v":1.5,"t":-3,"s":123}',
        "unicode.json": '{"c":"a","s":"Ren\\u00e9e \\ud83d\\ude00","n":"\\u0041"}',
        "nul-escape.json": '{"c":"a","s":"a\\u0000b"}',
        "nested.json": '{"c":"a","x":{"y":[1,2,{"z":3}]}}',
        "trailing.json": '{"c":"a"} {"c":"b"}',
        "empty-array.json": "[]",
        "not-object.json": '["c","a"]',
        "scalar.json": "42",
        "big-number.json": '{"c":"a","e":"convert","v":9007199254740993}',
        "exp-number.json": '{"c":"a","e":"scroll","d":5e1}',
        "dup-key.json": '{"c":"a","c":"b"}',
        "ws.json": ' \n\t{"c" : "a" , "e" : "view"}\r\n',
        "batch-101.json": "[" + ",".join('{"c":"c%d"}' % i for i in range(101)) + "]",
        "batch-100.json": "[" + ",".join('{"c":"c%d","e":"open"}' % i for i in range(100)) + "]",
        "click.json": '{"c":"a","e":"click","to":"https://example.org/x","sig":"AAAAAAAAAAAAAAAAAAAAAA"}',
        "form": "c=spring&e=view&s=crm-7&ch=web",
        "form-scroll": "c=spring&e=scroll&d=100&t=1700000000000",
        "form-bad": "c=spring&e=%XX",
        "truncated.json": '[{"c":"a"},{"c":',
    }
    for name, b in bodies.items():
        put("fuzz_body", name, b)


def gen_redirect():
    """Writes the redirect and signature seeds."""
    urls = {
        "plain": "https://example.org/petition?id=7",
        "port": "http://Sub.Example.COM:8080/a#frag",
        "ipv6": "https://[2001:db8::1]:443/x",
        "userinfo": "https://example.org@evil.test/",
        "backslash": "https://evil.test\\@example.org/",
        "no-host": "http:///path",
        "ctl": "https://example.org/\r\nSet-Cookie: a=b",
        "scheme": "javascript:alert(1)",
        "query-at": "https://evil.test?@example.org",
        "trailing-dot": "https://example.org./",
        "allow-list": "https://a.b.example.com/x\nexample.org, .example.com ,\t.co.uk,",
        "allow-dot": "https://example.com/\n.example.com",
        "allow-suffix-trick": "https://notexample.com/\n.example.com,example.org",
        "allow-empty": "https://example.org/\n,,, ,",
        "signed": signed("c=spring&e=click&" + TO_EVIL),
        "signed-reordered": "sig=%s&%s&e=click&c=spring" % (sign("c=spring&e=click&" + TO_EVIL), TO_EVIL),
        "signed-bad": "c=spring&e=click&%s&sig=AAAAAAAAAAAAAAAAAAAAAA" % TO_EVIL,
        "two-sigs": signed("c=a") + "&sig=x",
        "canon-mix": "b=2&a=%7e&a=1&A=+&%41=%20&z",
    }
    for name, u in urls.items():
        put("fuzz_redirect", name, u)


def req(method, target, headers=(), body=b"", version="HTTP/1.1"):
    """Builds one request; a Content-Length is added for a body unless a
    Transfer-Encoding header is given."""
    h = ["%s %s %s" % (method, target, version), "Host: t.example.org"] + list(headers)
    b = body.encode() if isinstance(body, str) else body
    if b and not any(x.lower().startswith("transfer-encoding") for x in headers):
        h.append("Content-Length: %d" % len(b))
    return ("\r\n".join(h) + "\r\n\r\n").encode() + b


def chunked(body, sizes=(7, 3)):
    """Returns body chunk-encoded in pieces of the given sizes."""
    out, i, k = b"", 0, 0
    b = body.encode()
    while i < len(b):
        n = sizes[k % len(sizes)]
        out += b"%x\r\n" % len(b[i:i + n]) + b[i:i + n] + b"\r\n"
        i += n
        k += 1
    return out + b"0\r\n\r\n"


UA = "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
GMAIL = "User-Agent: Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
BOT = "User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
AUTH = "Authorization: Bearer " + TOKEN


def gen_http():
    """Writes the HTTP request seeds."""
    j_batch = '[{"c":"a","e":"open"},{"c":"a","e":"scroll","d":50},{"c":"a","e":"followup","s":"x"}]'
    reqs = {
        "pixel": req("GET", "/p.gif?" + QUERIES["open"], [UA]),
        "pixel-gmail": req("GET", "/p.gif?c=spring&e=open&s=crm-2", [GMAIL]),
        "pixel-bot": req("GET", "/p.gif?c=spring&e=view", [BOT]),
        "pixel-head": req("HEAD", "/p.gif?c=spring"),
        "pixel-bad": req("GET", "/p.gif?c=a&s=%zz&e=followup", [UA]),
        "pixel-gpc": req("GET", "/p.gif?c=a&s=crm-5", [UA, "Sec-GPC: 1", "DNT: 1"]),
        "pixel-xff": req("GET", "/p.gif?c=a", [UA, "X-Forwarded-For: 203.0.113.9, 10.0.0.1"]),
        "pixel-post": req("POST", "/p.gif", body="c=a"),
        "pixel-http10": req("GET", "/p.gif?c=a", ["Connection: keep-alive"], version="HTTP/1.0"),
        "beacon-form": req("POST", "/b", ["Content-Type: application/x-www-form-urlencoded", "Origin: https://www.example.org"], "c=spring&e=view&t=1700000000000"),
        "beacon-json": req("POST", "/b", ["Content-Type: text/plain;charset=UTF-8"], '{"c":"spring","e":"scroll","d":25}'),
        "beacon-batch": req("POST", "/b", ["Content-Type: application/json", "Origin: https://evil.test"], j_batch),
        "beacon-sniff": req("POST", "/b", [], ' [{"c":"a"}]'),
        "beacon-ctype": req("POST", "/b", ["Content-Type: image/png"], "c=a"),
        "beacon-empty": req("POST", "/b", ["Content-Type: application/json", "Content-Length: 0"]),
        "beacon-options": req("OPTIONS", "/b", ["Origin: https://app.example.com", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type"]),
        "beacon-chunked": req("POST", "/b", ["Content-Type: application/json", "Transfer-Encoding: chunked"], chunked('{"c":"a","e":"open","s":"crm-1"}')),
        "beacon-chunked-ext": req("POST", "/b", ["Transfer-Encoding: chunked"], b"5;name=val\r\nc=a&e\r\n6\r\n=view&\r\n0\r\nX-Trailer: 1\r\n\r\n"),
        "beacon-continue": req("POST", "/b", ["Expect: 100-continue", "Content-Type: application/x-www-form-urlencoded"], "c=a"),
        "beacon-get": req("GET", "/b"),
        "click-allowed": req("GET", "/r?c=spring&" + TO, [UA]),
        "click-signed": req("GET", "/r?" + signed("c=spring&s=crm-1&" + TO_EVIL), [UA]),
        "click-unsigned": req("GET", "/r?c=spring&" + TO_EVIL),
        "click-badsig": req("GET", "/r?c=spring&%s&sig=AAAAAAAAAAAAAAAAAAAAAA" % TO_EVIL),
        "click-no-to": req("GET", "/r?c=spring"),
        "click-crlf": req("GET", "/r?c=a&to=https%3A%2F%2Fexample.org%2F%0D%0ASet-Cookie%3A%20x"),
        "click-userinfo": req("GET", "/r?c=a&to=https%3A%2F%2Fexample.org%40evil.test%2F"),
        "api": req("POST", "/api/hits", [AUTH, "Content-Type: application/json"], j_batch),
        "api-form": req("POST", "/api/hits", [AUTH, "Content-Type: application/x-www-form-urlencoded"], "c=a&e=followup&s=x"),
        "api-noauth": req("POST", "/api/hits", ["Content-Type: application/json"], j_batch),
        "api-wrongauth": req("POST", "/api/hits", ["Authorization: Bearer fuzz-api-tokeX"], "{}"),
        "api-get": req("GET", "/api/hits", [AUTH]),
        "agjs": req("GET", "/ag.js"),
        "healthz": req("GET", "/healthz"),
        "metrics": req("GET", "/metrics"),
        "notfound": req("GET", "/nope?x=1"),
        "delete": req("DELETE", "/p.gif"),
        "pipelined": req("GET", "/p.gif?c=a") + req("POST", "/b", [], "c=b") + req("GET", "/r?c=x&" + TO) + req("GET", "/healthz"),
        "pipelined-close": req("GET", "/p.gif?c=a", ["Connection: close"]) + req("GET", "/p.gif?c=b"),
        "pipelined-partial": req("GET", "/p.gif?c=a") + b"GET /p.gif?c=b HTTP/1.1\r\nHo",
        "bare-lf": b"GET /p.gif?c=a HTTP/1.1\nHost: x\n\n",
        "obs-fold": b"GET /p.gif HTTP/1.1\r\nHost: x\r\nUser-Agent: a\r\n b\r\n\r\n",
        "dup-cl": b"POST /b HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nc=a",
        "cl-te": b"POST /b HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "te-gzip": b"POST /b HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "http2": b"GET / HTTP/2.0\r\n\r\n",
        "long-uri": b"GET /p.gif?c=" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n",
        "big-cl": b"POST /b HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n",
        "chunk-huge": b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
        "require-all-signed": b"\x03" + req("GET", "/p.gif?" + signed("c=spring&e=open&s=crm-3")),
        "require-all-json": b"\x03" + req("POST", "/b", ["Content-Type: application/json"], '{"c":"a","e":"open","sig":"%s"}' % sign("c=a&e=open")),
        "require-none-click": b"\x01" + req("GET", "/r?c=a&" + TO_EVIL),
    }
    for name, r in reqs.items():
        put("fuzz_http", name, r)


def gen_spool():
    """Writes spool seeds: real files from gen_spool.c and damaged copies."""
    d = os.path.join(OUT, "fuzz_spool")
    os.makedirs(d, exist_ok=True)
    exe = os.path.join(os.environ.get("AG_BUILD", os.path.join(ROOT, "build")), "tests", "fuzz", "gen_spool")
    if not os.access(exe, os.X_OK):
        sys.exit(f"gen_corpus: {exe} missing: build first (./deploy/build.sh) or set AG_BUILD")
    subprocess.check_call([exe, d])
    good = open(os.path.join(d, "six-records.spool"), "rb").read()
    hlen = int.from_bytes(good[8:12], "little")
    first = 16 + hlen
    put("fuzz_spool", "truncated-frame", good[:first + 5])
    put("fuzz_spool", "truncated-record", good[:len(good) - 7])
    bad = bytearray(good); bad[first + 12] ^= 0x55
    put("fuzz_spool", "bad-crc", bytes(bad))
    bad = bytearray(good); bad[8:12] = (0xFFFFFFFF).to_bytes(4, "little")
    put("fuzz_spool", "giant-header-len", bytes(bad))
    bad = bytearray(good); bad[8:12] = (16385).to_bytes(4, "little")
    put("fuzz_spool", "header-len-over-max", bytes(bad))
    bad = bytearray(good); bad[first:first + 4] = (0x7FFFFFFF).to_bytes(4, "little")
    put("fuzz_spool", "giant-record-len", bytes(bad))
    bad = bytearray(good); bad[first:first + 4] = (8193).to_bytes(4, "little")
    put("fuzz_spool", "record-len-over-max", bytes(bad))
    bad = bytearray(good); bad[first:first + 4] = bytes(4)
    put("fuzz_spool", "zero-record-len", bytes(bad))
    bad = bytearray(good); bad[16] ^= 1
    put("fuzz_spool", "bad-header-crc", bytes(bad))
    put("fuzz_spool", "magic-only", b"AGSPOOL1")
    put("fuzz_spool", "bad-magic", b"AGSPOOL2" + good[8:])
    put("fuzz_spool", "empty", b"")
    put("fuzz_spool", "header-only", good[:first])
    # a record whose CRC is right but whose payload is not a packed hit
    import zlib
    junk = b"\x01\xff\xff\xffjunk"
    put("fuzz_spool", "undecodable-record", good[:first] + len(junk).to_bytes(4, "little") +
        zlib.crc32(junk).to_bytes(4, "little") + junk)


def main():
    """Regenerates every corpus."""
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    gen_query()
    gen_body()
    gen_redirect()
    gen_http()
    gen_spool()
    for t in sorted(os.listdir(OUT)):
        print("%s: %d files" % (t, len(os.listdir(os.path.join(OUT, t)))))


if __name__ == "__main__":
    sys.exit(main())
