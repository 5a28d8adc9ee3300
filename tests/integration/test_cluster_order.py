"""Per-chat order across gateways: two messages of one chat landing on two gateways
still run one after the other (a lease per chat in Redis); a lease whose gateway died
lapses after limits.handler_max_s; other chats are never held."""
import json
import re
import signal
import threading
import unittest

import lark_crypto as lc
from harness import GatewayCase, wait_until
from redis_server import start_redis

SCRIPT = r'''
function on_p2_message_receive_v1(ev)
  local text = lark.json.decode(ev.event.message.content).text
  lark.log.info("start " .. text)
  if text == "first" then lark.sleep(1) end
  local n = assert(lark.store.incr("seq"))
  lark.log.info("ran " .. text .. " as " .. n)
end
'''


class ClusterOrder(GatewayCase):
    def gateways(self, handler_max_s=20):
        rs = start_redis(self)
        cfg = {"redis": {"url": rs.url}, "ack_deadline_ms": 30000,
               "limits": {"handler_max_s": handler_max_s}}
        return rs, [self.start_daemon(config=cfg, scripts={"s.lua": SCRIPT}) for _ in range(2)]

    def post_async(self, d, env):
        def post():
            try:
                d.post(json.dumps(env))
            except OSError:
                pass    # the gateway was killed on purpose
        t = threading.Thread(target=post)
        t.start()
        self.addCleanup(t.join, 30)
        return t

    def seq(self, d, text):
        m = wait_until(lambda: re.search(r"ran %s as (\d+)" % text, d.log()), timeout=30,
                       what="%s ran" % text)
        return int(m.group(1))

    def test_one_chat_on_two_gateways_runs_in_order(self):
        rs, (a, b) = self.gateways()
        first = lc.message_event(text="first", chat_id="oc_shared")
        second = lc.message_event(text="second", chat_id="oc_shared")
        other = lc.message_event(text="other", chat_id="oc_other")
        self.post_async(a, first)
        a.wait_log(r"start first")
        self.post_async(b, second)
        self.post_async(b, other)
        # the other chat is not held behind oc_shared's lease
        self.assertEqual(self.seq(b, "other"), 1)
        self.assertLess(self.seq(a, "first"), self.seq(b, "second"))
        self.assertNotIn("start second", a.log())
        wait_until(lambda: rs.command("EXISTS", "larkgw:chat:oc_shared") == 0,
                   what="the lease given back")

    def test_lease_of_a_dead_gateway_lapses(self):
        rs, (a, b) = self.gateways(handler_max_s=2)
        self.post_async(a, lc.message_event(text="first", chat_id="oc_x"))
        a.wait_log(r"start first")
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        self.assertEqual(rs.command("EXISTS", "larkgw:chat:oc_x"), 1)
        self.post_async(b, lc.message_event(text="second", chat_id="oc_x"))
        self.assertEqual(self.seq(b, "second"), 1)
        self.assertEqual(rs.command("EXISTS", "larkgw:chat:oc_x"), 0)


if __name__ == "__main__":
    unittest.main()
