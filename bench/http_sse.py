#!/usr/bin/env python3
"""lark.http relaying a Server-Sent Events stream: one handler reads N events from a local
server (chunked, one event per chunk, as a model server sends tokens) with res:sse().
Prints larkgw's CPU time per event and the events per second it relayed.
    LARKGW_BIN=build/larkgw python3 bench/http_sse.py [N]"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import lark_crypto as lc                      # noqa: E402
from harness import Daemon                    # noqa: E402
from https_server import TestServer           # noqa: E402

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local res = assert(lark.http.get(lark.vars.url, { stream = true, timeout = 60 }))
  local n, bytes = 0, 0
  for ev in res:sse() do
    n = n + 1
    bytes = bytes + #ev.data
  end
  lark.log.info("bench done events=" .. n .. " bytes=" .. bytes)
end
'''


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
    with TestServer() as srv:
        config = {"vars": {"url": "http://127.0.0.1:%d/drip?n=%d&gap=0" % (srv.port, n)},
                  "limits": {"handler_max_s": 600, "handler_timeout_ms": 600000},
                  "log": {"level": "info"}}
        with Daemon(config=config, scripts={"bench.lua": SCRIPT},
                    extra_args=["--set", "http.allow=127.0.0.1:%d" % srv.port]) as d:
            pid = d.proc.pid
            before, t0 = cpu_seconds(pid), time.monotonic()
            d.post(json.dumps(lc.message_event(text="go")))
            d.wait_log(r"bench done events=%d " % n, timeout=600)
            cpu, wall = cpu_seconds(pid) - before, time.monotonic() - t0
    print("events %d: larkgw CPU %.2f s (%.1f us/event), wall %.2f s (%.0f events/s; the "
          "Python server is the bottleneck of the wall figure)"
          % (n, cpu, cpu / n * 1e6, wall, n / wall))


if __name__ == "__main__":
    main()
