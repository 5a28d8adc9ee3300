"""Acks never wait past the platform's patience, and waiting handlers do not hold the
gateway: a handler sleeping 10 s is answered 200 by the ack deadline (well within the
emulator's 3 s webhook patience) and its reply still goes out; 50 events whose handlers
each wait on a 500 ms API call all complete, their calls in flight together."""
import json
import sys
import time
import unittest

from harness import GatewayCase
from log_secrets import assert_no_secrets

TOKEN = "v-token-7c1e"

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local text = lark.json.decode(msg.content).text
  if text == "sleepy" then lark.sleep(10) end
  local res, err = lark.im.reply(msg.message_id, "text", { text = "done: " .. text })
  if not res then error(err) end
  lark.log.info("replied to " .. text)
end
'''


class AckDeadline(GatewayCase):
    def test_sleeping_handler_acked_then_replies(self):
        em = self.start_emulator(verification_token=TOKEN)
        # a deadline well inside the emulator's 3 s: the test is about the mechanism, and
        # the default's 500 ms margin is less than a loaded ASan run's delivery delay
        d = self.start_daemon(config=em.gateway_config(mode="webhook", ack_deadline_ms=1000),
                              scripts={"bot.lua": SCRIPT})
        em.webhook_to(d)
        sent = em.send_text("sleepy", delivery="webhook", im_message_id="om_sleepy")
        ack = em.wait_acks(1, timeout=15, message_id=sent["message_id"])[0]
        self.assertEqual(ack["code"], 200, ack)       # 0 if it missed the 3 s
        self.assertEqual(json.loads(ack["data"]), {"msg": "success"})
        d.wait_log(r"event \S+ \(im\.message\.receive_v1\) still running at the ack "
                   r"deadline \(1000 ms\): acked")
        self.assertEqual(em.api_calls("/open-apis/im/"), [])   # still asleep
        calls = em.wait_api_calls(1, path="/open-apis/im/v1/messages/om_sleepy/reply",
                                  timeout=30, answered=True)
        self.assertEqual(calls[0]["code"], 0)
        self.assertEqual(json.loads(calls[0]["body"]["content"]), {"text": "done: sleepy"})
        d.wait_log(r"replied to sleepy")
        self.assertEqual(len(em.acks(sent["message_id"])), 1)   # acked once
        d.stop()
        assert_no_secrets(em, d.log())


class Concurrency(GatewayCase):
    def test_fifty_waiting_handlers_overlap(self):
        n, latency = 50, 500
        em = self.start_emulator(verification_token=TOKEN)
        d = self.start_daemon(config=em.gateway_config(), scripts={"bot.lua": SCRIPT})
        em.wait_connections(1, timeout=20)
        em.send_text("warm up", im_message_id="om_warm")   # the token, once
        em.wait_api_calls(1, path="/open-apis/im/v1/messages/om_warm/reply", timeout=20,
                          answered=True)
        em.openapi_settings(latency_paths={"/open-apis/im/": latency})
        em.clear_api_calls()
        start = time.time()
        for i in range(n):
            em.send_text("m%d" % i, chat_id="oc_par%d" % i, im_message_id="om_par%d" % i)
        calls = em.wait_api_calls(n, path="/open-apis/im/v1/messages/", timeout=120,
                                  answered=True)
        wall_ms = (time.time() - start) * 1000
        self.assertEqual(sorted(c["path"] for c in calls),
                         sorted("/open-apis/im/v1/messages/om_par%d/reply" % i
                                for i in range(n)))
        self.assertTrue(all(c["code"] == 0 for c in calls))
        # overlap: the most calls the emulator held at one moment
        peak = max(sum(1 for o in calls if o["received_ms"] <= c["received_ms"]
                       < o["answered_ms"]) for c in calls)
        self.assertGreater(peak, 1)
        span = max(c["answered_ms"] for c in calls) - min(c["received_ms"] for c in calls)
        sys.stderr.write("\n%d events, each waiting on a %d ms API call: first call "
                         "to last answer %d ms, send-to-done %.0f ms, peak %d calls "
                         "in flight (serial: %d ms)\n"
                         % (n, latency, span, wall_ms, peak, n * latency))
        d.wait_log(r"replied to m%d$" % (n - 1), timeout=30)
        d.stop()
        assert_no_secrets(em, d.log())


if __name__ == "__main__":
    unittest.main()
