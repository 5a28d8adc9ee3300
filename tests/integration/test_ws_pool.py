"""Several long connections, ClientConfig adoption (discovery and pong) and a clean stop
with an event in flight. larkgw run (mode ws) against larkgw emulator."""
import signal
import unittest

from harness import GatewayCase, wait_until

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  if text == "slow" then
    lark.log.info("slow handler started")
    lark.sleep(1)
  end
  lark.log.info("handled " .. text)
end
'''


class Pool(GatewayCase):
    def test_three_connections(self):
        em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        d = self.start_daemon(config=em.gateway_config(connections=3), scripts={"bot.lua": SCRIPT})
        conns = em.wait_connections(3, timeout=20)
        self.assertEqual(len({c["device_id"] for c in conns}), 3)
        sent = [em.send_text("pool-%d" % i) for i in range(6)]
        acks = [em.wait_acks(1, message_id=s["message_id"])[0] for s in sent]
        self.assertEqual({a["code"] for a in acks}, {200})
        # the emulator spreads events over every open connection
        self.assertEqual(len({a["conn"] for a in acks}), 3)
        d.wait_log(r"ws: \[2\] connected to 127\.0\.0\.1")

    def test_ping_interval_from_discovery_then_from_pong(self):
        em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        d = self.start_daemon(config=em.gateway_config(), scripts={"bot.lua": SCRIPT})
        em.wait_connections(1, timeout=20)
        # The SDK default is 120 s: three pings this soon means PingInterval=1 won.
        wait_until(lambda: em.connections(True)[0]["pings"] >= 3, timeout=15,
                   what="3 pings")
        self.assertEqual(em.connections(True)[0]["bad_pings"], 0)
        em.set_config({"PingInterval": 2, "ReconnectCount": 7})
        d.wait_log(r"ClientConfig from pong: PingInterval=2 s ReconnectInterval=1 s "
                   r"ReconnectNonce=1 s ReconnectCount=7")

    def test_sigterm_acks_the_event_in_flight(self):
        em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        d = self.start_daemon(config=em.gateway_config(), scripts={"bot.lua": SCRIPT})
        em.wait_connections(1, timeout=20)
        sent = em.send_text("slow")
        d.wait_log(r"slow handler started")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.stop(), 0)
        self.assertIn("handled slow", d.log())
        ack = em.wait_acks(1, message_id=sent["message_id"])[0]
        self.assertEqual(ack["code"], 200)
        wait_until(lambda: not em.connections(True), timeout=10,
                   what="the gateway's connection to close")


if __name__ == "__main__":
    unittest.main(verbosity=2)
