"""The long connection's limits and odd inputs: WebSocket continuation frames, the
message size bound (ws.max_message) at the WebSocket and at reassembly, a malformed
envelope, and a handler answer that outlives its connection."""
import unittest

from harness import GatewayCase, wait_until

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  if text:sub(1, 4) == "slow" then
    lark.log.info("slow handler started")
    lark.sleep(1)
  end
  lark.log.info("handled len=" .. #text .. " head=" .. text:sub(1, 8))
end
'''


class Bounds(GatewayCase):
    def setUp(self):
        self.em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        cfg = self.em.gateway_config(ws={"max_message": 100000, "fragment_timeout_s": 2})
        self.d = self.start_daemon(config=cfg, scripts={"bot.lua": SCRIPT})
        self.em.wait_connections(1, timeout=20)

    def test_continuation_frames_are_joined(self):
        sent = self.em.send_text("chunky " + "y" * 5000, ws_chunk=700)
        ack = self.em.wait_acks(1, message_id=sent["message_id"])[0]
        self.assertEqual((ack["code"], ack["errors"]), (200, []))
        self.d.wait_log(r"handled len=5007 head=chunky y")

    def test_oversized_message_closes_and_reconnects(self):
        before = {c["id"] for c in self.em.connections(True)}
        self.em.send_text("big " + "z" * 200000, retries=0)
        self.d.wait_log(r"lost: the server sent a message above ws\.max_message \(100000 bytes\)")
        wait_until(lambda: {c["id"] for c in self.em.connections(True)} - before, timeout=20,
                   what="a new connection")
        sent = wait_until(lambda: self.send("after-big"), timeout=10, what="an open connection")
        self.assertEqual(self.em.wait_acks(1, message_id=sent["message_id"])[0]["code"], 200)

    def test_oversized_reassembly_is_dropped_unacked(self):
        sent = self.em.send_text("frag " + "q" * 200000, fragments=4, retries=0)
        self.d.wait_log(r"of message %s dropped: reassembled message too large" % sent["message_id"])
        self.assertEqual(self.em.acks(sent["message_id"]), [])
        after = self.em.send_text("still fine")
        self.assertEqual(self.em.wait_acks(1, message_id=after["message_id"])[0]["code"], 200)
        self.assertNotIn("handled len=200005", self.d.log())

    def test_malformed_envelope_acks_500_and_the_gateway_goes_on(self):
        sent = self.em.send_event({"schema": "2.0", "header": "not an object"}, retries=0)
        self.assertEqual(self.em.wait_acks(1, message_id=sent["message_id"])[0]["code"], 500)
        after = self.em.send_text("still here")
        self.assertEqual(self.em.wait_acks(1, message_id=after["message_id"])[0]["code"], 200)

    def send(self, text):
        status, answer = self.em.request("POST", "/_emu/events", {"text": text})
        return answer if status == 200 else None

    def test_answer_after_the_connection_died_is_dropped_then_redelivered(self):
        sent = self.em.send_text("slow-then-kick")
        self.d.wait_log(r"slow handler started")
        self.em.kick()
        self.d.wait_log(r"the connection that delivered message %s is gone" % sent["message_id"])
        # Unacked, the emulator re-delivers on the new connection; dedup answers 200.
        ack = self.em.wait_acks(1, message_id=sent["message_id"], timeout=20)[0]
        self.assertEqual(ack["code"], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
