"""Dedup shared through Redis by several gateways (webhook mode, one redis-server): an
event re-delivered to another gateway runs once; a delivery that finds the event still
running elsewhere answers busy (503) and is run by nobody twice; a handler that failed
releases its claim so the retry runs; 1,000 events with 20% duplicates spread over three
gateways each run exactly once."""
import json
import random
import re
import threading
import unittest
from concurrent.futures import ThreadPoolExecutor

import lark_crypto as lc
from harness import GatewayCase, wait_until
from redis_server import start_redis

RUN = r'''
function on_p2_message_receive_v1(ev)
  local text = lark.json.decode(ev.event.message.content).text
  if text == "slow" then lark.sleep(1.5) end
  if text == "fail" and GATEWAY == "a" then error("failing on purpose") end
  lark.log.info("ran " .. ev.header.event_id)
end
'''


def script(name):
    return {"bot.lua": 'GATEWAY = "%s"\n' % name + RUN}


def runs(*daemons):
    ids = []
    for d in daemons:
        ids += re.findall(r"ran ([0-9a-f]+)\s*$", d.log(), re.M)
    return ids


class SharedDedup(GatewayCase):
    def gateways(self, n, **over):
        rs = start_redis(self)
        cfg = {"redis": {"url": rs.url}, "ack_deadline_ms": 10000}
        cfg.update(over)
        return rs, [self.start_daemon(config=cfg, scripts=script("abc"[i])) for i in range(n)]

    def post(self, d, env):
        status, _, body = d.post(json.dumps(env))
        return status, json.loads(body) if body else None

    def test_redelivered_to_another_gateway_runs_once(self):
        rs, (a, b) = self.gateways(2)
        env = lc.message_event(text="hi")
        self.assertEqual(self.post(a, env)[0], 200)
        self.assertEqual(self.post(b, env), (200, {"msg": "success"}))
        b.wait_log(r"duplicate event %s .*handled by a gateway already" % env["header"]["event_id"])
        # the same message under a new event id is the same message
        again = lc.message_event(text="hi", message_id=env["event"]["message"]["message_id"])
        self.assertEqual(self.post(b, again)[0], 200)
        b.wait_log(r"duplicate event %s" % again["header"]["event_id"])
        self.assertEqual(runs(a, b), [env["header"]["event_id"]])
        self.assertEqual(rs.command("GET", "larkgw:dedup:" + env["header"]["event_id"]), b"done")
        ttl = rs.command("PTTL", "larkgw:dedup:" + env["header"]["event_id"])
        self.assertGreater(ttl, 8 * 3600 * 1000 - 60000)

    def test_still_running_elsewhere_answers_busy(self):
        rs, (a, b) = self.gateways(2)
        env = lc.message_event(text="slow")
        first = {}
        t = threading.Thread(target=lambda: first.setdefault("r", self.post(a, env)))
        t.start()
        try:
            key = "larkgw:dedup:" + env["header"]["event_id"]
            wait_until(lambda: (rs.command("GET", key) or b"").startswith(b"claim:"),
                       what="a's claim")
            status, body = self.post(b, env)
            self.assertEqual(status, 503)
            self.assertIn("busy", body["msg"])
        finally:
            t.join(timeout=20)
        self.assertEqual(first["r"][0], 200)
        self.assertEqual(self.post(b, env)[0], 200)          # now done: a duplicate
        self.assertEqual(runs(a, b), [env["header"]["event_id"]])
        self.assertEqual(b.metric("larkgw_events_busy_total"), 1)

    def test_a_failed_handler_releases_its_claim(self):
        rs, (a, b) = self.gateways(2)
        env = lc.message_event(text="fail")
        self.assertEqual(self.post(a, env)[0], 500)
        self.assertIsNone(rs.command("GET", "larkgw:dedup:" + env["header"]["event_id"]))
        self.assertEqual(self.post(b, env)[0], 200)          # the retry runs elsewhere
        self.assertEqual(runs(a, b), [env["header"]["event_id"]])

    def test_thousand_events_with_duplicates_over_three_gateways(self):
        rs, gws = self.gateways(3, order="none")
        events = [lc.message_event(text="n%d" % i) for i in range(1000)]
        rng = random.Random(7)
        deliveries = events + [rng.choice(events) for _ in range(200)]
        rng.shuffle(deliveries)

        def deliver(env):
            # as the platform does: anything but 200 is delivered again, anywhere
            for _ in range(50):
                status, _ = self.post(rng.choice(gws), env)
                if status == 200:
                    return True
            return False

        with ThreadPoolExecutor(8) as pool:
            ok = list(pool.map(deliver, deliveries))
        self.assertTrue(all(ok))
        ids = runs(*gws)
        self.assertEqual(len(ids), 1000)
        self.assertEqual(set(ids), {e["header"]["event_id"] for e in events})
        dups = sum(g.metric("larkgw_events_duplicate_total") for g in gws)
        self.assertGreaterEqual(dups, 200)


if __name__ == "__main__":
    unittest.main()
