"""The soak (`make soak`, not part of `make test`): a steady stream of events over both
transports (mode "both", all from the emulator) for SOAK_SECONDS (default 1200), with the
script rewritten every RELOAD_S seconds. At the end every event must have been answered
exactly once with 200 and handled exactly once (the handler counts its runs per message
in lark.store), and the gateway's RSS and descriptor count must be flat: both are
printed at the start (after a warm-up) and at the end.

    make soak                                   # 20 minutes on the release build
    SOAK_SECONDS=60 SOAK_RATE=20 make soak      # a short run
"""
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from emulator import Emulator            # noqa: E402
from harness import Daemon, wait_until   # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "1200"))
RATE = float(os.environ.get("SOAK_RATE", "7"))          # events per second, both transports
RELOAD_S = float(os.environ.get("SOAK_RELOAD_S", "10"))
TOKEN = "v-token-soak"
FAST = {"PingInterval": 5, "ReconnectInterval": 1, "ReconnectNonce": 1}

SCRIPT = r'''
local VERSION = %d
function on_p2_message_receive_v1(event)
  local id = event.event.message.message_id
  return { v = VERSION, runs = lark.store.incr("runs:" .. id) }
end
'''


def usage(pid):
    """(RSS in KiB, open descriptors) of a process."""
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def send_steadily(em, sent, stop, errors):
    n = 0
    start = time.monotonic()
    try:
        while not stop.is_set():
            delivery = "ws" if n % 2 == 0 else "webhook"
            ev = em.send_text("soak-%d" % n, delivery=delivery, chat_id="oc_%d" % (n % 13))
            sent[ev["message_id"]] = delivery
            n += 1
            stop.wait(max(0.0, start + n / RATE - time.monotonic()))
    except BaseException as e:  # reported at the end
        errors.append(e)


def check(em, sent):
    acks = wait_until(lambda: (lambda a: (a,) if {x["message_id"] for x in a} >= sent.keys()
                               else None)(em.acks()),
                      timeout=60, what="an answer for all %d events" % len(sent))[0]
    by_id = {}
    for a in acks:
        by_id.setdefault(a["message_id"], []).append(a)
    bad = []
    for mid, delivery in sent.items():
        answers = by_id.get(mid, [])
        if len(answers) != 1 or answers[0]["code"] != 200 or answers[0]["delivery"] != delivery:
            bad.append((mid, answers))
        elif json.loads(answers[0]["data"])["runs"] != 1:
            bad.append((mid, answers))
    return bad


def main():
    if SECONDS * RATE > 9000:
        sys.exit("SOAK_SECONDS x SOAK_RATE must stay under the emulator's 10000 ack records")
    with Emulator(client_config=FAST, verification_token=TOKEN, redeliver_ms=600000) as em:
        config = em.gateway_config(mode="both", verification_token=TOKEN, log={"level": "info"})
        with Daemon(config=config, scripts={"soak.lua": SCRIPT % 0}) as d:
            em.wait_connections(1, timeout=30)
            em.webhook_to(d)
            sent, stop, errors = {}, threading.Event(), []
            sender = threading.Thread(target=send_steadily, args=(em, sent, stop, errors),
                                      daemon=True)
            sender.start()
            wait_until(lambda: len(sent) >= RATE * 5, timeout=60, what="warm-up")
            rss0, fds0 = usage(d.proc.pid)
            t0 = time.monotonic()
            version = 0
            while time.monotonic() - t0 < SECONDS and not errors:
                time.sleep(min(RELOAD_S, max(0.0, SECONDS - (time.monotonic() - t0))))
                version += 1
                d.write_script("soak.lua", SCRIPT % version)
            stop.set()
            sender.join(timeout=30)
            bad = check(em, sent)
            rss1, fds1 = usage(d.proc.pid)
            reloads = d.log().count("reloaded scripts")
            print("soak: %.0f s, %d events (ws + webhook), %d saves, %d reloads" %
                  (SECONDS, len(sent), version, reloads))
            print("soak: RSS %d KiB at start, %d KiB at end; descriptors %d at start, %d at end"
                  % (rss0, rss1, fds0, fds1))
            failures = []
            if errors:
                failures.append("sender failed: %r" % errors[0])
            if bad:
                failures.append("%d events lost, doubled or failed, e.g. %r" % (len(bad), bad[:3]))
            if fds1 > fds0 + 2:
                failures.append("descriptors grew from %d to %d" % (fds0, fds1))
            if rss1 > rss0 * 1.25 + 2048:
                failures.append("RSS grew from %d to %d KiB" % (rss0, rss1))
            if "reload failed" in d.log():
                failures.append("a reload failed")
            for f in failures:
                print("soak: FAIL: " + f)
            print("soak: %s" % ("passed" if not failures else "failed"))
            return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
