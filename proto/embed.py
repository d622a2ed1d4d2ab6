#!/usr/bin/env python3
"""embed.py IN OUT NAME [--js] [--gzip] [--max N]: writes OUT, a C header
holding the text of IN as `static const char NAME[]`, NUL-terminated (a
byte list: C11 caps string literals at 4095 bytes). The build embeds
aggregator/scripts.lua and collector/ag.js this way.
  --js     drop comment lines and indentation first (every statement of the
           file ends with a semicolon, so joining lines keeps it valid)
  --gzip   also NAME_gz[] (gzip, mtime 0: reproducible) and NAME_etag, a
           quoted ETag from the text's SHA-256
  --max N  fail if the (stripped) text exceeds N bytes
  --replace OLD NEW  replace the one occurrence of OLD first (a variant:
           ag.js's attribution = first)"""
import gzip
import hashlib
import sys

args = sys.argv[1:]
src, out, name = args[:3]
flags = args[3:]
data = open(src, "rb").read()
if "--replace" in flags:
    i = flags.index("--replace")
    old, new = flags[i + 1].encode(), flags[i + 2].encode()
    if data.count(old) != 1:
        sys.exit(f"embed.py: {src} holds {old!r} {data.count(old)} times, not once")
    data = data.replace(old, new)
if "--js" in flags:
    lines = [l.strip() for l in data.decode("utf-8").splitlines()]
    data = "\n".join(l for l in lines if l and not l.startswith("//")).encode() + b"\n"
if "--max" in flags:
    limit = int(flags[flags.index("--max") + 1])
    if len(data) > limit:
        sys.exit(f"embed.py: {src} is {len(data)} bytes, more than {limit}")


def c_bytes(b, nul):
    """The bytes as a C initialiser; for a char array (nul) bytes past 127
    (UTF-8) are cast, as char may be signed."""
    b = b + (b"\0" if nul else b"")
    item = (lambda x: f"(char){x}" if x > 127 else str(x)) if nul else str
    rows = [", ".join(item(x) for x in b[i:i + 24]) for i in range(0, len(b), 24)]
    return "{\n    " + ",\n    ".join(rows) + "\n}"


with open(out, "w", encoding="utf-8") as f:
    f.write(f"/* {out.split('/')[-1]}: generated from {src.split('/')[-1]} by embed.py; do not edit. */\n")
    f.write(f"static const char {name}[] = {c_bytes(data, True)};\n")
    if "--gzip" in flags:
        gz = gzip.compress(data, compresslevel=9, mtime=0)
        f.write(f"static const unsigned char {name}_gz[] = {c_bytes(gz, False)};\n")
        etag = hashlib.sha256(data).hexdigest()[:20]
        f.write(f'static const char {name}_etag[] = "\\"{etag}\\"";\n')
