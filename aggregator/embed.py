#!/usr/bin/env python3
"""embed.py IN OUT NAME: writes OUT, a C header holding the text of IN as
`static const char NAME[]`, NUL-terminated (the build embeds scripts.lua
this way; a byte list, as C11 caps string literals at 4095 bytes)."""
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read() + b"\0"
rows = [", ".join(str(b) for b in data[i:i + 24]) for i in range(0, len(data), 24)]
with open(out, "w", encoding="utf-8") as f:
    f.write(f"/* {out.split('/')[-1]}: generated from {src.split('/')[-1]} by embed.py; do not edit. */\n")
    f.write(f"static const char {name}[] = {{\n    " + ",\n    ".join(rows) + "\n};\n")
