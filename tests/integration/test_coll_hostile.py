"""A hostile-input catalogue against the running collector (issue 5): raw
bytes over real sockets, each case with its exact expected status. After
every case: the collector is still up (same pid, /healthz 200), the hit
stream grew only by what the case allows (a marker hit sent after it, in
order on the single collector thread, shows that everything before it has
reached Redis), ag:rejects grew by the expected count with the expected
reason. At the end: no Redis key outside the documented schema and no
followup in the stream."""
import base64, hashlib, hmac, json, sys, os, socket
from urllib.parse import quote
sys.path.insert(0, os.path.dirname(__file__))
from harness import *  # noqa: F401,F403

HITS, REJ = "ag:hits:{0}", "ag:rejects"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
TOK = API_TOKEN
GIF_LEN = 43


def enc(s):
    return quote(s, safe="-._~")


def sign(params, key=SIGNING_KEY):
    """SPEC 6 signature of (name, value) pairs, independently of the C code."""
    canon = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params))
    mac = hmac.new(key.encode(), canon.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def qs(params):
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in params)


# ---------------------------------------------------------------- request builders

def B(x):
    return x.encode("latin-1") if isinstance(x, str) else x


def req(method, target, headers=(), body=b"", ver="HTTP/1.1", host=True):
    h = (b"Host: collector.test\r\n" if host else b"") + b"User-Agent: " + UA.encode() + b"\r\n"
    for k, v in headers:
        h += B(k) + b": " + B(v) + b"\r\n"
    return B(method) + b" " + B(target) + b" " + B(ver) + b"\r\n" + h + b"\r\n" + B(body)


def get(target, headers=(), ver="HTTP/1.1"):
    return req("GET", target, headers, ver=ver)


def px(q, headers=()):
    return get("/p.gif?" + q if isinstance(q, str) else b"/p.gif?" + q, headers)


def post(path, body, ctype="application/json", headers=()):
    body = B(body)
    h = ([("Content-Type", ctype)] if ctype is not None else []) + \
        [("Content-Length", str(len(body)))] + list(headers)
    return req("POST", path, h, body)


def api(body, auth="Bearer " + TOK, ctype="application/json", headers=()):
    h = ([("Authorization", auth)] if auth is not None else []) + list(headers)
    return post("/api/hits", body, ctype, h)


def chunked(path, chunks, ctype="application/json", trailer=b""):
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailer + b"\r\n"
    return req("POST", path, [("Content-Type", ctype), ("Transfer-Encoding", "chunked")], body)


def raw_chunked(path, rawbody, ctype="application/json"):
    return req("POST", path, [("Content-Type", ctype), ("Transfer-Encoding", "chunked")], rawbody)


# ---------------------------------------------------------------- the cases

CASES = []


def case(name, raw, status, hits=0, rejects=0, reason=None, close=None, allow=None,
         noloc=False, location=None, gif=None, nresp=None, timeout=10.0):
    """status: int, or a list for pipelined requests (answered in order).
    hits: entries the case may add to ag:hits:{0}; rejects: entries it adds
    to ag:rejects (reason: their reason, or a tuple of acceptable ones).
    close: True if the connection must be closed after the answers, False
    if it must stay open. allow: the exact Allow header of a 405. noloc: no
    Location header. location: the exact Location of a 302."""
    sts = status if isinstance(status, list) else [status]
    CASES.append(dict(name=name, raw=B(raw), status=sts, hits=hits, rejects=rejects,
                      reason=reason, close=close, allow=allow, noloc=noloc,
                      location=location, gif=gif, nresp=nresp or len(sts), timeout=timeout))


def perr(name, raw, status, **kw):
    """A request the HTTP layer refuses: nothing recorded, connection closed."""
    case(name, raw, status, close=True, **kw)


def pxrej(name, q, reason, headers=()):
    """A pixel hit that must be rejected: GIF 200, one reject, no hit."""
    case(name, px(q, headers), 200, rejects=1, reason=reason, gif=True)


def rbad(name, params_or_q, reason):
    """A tracked link that must not redirect: 400, no Location, one reject."""
    q = params_or_q if isinstance(params_or_q, str) else qs(params_or_q)
    case(name, get("/r?" + q), 400, rejects=1, reason=reason, noloc=True)


# ---- 1. request line: lengths, syntax, versions
LONG = "a" * 9000
perr("request target over the line limit (9000)", get("/p.gif?c=" + LONG), 414)
perr("request target over the line limit (64 KiB)", get("/p.gif?c=ok&x=" + "b" * 65536), 414)
perr("unknown path over the line limit", get("/" + "x" * 8300), 414)
perr("over-long method", b"A" * 9000 + b" / HTTP/1.1\r\n\r\n", 414)
case("target just under the limit (8000) with a hostile campaign",
     px("c=" + "a" * 8000), 200, rejects=1, reason="bad_campaign", gif=True)
