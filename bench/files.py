#!/usr/bin/env python3
"""Files through the gateway: lark.api.upload of N MiB (multipart built in C) and
lark.api.download of N MiB, against `larkgw emulator` on loopback; the script times each
call with lark.now(). Prints the median of RUNS calls as MiB/s.
  LARKGW_BIN=build/larkgw python3 bench/files.py [MiB ...]"""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from emulator import Emulator  # noqa: E402
from harness import Daemon  # noqa: E402

RUNS = int(os.environ.get("RUNS", "5"))
TOKEN = "bench-token-81f0"
SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local op, mib = lark.message.text(event):match("^(%a+) (%d+)$")
  local n = math.tointeger(tonumber(mib)) * 1024 * 1024
  local t0, ok, err = lark.now()
  if op == "up" then
    local data = string.rep("x", n)
    t0 = lark.now()
    ok, err = lark.api.upload("im/v1/files", { fields = { file_type = "stream", file_name = "b" },
                                                file = { field = "file", data = data } })
  else
    ok, err = lark.api.download("im/v1/messages/om_b/resources/gen_" .. n,
                                { query = { type = "file" }, max_bytes = n })
  end
  if not ok then error(err) end
  lark.log.info(("bench %s %d %.4f"):format(op, n, lark.now() - t0))
end
'''


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1, 10, 25]
    with Emulator(verification_token=TOKEN) as em:
        cfg = em.gateway_config(verification_token=TOKEN, log={"level": "info"},
                                limits={"memory_mb": 256, "upload_max_mb": 30,
                                        "download_max_mb": 100, "handler_max_s": 120})
        d = Daemon(config=cfg, scripts={"bench.lua": SCRIPT})
        try:
            em.wait_connections(1, timeout=20)
            for op in ("up", "down"):
                for mib in sizes:
                    times = []
                    for i in range(RUNS):
                        pattern = r"bench %s %d (\S+)$" % (op, mib << 20)
                        seen = len(re.findall(pattern, d.log(), re.M))
                        em.send_text("%s %d" % (op, mib))
                        d.wait_log(pattern, timeout=120, count=seen + 1)
                        times.append(float(re.findall(pattern, d.log(), re.M)[seen]))
                    med = statistics.median(times)
                    print("files: %-4s %3d MiB  median %.3f s  %.0f MiB/s" % (op, mib, med, mib / med))
        finally:
            d.stop(check=False)
            d.cleanup()


if __name__ == "__main__":
    main()
