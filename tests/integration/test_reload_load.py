"""No loss under load (issue 5): a steady stream of events over the long connection and
the webhook (mode "both", both from the emulator) while the script is rewritten 25
times. Every event is answered exactly once with 200, by a complete generation (the
version read from two places agrees), and the version handlers report follows each
save. The time from a save to the first event answered by the new version is printed
(a figure for the README; the test only bounds it loosely)."""
import json
import re
import statistics
import threading
import time
import unittest

from harness import GatewayCase, wait_until

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}
SAVES = 25
SEND_INTERVAL_S = 0.02

SCRIPT = r'''
local VERSION = %(v)d
function version() return %(v)d end
function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  lark.log.info("handled " .. text .. " v" .. VERSION .. "/" .. version())
  return { v = VERSION, w = version() }
end
'''


def script(v):
    return SCRIPT % {"v": v}


class Sender(threading.Thread):
    """Sends "ev-N" steadily, alternating the long connection and the webhook."""

    def __init__(self, em):
        super().__init__(daemon=True)
        self.em = em
        self.sent = {}          # N -> (message_id, delivery, monotonic send time)
        self.stop = threading.Event()
        self.error = None

    def run(self):
        n = 0
        try:
            while not self.stop.is_set():
                delivery = "ws" if n % 2 == 0 else "webhook"
                t = time.monotonic()
                sent = self.em.send_text("ev-%d" % n, delivery=delivery, chat_id="oc_%d" % (n % 7))
                self.sent[n] = (sent["message_id"], delivery, t)
                n += 1
                self.stop.wait(SEND_INTERVAL_S)
        except BaseException as e:  # reported by the test
            self.error = e


class ReloadUnderLoad(GatewayCase):

    def test_no_event_lost_or_doubled_across_25_saves(self):
        em = self.start_emulator(client_config=FAST, verification_token=TOKEN, redeliver_ms=600000)
        config = em.gateway_config(mode="both", verification_token=TOKEN)
        d = self.start_daemon(config=config, scripts={"v.lua": script(0)})
        em.wait_connections(1, timeout=20)
        em.webhook_to(d)
        sender = Sender(em)
        sender.start()
        try:
            latencies = self.save_repeatedly(d, sender)
        finally:
            sender.stop.set()
            sender.join(timeout=30)
        self.assertIsNone(sender.error)
        self.check_answers(em, d, sender)
        print("\nreload under load: %d events (ws + webhook), %d saves; save -> first "
              "event answered by the new version: median %.0f ms, max %.0f ms"
              % (len(sender.sent), SAVES, statistics.median(latencies) * 1000,
                 max(latencies) * 1000))

    def first_handled(self, d, sender, v, after):
        """The send time of the first event (by number) handled by version v."""
        nums = [int(n) for n in re.findall(r"handled ev-(\d+) v%d/%d$" % (v, v), d.log(), re.M)]
        times = [sender.sent[n][2] for n in nums if n in sender.sent]
        return min(times) - after if times else None

    def save_repeatedly(self, d, sender):
        wait_until(lambda: "handled ev-" in d.log(), timeout=20, what="first event handled")
        latencies = []
        for v in range(1, SAVES + 1):
            saved = time.monotonic()
            d.write_script("v.lua", script(v))
            latency = wait_until(lambda: self.first_handled(d, sender, v, saved), timeout=5,
                                 interval=0.02, what="version %d handling events" % v)
            latencies.append(latency)
            # a few events on this version before the next save
            count = len(sender.sent)
            wait_until(lambda: len(sender.sent) >= count + 5, timeout=10, what="more events")
        return latencies

    def check_answers(self, em, d, sender):
        want = {mid: delivery for mid, delivery, _ in sender.sent.values()}
        acks = wait_until(lambda: (lambda a: (a,) if len({x["message_id"] for x in a} & want.keys())
                                   == len(want) else None)(em.acks()),
                          timeout=30, what="an answer for all %d events" % len(want))[0]
        by_id = {}
        for a in acks:
            by_id.setdefault(a["message_id"], []).append(a)
        versions = set()
        for mid, delivery in want.items():
            answers = by_id.get(mid, [])
            self.assertEqual(len(answers), 1, "answered %d times: %r" % (len(answers), answers))
            a = answers[0]
            self.assertEqual((a["delivery"], a["code"]), (delivery, 200), a)
            body = json.loads(a["data"])
            self.assertEqual(body["v"], body["w"], a)
            versions.add(body["v"])
        self.assertEqual(versions, set(range(0, SAVES + 1)))
        self.assertEqual(d.log().count("handled ev-"), len(want))
        self.assertNotIn("reload failed", d.log())
        self.assertNotIn("duplicate event", d.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