perr("HTTP/2.0", get("/healthz", ver="HTTP/2.0"), 505)
perr("HTTP/1.2", get("/healthz", ver="HTTP/1.2"), 505)
perr("HTTP/0.9 version", get("/healthz", ver="HTTP/0.9"), 505)
perr("HTTP/3.0", get("/p.gif?c=ok", ver="HTTP/3.0"), 505)
perr("HTTP/9.9", get("/healthz", ver="HTTP/9.9"), 505)
perr("HTTP/0.9-style line (no version)", b"GET /healthz\r\n\r\n", 400)
perr("HTTP/0.9-style pixel", b"GET /p.gif?c=ok\r\n", 400)
perr("HTTP/2 connection preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400)
perr("HTTP/1.10", get("/healthz", ver="HTTP/1.10"), 400)
perr("HTTP/1 (no minor)", get("/healthz", ver="HTTP/1"), 400)
perr("lower-case http/1.1", get("/healthz", ver="http/1.1"), 400)
perr("HTTPS/1.1", get("/healthz", ver="HTTPS/1.1"), 400)
perr("space inside the version", get("/healthz", ver="HTTP/ 1.1"), 400)
perr("trailing space after the version", b"GET /healthz HTTP/1.1 \r\nHost: x\r\n\r\n", 400)
perr("double space after the method", b"GET  /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("tab as separator", b"GET\t/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("leading space before the method", b" GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("leading bare LF", b"\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
case("leading empty lines are skipped (RFC 9112 2.2)",
     b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200)
perr("missing target", b"GET HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("absolute-form target", get("http://collector.test/p.gif?c=ok"), 400)
perr("absolute-form target to another host", get("http://evil.example/healthz"), 400)
perr("OPTIONS *", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("CONNECT authority-form", b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 400)
perr("invalid character in the method", b"G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("NUL in the method", b"GE\x00T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("NUL in the target", b"GET /p.gif?c=o\x00k HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw CR in a query value", b"GET /p.gif?c=o\rk HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw LF in a query value", b"GET /p.gif?c=o\nk HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw CRLF + header in a query value",
     b"GET /p.gif?c=ok&s=a\r\nX-Injected: 1\r\n HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw tab in a query value", b"GET /p.gif?c=o\tk HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw space in a query value", b"GET /p.gif?c=o k HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw DEL in the target", b"GET /p.gif?c=o\x7fk HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw UTF-8 in the target", "GET /p.gif?c=spr\u0456ng HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400)
perr("raw 0xff in the target", b"GET /p.gif?c=\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400)
perr("raw overlong UTF-8 in the target", b"GET /p.gif?c=\xc0\xaf HTTP/1.1\r\nHost: x\r\n\r\n", 400)

# ---- 2. header fields: smuggling, syntax, sizes
perr("bare LF ends the request line", b"GET /p.gif?c=ok HTTP/1.1\nHost: x\n\n", 400)
perr("bare LF after a header", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\nX-A: y\r\n\r\n", 400)
perr("bare LF as the empty line", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\n\n", 400)
perr("bare CR inside a header value", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\ry\r\n\r\n", 400)
perr("bare CR as the empty line", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\n\rX\r\n\r\n", 400)
perr("obs-fold (space)", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400)
perr("obs-fold (tab)", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", 400)
perr("obs-fold continuing Transfer-Encoding",
     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n ,chunked\r\n\r\n0\r\n\r\n", 400)
perr("whitespace before the first header", b"GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", 400)
perr("space before colon", b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400)
perr("tab before colon", b"GET /healthz HTTP/1.1\r\nHost\t: x\r\n\r\n", 400)
perr("space before colon in Transfer-Encoding",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400)
perr("space before colon in Content-Length",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nc=ok", 400)
perr("header line without a colon", b"GET /healthz HTTP/1.1\r\nHost: x\r\nJunk\r\n\r\n", 400)
perr("empty header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", 400)
perr("invalid character in a header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX(A): v\r\n\r\n", 400)
perr("NUL in a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", 400)
perr("NUL in a header name", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-\x00A: v\r\n\r\n", 400)
perr("NUL in the User-Agent of a pixel", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x00b\r\n\r\n", 400)
perr("DEL in a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", 400)
perr("ESC in a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x1b[2Jb\r\n\r\n", 400)
perr("vertical tab in a header value", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x0bb\r\n\r\n", 400)
perr("duplicate Host", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)
case("obs-text (0x80-0xff) in User-Agent is a valid field value",
     b"GET /p.gif?c=ok&n=obs1 HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\xfe\xc0\xaf\r\n\r\n",
     200, hits=1, gif=True)
perr("Content-Length and Transfer-Encoding",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)
perr("Transfer-Encoding and Content-Length",
     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n"
     b"0\r\n\r\nGET /nope HTTP/1.1\r\n\r\n", 400)
perr("CL.TE smuggling of a followup into /api/hits",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
     b"POST /api/hits HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\n\r\n"
     b'{"c":"spring","e":"followup","s":"smug1"}', 400)
perr("duplicate Content-Length (same value)",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nc=ok", 400)
perr("duplicate Content-Length (different values)",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nc=ok", 400)
perr("Content-Length list", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\nc=ok", 400)
perr("negative Content-Length", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nc=ok", 400)
perr("Content-Length with a plus", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nc=ok", 400)
perr("hex Content-Length", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0x4\r\n\r\nc=ok", 400)
perr("fractional Content-Length", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4.0\r\n\r\nc=ok", 400)
perr("empty Content-Length", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\nc=ok", 400)
perr("Content-Length with inner space", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 1 0\r\n\r\nc=ok", 400)
perr("Content-Length overflowing int64",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\nc=ok", 400)
perr("Content-Length INT64_MAX", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n", 413)
perr("Transfer-Encoding: gzip", b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501)
perr("Transfer-Encoding: identity", b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n", 501)
perr("Transfer-Encoding: chunked, gzip",
     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 501)
perr("Transfer-Encoding: gzip, chunked",
     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501)
perr("Transfer-Encoding: xchunked", b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501)
perr("two Transfer-Encoding lines",
     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", 501)
perr("empty Transfer-Encoding", b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\nContent-Length: 4\r\n\r\nc=ok", 400)
perr("Transfer-Encoding with a vertical tab",
     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400)
perr("TE: gzip on a GET", b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501)


def pad_head(total, target="/healthz"):
    """A GET whose head (request line + headers + CRLF) is exactly total bytes."""
    base = b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n"
    return base.replace(b"X-Pad: ", b"X-Pad: " + b"p" * (total - len(base)))


case("head of exactly 8192 bytes", pad_head(8192), 200)
perr("head of 8193 bytes", pad_head(8193), 431)
perr("one 9000-byte header", get("/healthz", [("X-Big", "v" * 9000)]), 431)
perr("one 64 KiB header", get("/healthz", [("X-Big", "v" * 65536)]), 431)
perr("200 headers of 60 bytes", get("/healthz", [(f"X-H{i}", "v" * 50) for i in range(200)]), 431)
case("100 small headers within the limit", get("/healthz", [(f"X-H{i}", "v" * 40) for i in range(100)]), 200)
perr("line under the limit, headers over it", get("/p.gif?c=" + "a" * 8100, [("X-A", "b" * 200)]), 431)
perr("header name over the limit", get("/healthz", [("X" * 9000, "v")]), 431)

# ---- 3. bodies: sizes, chunked framing, timeouts
perr("Content-Length 65537", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 65537\r\n\r\n", 413)
perr("Content-Length 1 GiB on the API",
     b"POST /api/hits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOK.encode() +
     b"\r\nContent-Length: 1073741824\r\n\r\n", 413)
perr("Content-Length 65537 with Expect: 100-continue",
     b"POST /b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 65537\r\n\r\n", 413)
perr("Content-Length 70000 with the body sent", post("/b", b"c=" + b"a" * 69998, "application/x-www-form-urlencoded"), 413)
perr("Content-Length 70000 on a pixel GET",
     b"GET /p.gif?c=ok HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n", 413)
BIGJSON = b'{"c":"ok","e":"view","n":"edge1"}'
case("body of exactly 64 KiB (Content-Length)", post("/b", BIGJSON + b" " * (65536 - len(BIGJSON))), 204, hits=1)
case("body of exactly 64 KiB (chunked)",
     chunked("/b", [b'{"c":"ok","e":"view","n":"edge2"}' + b" " * (32768 - 33), b" " * 32768]), 204, hits=1)
perr("chunked body of 64 KiB + 1", chunked("/b", [b" " * 32768, b" " * 32769]), 413)
perr("chunked body of 200 KiB in small chunks", chunked("/b", [b" " * 1000] * 200), 413)
perr("one chunk of 0x10001", raw_chunked("/b", b"10001\r\n" + b" " * 100), 413)
perr("chunk size overflowing 64 bits", raw_chunked("/b", b"FFFFFFFFFFFFFFFFFFFFFFFF\r\n"), 413)
perr("chunk size not hex", raw_chunked("/b", b"zz\r\nabc\r\n0\r\n\r\n"), 400)
perr("negative chunk size", raw_chunked("/b", b"-5\r\nabcde\r\n0\r\n\r\n"), 400)
perr("0x-prefixed chunk size", raw_chunked("/b", b"0x5\r\nabcde\r\n0\r\n\r\n"), 400)
perr("empty chunk-size line", raw_chunked("/b", b"\r\n5\r\nabcde\r\n0\r\n\r\n"), 400)
perr("bare LF after the chunk size", raw_chunked("/b", b"5\nabcde\r\n0\r\n\r\n"), 400)
perr("chunk data longer than its size", raw_chunked("/b", b"5\r\nabcdefgh\r\n0\r\n\r\n"), 400)
perr("bare LF after chunk data", raw_chunked("/b", b"5\r\nabcde\n0\r\n\r\n"), 400)
perr("control character in a chunk extension", raw_chunked("/b", b"5;a=\x01\r\nabcde\r\n0\r\n\r\n"), 400)
perr("chunk-size line over 4 KiB", raw_chunked("/b", b"5;" + b"e" * 5000 + b"\r\nabcde\r\n0\r\n\r\n"), 400)
perr("obs-fold in a trailer", raw_chunked("/b", b"2\r\n{}\r\n0\r\nX-T: 1\r\n folded\r\n\r\n"), 400)
perr("bare LF in a trailer", raw_chunked("/b", b"2\r\n{}\r\n0\r\nX-T: 1\n\r\n"), 400)
perr("trailers over 4 KiB", raw_chunked("/b", b"2\r\n{}\r\n0\r\n" + b"X-T: " + b"t" * 5000 + b"\r\n\r\n"), 400)
case("chunked JSON with an extension and a trailer",
     raw_chunked("/b", b'5;ext=1\r\n{"c":\r\n1a\r\n"ok","e":"view","n":"ch1"}\r\n0\r\nX-T: 1\r\n\r\n'),
     204, hits=1)
perr("header deadline: head never finished", b"GET /healthz HTTP/1.1\r\nHost: x\r\n", 408, timeout=15)
perr("body deadline: body shorter than Content-Length",
     b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"c\":", 408,
     timeout=15)
perr("body deadline: chunked body never finished", raw_chunked("/b", b"5\r\nabc"), 408, timeout=15)

# ---- 4. percent-encoding and UTF-8 in parameters (pixel: GIF 200, one reject)
for q, why in [("c=%", "lone %"), ("c=ok%4", "truncated escape"), ("c=%zz", "non-hex escape"),
               ("c=%G1", "non-hex first digit"), ("c=%%41", "double %"), ("c=%-1", "sign in escape"),
               ("c=ok&x=%zz", "bad escape in an unknown value"), ("c=ok&%zz=1", "bad escape in a name"),
               ("c=ok&averyveryverylongunknownname%z=1", "bad escape in a long name"),
               ("c=%00", "%00 campaign"), ("c=ok%00", "%00 after a campaign"),
               ("c=ok&s=a%00b", "%00 in subject"), ("c=ok&x=%00", "%00 in an unknown value"),
               ("c=ok&%00=1", "%00 name"), ("c=%C0%80", "overlong NUL"),
               ("c=ok&s=%C0%AF", "overlong '/' (2 bytes)"), ("c=ok&s=%C1%BF", "overlong C1"),
               ("c=ok&s=%E0%80%AF", "overlong '/' (3 bytes)"), ("c=ok&s=%F0%80%80%AF", "overlong '/' (4 bytes)"),
               ("c=ok&s=%ED%A0%80", "high surrogate"), ("c=ok&s=%ED%BF%BF", "low surrogate"),
               ("c=ok&s=%ED%A0%BD%ED%B8%80", "CESU-8 surrogate pair"),
               ("c=ok&s=%F4%90%80%80", "above U+10FFFF"), ("c=ok&s=%F5%80%80%80", "lead byte F5"),
               ("c=ok&s=%F8%88%80%80%80", "5-byte sequence"), ("c=ok&s=%E2%82", "truncated sequence"),
               ("c=ok&s=%C3", "truncated at the end"), ("c=ok&s=%E2%82x", "truncated before ASCII"),
               ("c=ok&s=%80", "stray continuation"), ("c=ok&s=%BF%BF", "stray continuations"),
               ("c=ok&s=%FE", "byte FE"), ("c=ok&s=%FF", "byte FF"),
               ("c=ok&utm_source=%C0%AF", "overlong in an unknown parameter"),
               ("c=ok&e=open%00", "%00 in event")]:
    pxrej(f"bad encoding: {why} ({q})", q, "bad_encoding")
for q, why, reason in [
        ("c=ok&s=%C2%85", "C1 control (NEL) in subject", "bad_subject"),
        ("c=ok&s=a%0D%0Ab", "CRLF in subject", "bad_subject"),
        ("c=ok&s=a%0D%0ASet-Cookie:%20x", "header injection in subject", "bad_subject"),
        ("c=ok&s=a%09b", "tab in subject", "bad_subject"),
        ("c=ok&s=%7F", "DEL in subject", "bad_subject"),
        ("c=ok&s=%1B%5B2J", "ANSI escape in subject", "bad_subject"),
        ("c=ok&s=" + "s" * 129, "subject of 129 bytes", "bad_subject"),
        ("c=ok&n=a%0Ab", "LF in nonce", "bad_nonce"),
        ("c=ok&n=" + "n" * 65, "nonce of 65 bytes", "bad_nonce"),
        ("c=ok&ref=a%0Ab", "LF in ref", "bad_ref"),
        ("c=ok&ref=ann%20x", "space in ref", "bad_ref"),
        ("c=ok&ref=%7Bann%7D", "braces in ref", "bad_ref"),
        ("c=ok&ch=Email", "upper case channel", "bad_channel"),
        ("c=ok&ch=%E2%80%AEweb", "RTL override in channel", "bad_channel"),
        ("c=ok&g=a:b", "colon in goal", "bad_goal"),
        ("c=ok&e=Open", "upper-case event", "bad_event"),
        ("c=ok&e=%20open", "space before event", "bad_event"),
        ("c=ok&e=" + "e" * 33, "event of 33 bytes", "bad_event"),
        ("c=ok&e=1abc", "event starting with a digit", "bad_event"),
        ("c=ok&e=%D0%BEpen", "Cyrillic o in event", "bad_event"),
        ("c=ok&e=scroll&d=101", "depth 101", "bad_depth"),
        ("c=ok&e=scroll&d=-1", "depth -1", "bad_depth"),
        ("c=ok&e=scroll&d=1e2", "depth 1e2", "bad_depth"),
        ("c=ok&e=scroll&d=%2B5", "depth +5", "bad_depth"),
        ("c=ok&e=scroll", "scroll without depth", "bad_depth"),
        ("c=ok&e=view&d=50", "depth on a view", "bad_depth"),
        ("c=ok&e=donate&v=-1", "value -1", "bad_value"),
        ("c=ok&e=donate&v=1.5", "value 1.5", "bad_value"),
        ("c=ok&e=donate&v=99999999999999999999", "value over int64", "bad_value"),
        ("c=ok&e=view&v=1", "value on a view", "bad_value"),
        ("c=ok&t=-1", "client ts -1", "bad_client_ts"),
        ("c=ok&t=12345678901234567", "client ts of 17 digits", "bad_client_ts"),
        ("c=ok&c=ok", "campaign twice", "duplicate_param"),
        ("c=ok&e=view&e=open", "event twice", "duplicate_param"),
        ("c=ok&%63=evil", "campaign twice, once encoded", "duplicate_param"),
        ("e=view", "no campaign", "missing_campaign"),
        ("c=&e=view", "empty campaign", "missing_campaign"),
        ("", "empty query", "missing_campaign"),
        ("&&&", "only separators", "missing_campaign"),
        ("c%5B%5D=ok", "c[] is not c", "missing_campaign"),
        ("c=ok&e=signup", "signup without subject", "missing_subject"),
        ("c=ok&" + "&".join(f"x{i}=1" for i in range(64)), "65 parameters", "too_many_params"),
        ("c=ok&sig=AAAAAAAAAAAAAAAAAAAAAA&" + "&".join(f"x{i}=1" for i in range(70)), "71 parameters", "too_many_params")]:
    pxrej(f"{why} ({q[:40]})", q, reason)
case("subject of 128 bytes is fine", px("c=ok&n=s128&s=" + "s" * 128), 200, hits=1, gif=True)
case("64 parameters are fine", px("c=ok&n=p64&" + "&".join(f"x{i}=1" for i in range(62))), 200, hits=1, gif=True)
case("valid UTF-8 subject (lower-case hex)", px("c=ok&n=u8&s=Ren%c3%a9e%20%F0%9F%98%80"), 200, hits=1, gif=True)
case("HEAD of a hostile pixel records nothing", req("HEAD", "/p.gif?c=%7B%7D"), 200)

# ---- 5. hostile campaign ids: GIF 200, bad_campaign, never a key
HOSTILE_C = [("{", "%7B"), ("}", "%7D"), ("{0}", "%7B0%7D"), (":", "%3A"), ("*", "%2A"),
             ("ag:hits:{0}", "ag%3Ahits%3A%7B0%7D"), ("a b (%20)", "a%20b"), ("a b (+)", "a+b"),
             ("leading space", "%20ok"), ("trailing space", "ok%20"), ("65 chars", "c" * 65),
             ("Cyrillic a", "spring%D0%B0"), ("all-Cyrillic look-alike", "%D1%95%D1%80r%D1%96ng"),
             ("fullwidth letters", "%EF%BD%93%EF%BD%90%EF%BD%92%EF%BD%89%EF%BD%8E%EF%BD%87"),
             ("RTL override", "spring%E2%80%AEgnirps"), ("zero-width space", "spr%E2%80%8Bing"),
             ("BOM", "%EF%BB%BFspring"), ("../ traversal", "..%2F..%2Fetc"), ("slash", "a%2Fb"),
             ("raw slash", "a/b"), ("raw backslash", "a\\b"), ("raw quote", 'a"b'), ("raw <script>", "<script>"),
             ("newline", "a%0Ab"), ("CRLF", "a%0D%0Ab"), ("glob ?", "a%3Fb"), ("brackets", "a%5B0%5D"),
             ("comma", "a,b"), ("unicode digit", "camp%D9%A1"), ("emoji", "%F0%9F%98%80"),
             ("percent", "a%25b"), ("hash", "a%23b"), ("NBSP", "a%C2%A0b")]
for what, v in HOSTILE_C:
    pxrej(f"hostile campaign: {what}", "c=" + v + "&e=open", "bad_campaign")
case("hostile campaign through a form beacon", post("/b", "c=%7Bx%7D&e=view", "application/x-www-form-urlencoded"),
     204, rejects=1, reason="bad_campaign")
case("hostile campaign through a JSON beacon (\\u escape)", post("/b", '{"c":"\\u007bx\\u007d"}'), 204,
     rejects=1, reason="bad_campaign")
case("hostile campaign through JSON: Cyrillic a", post("/b", '{"c":"spring\u0430"}'.encode()), 204,
     rejects=1, reason="bad_campaign")
case("hostile campaign through JSON: RTL override", post("/b", '{"c":"a\\u202eb"}'), 204,
     rejects=1, reason="bad_campaign")
case("hostile campaign through JSON: raw invalid UTF-8", post("/b", b'{"c":"\xc0\xaf"}'), 204,
     rejects=1, reason="bad_campaign")
case("hostile campaign through the API", api('{"c":"ag:c:{x}","e":"view"}'), 400,
     rejects=1, reason="bad_campaign")
case("hostile campaign through the API (form)", api("c=%2A", ctype="application/x-www-form-urlencoded"), 400,
     rejects=1, reason="bad_campaign")
case("100 hostile campaigns in one beacon", post("/b", json.dumps([{"c": "x{%d}" % i} for i in range(100)])),
     204, rejects=100, reason="bad_campaign")

# ---- 6. open-redirect tricks on /r (unsigned unless stated)
ALLOWED = "https://allowed.example/page"
for to, why, reason in [
        ("//evil.example/x", "scheme-relative", "bad_to"),
        ("/\\evil.example", "slash-backslash", "bad_to"),
        ("\\\\evil.example", "double backslash", "bad_to"),
        ("https:/evil.example", "one slash", "bad_to"),
        ("https:evil.example", "no slash", "bad_to"),
        ("https:\\\\evil.example", "backslashes after the scheme", "bad_to"),
        ("https://allowed.example\\@evil.example/", "backslash then userinfo", "bad_to"),
        ("https://allowed.example\\.evil.example/", "backslash in the host", "bad_to"),
        ("https://allowed.example@evil.example/", "userinfo: allowed@evil", "bad_to"),
        ("https://evil.example@allowed.example/", "userinfo: evil@allowed", "bad_to"),
        ("https://allowed.example:443@evil.example/", "userinfo with a port", "bad_to"),
        ("https://u:p@allowed.example/", "user and password", "bad_to"),
        ("https://allowed.example:99999/", "port over 65535", "bad_to"),
        ("https://allowed.example:80:80/", "two ports", "bad_to"),
        ("https://allowed.example:x/", "non-numeric port", "bad_to"),
        ("https:///allowed.example/", "empty host", "bad_to"),
        ("https://", "scheme only", "bad_to"),
        ("https://\u0430llowed.example/", "IDN host, Cyrillic a (raw)", "bad_to"),
        ("https://allowed\u3002example/", "ideographic full stop", "bad_to"),
        ("https://\uff41llowed.example/", "fullwidth a", "bad_to"),
        ("https://allowed.example/\u202e", "RTL override in the path", "bad_to"),
        ("javascript:alert(1)", "javascript:", "bad_to"),
        ("JavaScript:alert(document.domain)", "JavaScript: mixed case", "bad_to"),
        (" javascript:alert(1)", "leading space javascript:", "bad_to"),
        ("java\tscript:alert(1)", "tab inside javascript:", "bad_to"),
        ("javascript://allowed.example/%0aalert(1)", "javascript: with an allowed host", "bad_to"),
        ("data:text/html,<script>alert(1)</script>", "data:", "bad_to"),
        ("vbscript:msgbox(1)", "vbscript:", "bad_to"),
        ("ftp://allowed.example/", "ftp scheme", "bad_to"),
        ("file:///etc/passwd", "file scheme", "bad_to"),
        ("https://allowed.example/\r\nSet-Cookie: x=1", "CRLF in to", "bad_to"),
        ("https://allowed.example/\nLocation: https://evil.example/", "LF in to", "bad_to"),
        ("https://allowed.example/\tx", "tab in to", "bad_to"),
        ("https://allowed.example/ x", "space in to", "bad_to"),
        (" https://allowed.example/", "leading space", "bad_to"),
        ("https://allowed.example/" + "p" * 2100, "to over 2048 bytes", "bad_to"),
        ("https://evil.example/", "host not allow-listed", "missing_signature"),
        ("https://allowed.example.evil.example/", "allowed name as a prefix", "missing_signature"),
        ("https://evilallowed.example/", "allowed name as a suffix", "missing_signature"),
        ("https://allowed.example./", "trailing dot", "missing_signature"),
        ("https://xn--llowed-2ve.example/", "punycode look-alike", "missing_signature"),
        ("https://xn--80ak6aa92e.com/", "punycode host", "missing_signature"),
        ("http://127.0.0.1/", "loopback address", "missing_signature"),
        ("http://[::1]/", "IPv6 loopback", "missing_signature"),
        ("http://0x7f000001/", "hex IP", "missing_signature"),
        ("http://169.254.169.254/latest/meta-data/", "metadata address", "missing_signature")]:
    rbad(f"open redirect: {why}", [("c", "spring"), ("to", to)], reason)
rbad("open redirect: CRLF as %0d%0a in the raw query", "c=spring&to=https://allowed.example/%0d%0aSet-Cookie:%20x=1",
     "bad_to")
rbad("open redirect: to with a raw backslash in the query", "c=spring&to=https://allowed.example\\@evil.example/",
     "bad_to")
rbad("open redirect: to with %00", "c=spring&to=https://allowed.example%00.evil.example/", "bad_encoding")
rbad("open redirect: to with overlong UTF-8", "c=spring&to=https://allowed.example%C0%AF@evil.example/",
     "bad_encoding")
rbad("missing to", [("c", "spring")], "missing_to")
rbad("empty to", [("c", "spring"), ("to", "")], "missing_to")
rbad("duplicate to, evil first", [("c", "spring"), ("to", "https://evil.example/"), ("to", ALLOWED)],
     "missing_signature")
case("uppercase scheme on an allowed host is fine", get("/r?" + qs([("c", "spring"), ("n", "up1"),
                                                                     ("to", "HTTPS://allowed.example/x")])),
     302, hits=1, location="HTTPS://allowed.example/x")
case("uppercase host on an allowed host is fine", get("/r?" + qs([("c", "spring"), ("n", "up2"),
                                                                   ("to", "http://ALLOWED.EXAMPLE:8080/y?z=1")])),
     302, hits=1, location="http://ALLOWED.EXAMPLE:8080/y?z=1")
case("double-encoded CRLF stays literal in Location",
     get("/r?c=spring&n=dbl1&to=https://allowed.example/a%250d%250ab"), 302, hits=1,
     location="https://allowed.example/a%0d%0ab")
case("fragment with @ stays on the allowed host",
     get("/r?" + qs([("c", "spring"), ("n", "frag1"), ("to", "https://allowed.example/#@evil.example")])),
     302, hits=1, location="https://allowed.example/#@evil.example")
case("hostile campaign after a valid allow-listed to: redirect, hit rejected",
     get("/r?" + qs([("to", ALLOWED), ("c", "{evil}")])), 302, rejects=1, reason="bad_campaign", location=ALLOWED)
case("HEAD /r is refused", req("HEAD", "/r?" + qs([("c", "spring"), ("to", ALLOWED)])), 405, allow="GET")

# ---- 7. link signatures (target not allow-listed: only the signature opens it)
P = [("c", "spring"), ("s", "contact-9"), ("to", "https://partner.example/page?a=1&b=2")]
SIG = sign(P)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def flip(s, i):
    c = s[i]
    return s[:i] + (B64[(B64.index(c) + 1) % 64]) + s[i + 1:]


def spare_bits(s):
    """Changes only the last character's 2 unused bits: same 16 bytes, another string."""
    c = s[-1]
    v = B64.index(c)
    return s[:-1] + B64[v ^ 1]


case("valid signature", get("/r?" + qs(P + [("sig", SIG)])), 302, hits=1, location=P[2][1])
case("valid signature, parameters reordered", get("/r?" + qs([("sig", SIG), P[2], P[1], P[0]])), 302,
     hits=1, location=P[2][1])
case("valid signature, campaign re-encoded", get("/r?c=%73pring&s=contact%2D9&to=" + enc(P[2][1]) + "&sig=" + SIG),
     302, hits=1, location=P[2][1])
for name, s in [("first character flipped", flip(SIG, 0)), ("middle character flipped", flip(SIG, 11)),
                ("last character flipped", flip(SIG, 21)), ("case of one letter changed",
                next(SIG[:i] + SIG[i].swapcase() + SIG[i + 1:] for i in range(22) if SIG[i].isalpha())),
                ("non-canonical last character (unused bits)", spare_bits(SIG)),
                ("signature of another key", sign(P, "other-key")),
                ("all zero", "A" * 22)]:
    rbad(f"signature tampering: {name}", P + [("sig", s)], "bad_signature")
for name, s in [("truncated to 21", SIG[:21]), ("23 characters", SIG + "A"), ("padded with ==", SIG + "=="),
                ("standard base64 alphabet", SIG.replace("-", "+").replace("_", "/") if ("-" in SIG or "_" in SIG)
                 else SIG[:21] + "+"), ("empty-ish: one character", "A")]:
    rbad(f"signature tampering: {name}", P + [("sig", s)], "bad_signature")
rbad("signature tampering: truncated sig on an allow-listed host",
     [("c", "spring"), ("to", ALLOWED), ("sig", sign([("c", "spring"), ("to", ALLOWED)])[:21])], "bad_signature")
rbad("signature tampering: 23-character sig on an allow-listed host",
     [("c", "spring"), ("to", ALLOWED), ("sig", sign([("c", "spring"), ("to", ALLOWED)]) + "A")], "bad_signature")
rbad("signature replay: another campaign", [("c", "other"), P[1], P[2], ("sig", SIG)], "bad_signature")
rbad("signature replay: another subject", [P[0], ("s", "contact-10"), P[2], ("sig", SIG)], "bad_signature")
rbad("signature replay: another to", [P[0], P[1], ("to", "https://evil.example/page?a=1&b=2"), ("sig", SIG)],
     "bad_signature")
rbad("signature replay: another to on an allow-listed host", [P[0], P[1], ("to", ALLOWED), ("sig", SIG)],
     "bad_signature")
rbad("signature replay: a parameter added", P + [("ref", "ann"), ("sig", SIG)], "bad_signature")
rbad("signature replay: an unknown parameter added", P + [("utm_source", "x"), ("sig", SIG)], "bad_signature")
rbad("signature replay: a parameter removed", [P[0], P[2], ("sig", SIG)], "bad_signature")
rbad("signature replay: event changed to followup", P + [("e", "followup"), ("sig", SIG)], "bad_signature")
rbad("empty sig is an unsigned link", P + [("sig", "")], "missing_signature")
rbad("SIG (upper case) is not sig", P + [("SIG", SIG)], "missing_signature")

# ---- 8. followup forgery and the API token
FU = '{"c":"spring","e":"followup","s":"forged"}'
pxrej("followup through the pixel", "c=spring&e=followup&s=forged", "followup_forbidden")
pxrej("followup through the pixel, encoded", "c=spring&e=follow%75p&s=forged", "followup_forbidden")
pxrej("followup through the pixel without subject", "c=spring&e=followup", "followup_forbidden")
pxrej("followup through the pixel with the API token", "c=spring&e=followup&s=forged",
      "followup_forbidden", headers=[("Authorization", "Bearer " + TOK)])
case("followup through a JSON beacon", post("/b", FU), 204, rejects=1, reason="followup_forbidden")
case("followup through a JSON beacon (\\u escape)", post("/b", '{"c":"spring","e":"follow\\u0075p","s":"f"}'), 204,
     rejects=1, reason="followup_forbidden")
case("followup through a form beacon", post("/b", "c=spring&e=followup&s=forged", "application/x-www-form-urlencoded"),
     204, rejects=1, reason="followup_forbidden")
case("followup through a beacon with the API token", post("/b", FU, headers=[("Authorization", "Bearer " + TOK)]),
     204, rejects=1, reason="followup_forbidden")
case("followup hidden in a beacon batch", post("/b", json.dumps([{"c": "ok", "n": "batchfu"},
                                                                 json.loads(FU)])),
     204, hits=1, rejects=1, reason="followup_forbidden")
case("followup on a tracked link: redirect, hit rejected",
     get("/r?" + qs([("c", "spring"), ("e", "followup"), ("s", "forged"), ("to", ALLOWED)])), 302,
     rejects=1, reason="followup_forbidden", location=ALLOWED)
for name, auth in [("no Authorization", None), ("wrong token", "Bearer wrong-token"),
                   ("Bearer with trailing spaces only", "Bearer     "), ("Bearer alone", "Bearer"),
                   ("empty Authorization", ""), ("token with a suffix", "Bearer " + TOK + "x"),
                   ("token prefix", "Bearer " + TOK[:-1]), ("token in upper case", "Bearer " + TOK.upper()),
                   ("two spaces after Bearer", "Bearer  " + TOK), ("tab after Bearer", "Bearer\t" + TOK),
                   ("token without scheme", TOK), ("Token scheme", "Token " + TOK),
                   ("Basic auth with the token as password",
                    "Basic " + base64.b64encode(b"api:" + TOK.encode()).decode()),
                   ("Basic auth with the token as user", "Basic " + base64.b64encode(TOK.encode() + b":").decode()),
                   ("percent-encoded token", "Bearer " + TOK.replace("-", "%2D")),
                   ("Bearer with a comma list", "Bearer wrong, Bearer " + TOK)]:
    h = [("Authorization", auth)] if auth is not None else []
    raw = post("/api/hits", FU, headers=h)
    case(f"API followup: {name}", raw, 401)
case("API followup: token in the query", post("/api/hits?access_token=" + TOK, FU), 401)
case("API followup: token in X-Api-Token", post("/api/hits", FU, headers=[("X-Api-Token", TOK)]), 401)
case("API followup: token in a cookie", post("/api/hits", FU, headers=[("Cookie", "token=" + TOK)]), 401)
perr("API followup: NUL after the token", post("/api/hits", FU, headers=[("Authorization", "Bearer " + TOK + "\x00")]),
     400)
case("API: lower-case scheme is the same token", api('{"c":"ok","n":"api1"}', auth="bearer " + TOK), 202, hits=1)
case("API: trailing whitespace after the token is not part of the value (RFC 9110 5.5)",
     api('{"c":"ok","n":"api2"}', auth="Bearer " + TOK + "   "), 202, hits=1)
case("API: GET is not allowed", get("/api/hits"), 405, allow="POST")

# ---- 9. beacon and API bodies: JSON shape, types, content types
for body, why, reason in [
        ('{"c":{"x":{"y":1}}}', "nesting 3 (objects)", "bad_json"),
        ('[[{"c":"ok"}]]', "nesting 3 (arrays)", "bad_json"),
        ('[{"c":"ok","x":[{}]}]', "nesting 3 (mixed)", "bad_json"),
        ("[" * 1000 + "]" * 1000, "nesting 1000", "bad_json"),
        ("[" * 60000, "60000 open brackets", "bad_json"),
        ('{"a":' * 10000 + "1" + "}" * 10000, "10000 nested objects", "bad_json"),
        (json.dumps([{"c": "ok"}] * 101), "101 objects", "batch_too_large"),
        (json.dumps([{}] * 5000), "5000 empty objects", "batch_too_large"),
        ("123", "a number", "bad_json"), ('"c=ok"', "a string", "bad_json"), ("null", "null", "bad_json"),
        ("true", "true", "bad_json"), ("[1,2]", "array of numbers", "bad_json"),
        ('["c","ok"]', "array of strings", "bad_json"), ("[null]", "array with null", "bad_json"),
        ("[[]]", "array of arrays", "bad_json"), ('[{"c":"ok"},1]', "object then number", "bad_json"),
        ('{"c":"ok"', "truncated", "bad_json"), ('{"c":"ok"}}', "trailing brace", "bad_json"),
        ('{"c":"ok"}{"c":"ok"}', "two objects", "bad_json"), ('{"c":"ok"} x', "trailing garbage", "bad_json"),
        ("{'c':'ok'}", "single quotes", "bad_json"), ('{c:"ok"}', "bare key", "bad_json"),
        ('{"c":"ok",}', "trailing comma", "bad_json"), ('{"c":"ok","d":NaN}', "NaN", "bad_json"),
        ('/*x*/{"c":"ok"}', "comment", "bad_json"), ('{"c":"ok\\u0000x"}', "\\u0000 in a string", "bad_json"),
        ('{"c":"ok","s":"\\ud800"}', "lone high surrogate escape", "bad_json"),
        ('{"c":"ok","s":"\\udc00x"}', "lone low surrogate escape", "bad_json"),
        ('{"c":"ok","s":"\\x41"}', "invalid escape", "bad_json"), ("   \n  ", "only whitespace", "bad_json")]:
    case(f"beacon JSON: {why}", post("/b", body), 400, rejects=1, reason=reason)
case("beacon JSON: NUL byte", post("/b", b'{"c":"ok\x00"}'), 400, rejects=1, reason="bad_json")
for body, why, reason in [
        ('{"c":["ok"]}', "campaign is an array", "bad_json"), ('{"c":{}}', "campaign is an object", "bad_json"),
        ('{"c":123}', "campaign is a number", "bad_json"), ('{"c":true}', "campaign is a boolean", "bad_json"),
        ('{"c":null}', "campaign is null", "bad_json"), ('{"c":"ok","e":1}', "event is a number", "bad_json"),
        ('{"c":"ok","s":123}', "subject is a number", "bad_json"), ('{"c":"ok","n":[]}', "nonce is an array", "bad_json"),
        ('{"c":"ok","e":"scroll","d":true}', "depth is a boolean", "bad_json"),
        ('{"c":"ok","e":"scroll","d":50.5}', "fractional depth", "bad_depth"),
        ('{"c":"ok","e":"scroll","d":-1}', "negative depth", "bad_depth"),
        ('{"c":"ok","e":"donate","v":-5}', "negative value", "bad_value"),
        ('{"c":"ok","e":"donate","v":1e400}', "infinite value", "bad_value"),
        ('{"c":"ok","e":"donate","v":1e300}', "huge value", "bad_value"),
        ('{"c":"ok","t":1.5}', "fractional client ts", "bad_client_ts"),
        ('{"c":"ok","c":"ok"}', "duplicate key", "duplicate_param"),
        ('{"c":"ok","s":"' + "x" * 60000 + '"}', "60 KB subject", "bad_subject"),
        ('{"c":"ok","s":"a\\r\\nb"}', "CRLF in subject", "bad_subject"),
        ('{"e":"view"}', "no campaign", "missing_campaign"), ("{}", "empty object", "missing_campaign")]:
    case(f"beacon JSON hit: {why}", post("/b", body), 204, rejects=1, reason=reason)
case("beacon JSON hit: raw overlong UTF-8 in subject", post("/b", b'{"c":"ok","s":"\xc0\xaf"}'), 204,
     rejects=1, reason=("bad_encoding", "bad_subject"))
case("beacon JSON: depth as a string is fine", post("/b", '{"c":"ok","e":"scroll","d":"50","n":"ds1"}'), 204, hits=1)
case("beacon JSON: empty array", post("/b", "[]"), 204)
case("beacon: upper-case content type", post("/b", '{"c":"ok","n":"ct1"}', "APPLICATION/JSON"), 204, hits=1)
case("beacon: form with bad encoding", post("/b", "c=%zz", "application/x-www-form-urlencoded"), 204,
     rejects=1, reason="bad_encoding")
case("beacon: no content type, sniffed JSON", post("/b", '{"c":"ok","n":"sn1"}', None), 204, hits=1)
case("beacon: no content type, sniffed deep JSON", post("/b", '[[[]]]', None), 400, rejects=1, reason="bad_json")
for ct in ["multipart/form-data; boundary=x", "application/xml", "text/html", "application/jsonx",
           "application/json-patch+json", "text/plainx", "image/gif", "", "application/x-www-form-urlencodedx",
           "application/octet-stream"]:
    case(f"beacon content type {ct!r} is refused", post("/b", '{"c":"ok"}', ct), 415)
case("API content type text/xml is refused", api('{"c":"ok"}', ctype="text/xml"), 415)
for name, raw in [("Content-Length 0", post("/b", b"")),
                  ("no Content-Length", b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"),
                  ("form, Content-Length 0", post("/b", b"", "application/x-www-form-urlencoded")),
                  ("no content type, Content-Length 0", post("/b", b"", None)),
                  ("chunked, no chunk", raw_chunked("/b", b"0\r\n\r\n"))]:
    case(f"empty beacon body: {name}", raw, 400)
case("empty API body", api(""), 400)
case("API deep JSON", api('{"c":{"a":{"b":1}}}'), 400, rejects=1, reason="bad_json")
case("API 101 objects", api(json.dumps([{"c": "ok"}] * 101)), 400, rejects=1, reason="batch_too_large")
case("API wrong types only", api('[{"c":1},{"c":"ok","e":true}]'), 400, rejects=2, reason="bad_json")

# ---- 10. paths and methods
for path in ["/", "/nope", "/p.gif/", "/P.GIF", "/p.gif%3Fc=ok", "//p.gif?c=ok", "/./p.gif?c=ok",
             "/p.gif;x?c=ok", "/%2e%2e/etc/passwd", "/../../etc/passwd", "/healthz/..", "/api/hits/",
             "/api//hits", "/API/HITS", "/api/%68its", "/p.gif%00", "/r/", "/b/", "/metrics.txt", "/ag.js.map",
             "/p.gif/../api/hits", "/index.html"]:
    case(f"unknown path {path}", get(path), 404)
case("unknown path with POST", post("/nope", '{"c":"ok"}'), 404)
case("TRACE on an unknown path", req("TRACE", "/"), 404)
for method, path, allow in [("POST", "/p.gif", "GET, HEAD"), ("PUT", "/p.gif", "GET, HEAD"),
                            ("DELETE", "/p.gif", "GET, HEAD"), ("TRACE", "/p.gif", "GET, HEAD"),
                            ("OPTIONS", "/p.gif", "GET, HEAD"), ("get", "/healthz", "GET, HEAD"),
                            ("BREW", "/healthz", "GET, HEAD"), ("POST", "/healthz", "GET, HEAD"),
                            ("POST", "/metrics", "GET, HEAD"), ("DELETE", "/ag.js", "GET, HEAD"),
                            ("GET", "/b", "POST, OPTIONS"), ("PUT", "/b", "POST, OPTIONS"),
                            ("PATCH", "/b", "POST, OPTIONS"), ("POST", "/r", "GET"), ("DELETE", "/r", "GET"),
                            ("PUT", "/api/hits", "POST"), ("DELETE", "/api/hits", "POST"),
                            ("OPTIONS", "/api/hits", "POST")]:
    case(f"{method} {path} is 405", req(method, path), 405, allow=allow)
case("POST /p.gif with a followup body is 405",
     post("/p.gif?c=spring&e=followup&s=x", "c=spring&e=followup&s=x", "application/x-www-form-urlencoded"),
     405, allow="GET, HEAD")

# ---- 11. HTTP/1.0, keep-alive and pipelining
case("HTTP/1.0 without keep-alive closes", get("/healthz", ver="HTTP/1.0"), 200, close=True)
case("HTTP/1.0 without Host", b"GET /healthz HTTP/1.0\r\n\r\n", 200, close=True)
case("HTTP/1.0 hostile pixel", get("/p.gif?c=%7B", ver="HTTP/1.0"), 200, rejects=1, reason="bad_campaign",
     gif=True, close=True)
case("HTTP/1.0 keep-alive: two requests on one connection",
     get("/healthz", [("Connection", "keep-alive")], ver="HTTP/1.0") +
     get("/p.gif?c=%3A", [("Connection", "keep-alive")], ver="HTTP/1.0"), [200, 200],
     rejects=1, reason="bad_campaign", close=False)
case("HTTP/1.0 keep-alive then close",
     get("/healthz", [("Connection", "keep-alive")], ver="HTTP/1.0") + get("/healthz", ver="HTTP/1.0") +
     get("/healthz", ver="HTTP/1.0"), [200, 200], close=True)
case("HTTP/1.1 Connection: close", get("/healthz", [("Connection", "close")]), 200, close=True)
case("HTTP/1.1 Connection: keep-alive, close", get("/healthz", [("Connection", "keep-alive, close")]), 200, close=True)
case("pipelined: three requests answered in order",
     get("/healthz") + px("c=%7Bpipe%7D") + get("/nope"), [200, 200, 404], rejects=1, reason="bad_campaign",
     close=False)
case("pipelined: POST then GET", post("/b", '{"c":"{"}') + get("/healthz") + req("POST", "/r"),
     [204, 200, 405], rejects=1, reason="bad_campaign")
case("pipelined: a bad request ends the connection",
     get("/healthz") + b"BAD REQUEST\r\n\r\n" + px("c=ok&n=never1"), [200, 400], close=True)
case("pipelined: smuggled request after CL+TE is never run",
     get("/healthz") + b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n" + px("c=ok&n=never2"), [200, 400], close=True)
case("pipelined: Connection: close stops the pipeline",
     get("/healthz", [("Connection", "close")]) + px("c=ok&n=never3"), [200], close=True)
case("pipelined: a request inside a body is only a body",
     b"GET /p.gif?c=%2A HTTP/1.1\r\nHost: x\r\nContent-Length: 22\r\n\r\nGET /nope HTTP/1.1\r\n\r\n" + get("/healthz"),
     [200, 200], rejects=1, reason="bad_campaign")
case("pipelined: 20 hostile pixels", b"".join(px(f"c=%7B{i}%7D") for i in range(20)), [200] * 20,
     rejects=20, reason="bad_campaign", close=False)
case("pipelined: chunked beacon then GET",
     raw_chunked("/b", b'9\r\n{"c":"{"}\r\n0\r\n\r\n') + get("/healthz"), [204, 200], rejects=1, reason="bad_campaign")
case("Expect: 100-continue then a hostile beacon",
     req("POST", "/b", [("Content-Type", "application/json"), ("Content-Length", "9"), ("Expect", "100-continue")],
         '{"c":"}"}'), 204, rejects=1, reason="bad_campaign")


# ---------------------------------------------------------------- running them

def read_answers(s, n, head_methods, timeout):
    """Reads up to n responses (skipping 1xx). Returns (responses, rest, eof)."""
    s.settimeout(timeout)
    buf, out, eof = b"", [], False

    def more():
        nonlocal buf, eof
        try:
            d = s.recv(65536)
        except socket.timeout:
            raise
        except OSError:
            d = b""
        if not d:
            eof = True
            return False
        buf += d
        return True

    try:
        while len(out) < n:
            while b"\r\n\r\n" not in buf:
                if not more():
                    return out, buf, eof
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            hdrs = {}
            for l in lines[1:]:
                k, v = l.split(":", 1)
                hdrs.setdefault(k.strip().lower(), []).append(v.strip())
            if 100 <= status < 200:
                buf = rest
                continue
            is_head = head_methods[len(out)] if len(out) < len(head_methods) else False
            clen = 0 if (is_head or status in (204, 304)) else int(hdrs.get("content-length", ["0"])[0])
            while len(rest) < clen:
                buf = head + b"\r\n\r\n" + rest
                if not more():
                    return out, buf, eof
                head, rest = buf.split(b"\r\n\r\n", 1)
            out.append((status, {k: v[-1] for k, v in hdrs.items()}, hdrs, rest[:clen]))
            buf = rest[clen:]
    except socket.timeout:
        pass
    return out, buf, eof


def wait_eof(s, buf, timeout):
    """Reads until EOF; returns (eof, extra bytes)."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return True, buf
            buf += d
    except socket.timeout:
        return False, buf
    except OSError:
        return True, buf


def head_methods(raw):
    """For each pipelined request in raw, whether it is a HEAD (good enough for this table)."""
    return [raw.startswith(b"HEAD ")] + [False] * 64


rs = RedisServer()
r = rs.client()
col = Collector(rs, extra=["--header-timeout-s", "2", "--carry-attribution", "no"])  # exact Locations below
pid = col.proc.pid


def xlen(k):
    return r("XLEN", k)


def last_reasons(n):
    if n <= 0:
        return []
    ents = r("XREVRANGE", REJ, "+", "-", "COUNT", n) or []
    out = []
    for _, f in ents:
        d = {f[i].decode(): f[i + 1] for i in range(0, len(f), 2)}
        out.append(d.get("reason", b"").decode())
    return out


def marker(i):
    """Sends a valid hit with nonce mk<i> and waits for it in the stream:
    everything the case produced is in Redis by then (one thread, in order)."""
    st, _, body = http_get(col.port, f"/p.gif?c=marker&e=view&n=mk{i}", {"User-Agent": UA})
    if st != 200 or len(body) != GIF_LEN:
        return False

    def seen():
        ents = r("XREVRANGE", HITS, "+", "-", "COUNT", 3) or []
        for _, f in ents:
            d = {f[j]: f[j + 1] for j in range(0, len(f), 2)}
            if d.get(b"nonce") == f"mk{i}".encode():
                return True
        return False
    try:
        wait_for(seen, timeout=10, what=f"marker mk{i}", interval=0.002)
        return True
    except AssertionError:
        return False


total_unexpected_hits = 0
as_expected = 0
up_failures = 0
for i, c in enumerate(CASES):
    fails = []
    h0, j0 = xlen(HITS), xlen(REJ)
    s = socket.create_connection(("127.0.0.1", col.port), timeout=c["timeout"])
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        try:
            s.sendall(c["raw"])
        except OSError:
            pass  # the server may answer and close before taking everything
        resps, rest, eof = read_answers(s, c["nresp"], head_methods(c["raw"]), c["timeout"])
        got = [x[0] for x in resps]
        if got != c["status"]:
            fails.append(f"status {got}, want {c['status']}")
        if c["close"] is True:
            closed, extra = (True, rest) if eof else wait_eof(s, rest, 5)
            if not closed:
                fails.append("connection left open")
            elif extra:
                fails.append(f"bytes after the last answer: {extra[:80]!r}")
        elif c["close"] is False:
            closed, extra = (True, rest) if eof else wait_eof(s, rest, 0.3)
            if closed:
                fails.append("connection closed, want keep-alive")
        for st, hd, allh, body in resps:
            if c["allow"] is not None and st == 405 and hd.get("allow") != c["allow"]:
                fails.append(f"Allow {hd.get('allow')!r}, want {c['allow']!r}")
            if c["noloc"] and "location" in hd:
                fails.append(f"Location {hd['location']!r} on a refused link")
            if c["location"] is not None and st == 302 and hd.get("location") != c["location"]:
                fails.append(f"Location {hd.get('location')!r}, want {c['location']!r}")
            if len(allh.get("location", [])) > 1:
                fails.append("several Location headers")
            if st == 401 and "www-authenticate" not in hd:
                fails.append("401 without WWW-Authenticate")
            if c["gif"] and st == 200 and (hd.get("content-type") != "image/gif" or len(body) != GIF_LEN):
                fails.append(f"not the GIF: {hd.get('content-type')} {len(body)} bytes")
            if any(k.lower() == "set-cookie" for k in allh):
                fails.append("Set-Cookie in an answer")
    finally:
        s.close()
    alive = col.proc.poll() is None and col.proc.pid == pid
    if not alive:
        fails.append("collector died")
        check(False, f"[{i}] {c['name']}: collector died")
        break
    if not marker(i):
        fails.append("marker hit never reached Redis")
    try:
        hst = http_get(col.port, "/healthz")[0]
    except OSError as e:
        hst = repr(e)
    if hst != 200:
        fails.append(f"/healthz -> {hst}")
        up_failures += 1
    h1, j1 = xlen(HITS), xlen(REJ)
    extra_hits = h1 - h0 - 1 - c["hits"]
    if extra_hits != 0:
        fails.append(f"hit stream grew by {h1 - h0 - 1}, want {c['hits']}")
        total_unexpected_hits += max(0, extra_hits)
    if j1 - j0 != c["rejects"]:
        fails.append(f"rejects grew by {j1 - j0}, want {c['rejects']}")
    if c["reason"] and j1 - j0 > 0:
        want = c["reason"] if isinstance(c["reason"], tuple) else (c["reason"],)
        got_r = last_reasons(min(j1 - j0, c["rejects"] or 0))
        if any(x not in want for x in got_r):
            fails.append(f"reject reasons {sorted(set(got_r))}, want {list(want)}")
    check(not fails, f"[{i}] {c['name']}: " + "; ".join(fails))
    if not fails:
        as_expected += 1

# ---------------------------------------------------------------- the end state
alive = col.proc.poll() is None and col.proc.pid == pid
check(alive, "collector still running with the same pid")
check(http_get(col.port, "/healthz")[0] == 200, "collector /healthz after the catalogue")
keys, cursor = [], b"0"
while True:
    cursor, batch = r("SCAN", cursor, "COUNT", 1000)
    keys += [k.decode("utf-8", "replace") for k in batch]
    if cursor in (b"0", 0, "0"):
        break
foreign = sorted(set(keys) - {HITS, REJ})
check(not foreign, f"keys outside the documented schema: {foreign[:10]}")
entries = r.xrange_all(HITS)
camps = {f.get("campaign") for _, f in entries}
check(camps <= {"marker", "ok", "spring"}, f"unexpected campaigns in the stream: {camps}")
fus = [f for _, f in entries if f.get("event") == "followup"]
check(not fus, f"followups in the stream: {fus[:3]}")
never = [f.get("nonce") for _, f in entries if (f.get("nonce") or "").startswith("never")]
check(not never, f"requests after a fatal error were run: {never}")
rejects = r.xrange_all(REJ)
check(all(f.get("reason") for _, f in rejects), "every reject carries a reason")

print(f"hostile: {len(CASES)} requests, {as_expected} as expected, "
      f"collector {'up' if alive and not up_failures else 'DOWN'}, hits added {total_unexpected_hits}, "
      f"foreign keys {len(foreign)}", flush=True)
check(len(CASES) >= 200, f"catalogue has {len(CASES)} cases, want at least 200")
check(col.stop() == 0, "collector exits 0 on SIGTERM")
done("test_coll_hostile")
