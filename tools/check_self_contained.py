#!/usr/bin/env python3
"""The repository stands on its own: no tracked file may point at a file outside it (a
spec page the person who clones it does not have), and every relative link in a
Markdown file must name a file that exists. Run by ctest as lint.self_contained."""
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# Pages that live beside the repository, never in it.
OUTSIDE = re.compile(r"\.\./shared/|(^|[^/A-Za-z_])(DESIGN|PROTOCOL|STYLE|DEVELOPERS)\.md")
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)]*)?\)")
SELF = os.path.join("tools", "check_self_contained.py")


def tracked():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def main():
    bad = 0
    for rel in tracked():
        path = os.path.join(ROOT, rel)
        if rel == SELF or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.readlines()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(lines, 1):
            if OUTSIDE.search(line):
                print("%s:%d: points outside the repository: %s" % (rel, n, line.strip()[:120]))
                bad += 1
            if not rel.endswith(".md"):
                continue
            for m in LINK.finditer(line):
                target = m.group(1)
                if re.match(r"[a-z]+:", target):
                    continue
                dest = os.path.normpath(os.path.join(os.path.dirname(path), target))
                if not dest.startswith(ROOT + os.sep) or not os.path.exists(dest):
                    print("%s:%d: link to a missing or outside file: %s" % (rel, n, target))
                    bad += 1
    print("self-contained: %d reference(s) outside the repository or broken" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
