"""Runs after every integration test (a ctest fixture cleanup): no secret reached any
gateway log of the whole run. Each daemon the harness started left its log and the
secrets it was configured with in LARKGW_LOG_DIR; besides those, no log may hold an
Authorization header, an OpenAPI token, or a long-connection ticket."""
import glob
import json
import os
import re
import sys

PATTERNS = [
    (re.compile(r"Bearer "), "an Authorization header"),
    (re.compile(r"\b[ta]-[0-9a-f]{40}\b"), "an OpenAPI token (the emulator's format)"),
    (re.compile(r"(access_key|ticket)=[^&\s]"), "a long-connection URL credential"),
]


def main():
    logs = sorted(glob.glob(os.path.join(os.environ["LARKGW_LOG_DIR"], "*.log")))
    leaks = []
    for path in logs:
        with open(path, errors="replace") as f:
            text = f.read()
        with open(path[:-4] + ".secrets") as f:
            secrets = json.load(f)
        leaks += ["%s: a configured secret" % path for s in secrets if s in text]
        leaks += ["%s: %s" % (path, what) for rx, what in PATTERNS if rx.search(text)]
    print("%d gateway logs read, %d leaks" % (len(logs), len(leaks)))
    for leak in leaks:
        print("LEAK", leak)
    if not logs:
        print("(no gateway ran in this selection of tests)")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
