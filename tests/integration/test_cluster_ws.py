"""Three gateways on one app's long connection (cluster mode: the emulator gives each
event to one connection) and one Redis:
- kill -9 one gateway while its handlers sleep: every event it had not acked is
  delivered again by the emulator to another gateway, which runs it once its claim
  has lapsed; every event completes exactly once and none is acked 200 twice;
- Redis killed and restarted under load: no crash, no lost event, degraded then back."""
import collections
import re
import signal
import threading
import time
import unittest

from harness import GatewayCase, http, wait_until
from redis_server import start_redis

TOKEN = "v-token-7c1e"

SCRIPT = r'''
function on_p2_message_receive_v1(ev)
  local text = lark.json.decode(ev.event.message.content).text
  lark.log.info("start " .. text)
  lark.sleep(tonumber(text:match("^s(%d)")) or 0)
  lark.log.info("done " .. text)
end
'''


def done_counts(*daemons):
    c = collections.Counter()
    for d in daemons:
        c.update(re.findall(r"done (\S+)\s*$", d.log(), re.M))
    return c


def acks_200(em):
    c = collections.Counter()
    for a in em.acks():
        if a["code"] == 200:
            c[a["message_id"]] += 1
    return c


class ClusterWs(GatewayCase):
    def cluster(self, n, handler_max_s=3, redeliver_ms=2500):
        rs = start_redis(self)
        em = self.start_emulator(verification_token=TOKEN, redeliver_ms=redeliver_ms,
                                 args=["--retries", "20"])
        cfg = em.gateway_config(redis={"url": rs.url}, order="none",
                                limits={"handler_max_s": handler_max_s})
        gws = [self.start_daemon(config=cfg, scripts={"s.lua": SCRIPT}) for _ in range(n)]
        em.wait_connections(n, timeout=30)
        return rs, em, gws

    def test_kill_9_one_gateway_under_load(self):
        rs, em, (a, b, c) = self.cluster(3)
        sent = {}
        for i in range(30):
            text = "s1-%d" % i
            sent[em.send_text(text)["message_id"]] = text
        # A's handlers are all asleep now (they sleep 1 s): none is between done and ack
        wait_until(lambda: re.search(r"start s1-", a.log()), what="a handler running on a")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        wait_until(lambda: set(acks_200(em)) >= set(sent), timeout=60,
                   what="a 200 ack for every event")
        # the acks can come before the log readers have the "done" lines
        counts = wait_until(lambda: (lambda n: n if all(n[t] for t in sent.values()) else None)(
            done_counts(a, b, c)), timeout=10, what="a done line for every event")
        self.assertEqual({t: counts[t] for t in sent.values()}, {t: 1 for t in sent.values()})
        self.assertEqual(max(acks_200(em).values()), 1)     # nothing acked 200 twice
        # some were cut short on a, and ran to the end on b or c instead
        cut = set(re.findall(r"start (s1-\d+)\s*$", a.log(), re.M)) - set(done_counts(a))
        self.assertTrue(cut)
        self.assertEqual(set(done_counts(b, c)) & cut, cut)

    def test_redis_killed_and_restarted_under_load(self):
        rs, em, gws = self.cluster(2, redeliver_ms=3000)
        sent = {}
        stop = threading.Event()

        def load():
            i = 0
            while not stop.is_set():
                text = "s0-%d" % i
                try:
                    sent[em.send_text(text)["message_id"]] = text
                except AssertionError:
                    pass     # between connections: the emulator had none open
                i += 1
                time.sleep(0.01)

        t = threading.Thread(target=load)
        t.start()
        try:
            wait_until(lambda: len(sent) >= 50, timeout=30, what="load")
            rs.kill()
            for d in gws:
                wait_until(lambda: http(d.admin_port, "GET", "/readyz")[2].startswith(b"{"),
                           what="degraded")
            n = len(sent)
            wait_until(lambda: len(sent) >= n + 50, timeout=30, what="load while down")
            rs.start()
            for d in gws:
                wait_until(lambda: http(d.admin_port, "GET", "/readyz")[2] == b"ready\n",
                           timeout=20, what="ready again")
            n = len(sent)
            wait_until(lambda: len(sent) >= n + 50, timeout=30, what="load after")
        finally:
            stop.set()
            t.join(timeout=30)
        wait_until(lambda: set(acks_200(em)) >= set(sent), timeout=60,
                   what="a 200 ack for every event")
        wait_until(lambda: all(n[t] >= 1 for n in [done_counts(*gws)] for t in sent.values()),
                   timeout=10, what="a done line for every event")
        self.assertTrue(all(d.proc.poll() is None for d in gws))
        self.assertGreater(sum(d.metric("larkgw_events_dedup_alone_total") for d in gws), 0)
        for d in gws:
            self.assertEqual(d.metric("larkgw_redis_up"), 1)


if __name__ == "__main__":
    unittest.main()
