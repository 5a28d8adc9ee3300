"""The long connection end to end: larkgw run (mode ws) against larkgw emulator. Events
and card callbacks reach the Lua handlers through the WebSocket and come back as acks
that follow docs/protocol.md §1.4."""
import json
import re
import time
import unittest
import uuid

from harness import GatewayCase

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  lark.log.info("handled len=" .. #text .. " head=" .. text:sub(1, 12) ..
                " tail=" .. text:sub(-6))
  if text == "please fail" then error("handler refused on purpose") end
end

function on_p2_card_action_trigger(event)
  lark.log.info("card clicked " .. event.event.action.value.k)
  return { toast = { type = "success", content = "clicked " .. event.event.action.value.k } }
end
'''


def card_envelope(value):
    return {"schema": "2.0",
            "header": {"event_id": uuid.uuid4().hex, "event_type": "card.action.trigger",
                       "create_time": str(int(time.time() * 1000)), "token": TOKEN,
                       "app_id": "cli_emulator", "tenant_key": "t1"},
            "event": {"operator": {"open_id": "ou_1", "tenant_key": "t1"},
                      "token": "c-token",
                      "action": {"tag": "button", "value": {"k": value}},
                      "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}}}


class WsEvents(GatewayCase):
    @classmethod
    def setUpClass(cls):
        cls.em = cls.start_class_emulator(client_config=FAST, verification_token=TOKEN)
        cls.d = cls.start_class_daemon(config=cls.em.gateway_config(), scripts={"bot.lua": SCRIPT})
        cls.em.wait_connections(1, timeout=20)

    @classmethod
    def tearDownClass(cls):
        # stopped here, before the class cleanups, so the check sees the whole log
        cls.d.stop()
        log = cls.d.log()
        for secret in ("emulator-secret", "ticket=", "access_key="):
            assert secret not in log, "%r reached the gateway log" % secret

    def ack_of(self, sent, n=1, timeout=15):
        acks = self.em.wait_acks(n, timeout=timeout, message_id=sent["message_id"])
        for a in acks:
            self.assertEqual(a["errors"], [], a)       # the emulator's §1.4 checks
        return acks

    def test_event_is_handled_and_acked_200_with_biz_rt(self):
        sent = self.em.send_text("hello there")
        ack = self.ack_of(sent)[0]
        self.assertEqual(ack["code"], 200)
        self.assertIsNotNone(ack["biz_rt"])
        self.assertGreaterEqual(int(ack["biz_rt"]), 0)
        self.assertEqual(ack["headers"].get("biz_rt"), str(ack["biz_rt"]))
        self.assertEqual(ack["headers"].get("message_id"), sent["message_id"])
        self.d.wait_log(r"handled len=11 head=hello there")

    def test_handler_error_acks_500(self):
        sent = self.em.send_text("please fail", retries=0)
        ack = self.ack_of(sent)[0]
        self.assertEqual(ack["code"], 500)
        self.d.wait_log(r"handler refused on purpose")

    def test_300kb_event_in_4_fragments_out_of_order(self):
        text = "frag-start-" + "x" * 300000 + "-end"
        sent = self.em.send_text(text, fragments=4, shuffle=True)
        ack = self.ack_of(sent)[0]
        self.assertEqual(ack["code"], 200)
        self.d.wait_log(r"handled len=%d head=frag-start-x tail=xx-end" % len(text))

    def test_same_event_twice_runs_the_handler_once(self):
        sent = self.em.send_text("only once please", duplicate=1)
        acks = self.ack_of(sent, n=2)
        self.assertEqual([a["code"] for a in acks[:2]], [200, 200])
        # the acks can arrive before the log reader has the lines: wait for both outcomes
        self.d.wait_log(r"handled len=\d+ head=only once pl")
        self.d.wait_log(r"duplicate event %s " % re.escape(sent["event_id"]))
        self.assertEqual(len(re.findall(r"handled len=\d+ head=only once pl", self.d.log())), 1)

    def test_card_returns_its_table_in_a_card_frame_and_in_an_event_frame(self):
        for frame_type in ("card", "event"):
            with self.subTest(frame_type=frame_type):
                sent = self.em.send_event(card_envelope(frame_type), frame_type=frame_type)
                ack = self.ack_of(sent)[0]
                self.assertEqual(ack["code"], 200)
                self.assertEqual(json.loads(ack["data"]),
                                 {"toast": {"type": "success", "content": "clicked " + frame_type}})


if __name__ == "__main__":
    unittest.main(verbosity=2)
