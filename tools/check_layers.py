#!/usr/bin/env python3
"""Includes only point down the layers: every #include "dir/file.h" in src/ must follow
an edge listed here (a folder may always include its own headers). Run by ctest as
lint.layers; prints each offending line as file:line and exits 1."""
import os
import re
import sys

# folder -> the folders below it that it may include. Read top to bottom: the CLI, the
# composition root, the two ways in, events, scripts, the OpenAPI, then the leaves.
ALLOWED = {
    "main":     {"app", "emulator", "lua", "base"},
    "app":      {"ingress", "event", "lua", "openapi", "store", "net", "proto", "crypto",
                 "pattern", "base"},
    "ingress":  {"event", "net", "proto", "crypto", "base"},
    # event/ and store/ reach net/ for the Redis client only (shared dedup, chat
    # leases, lark.store across gateways).
    "event":    {"lua", "net", "crypto", "base"},
    "lua":      {"openapi", "net", "store", "pattern", "crypto", "base"},
    "openapi":  {"net", "crypto", "base"},
    "net":      {"crypto", "base"},
    "store":    {"net", "crypto", "base"},
    "pattern":  {"base"},
    "proto":    {"crypto", "base"},
    "crypto":   {"base"},
    "base":     set(),
    # The emulator is the test oracle: neutral codecs and the HTTP server, never the
    # client's logic (ingress, event, lua, openapi).
    "emulator": {"net", "proto", "crypto", "base"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"')


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    bad = 0
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            layer = rel.split(os.sep)[0] if os.sep in rel else "main"
            if layer not in ALLOWED:
                print(f"src/{rel}: folder '{layer}' has no entry in tools/check_layers.py")
                bad += 1
                continue
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    to = m.group(1)
                    if to != layer and to not in ALLOWED[layer]:
                        print(f"src/{rel}:{n}: {layer}/ may not include {to}/: {line.strip()}")
                        bad += 1
    print(f"layers: {bad} include(s) against the rule")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
