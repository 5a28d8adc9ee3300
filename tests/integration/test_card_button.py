"""scripts/examples/card_button.lua, unmodified, against the emulator over the long
connection: "/card" gets a card (JSON 2.0) with two buttons; a click on Approve is
answered within the 3 s with a toast and a new card; a click on Slow report is answered
{} in time and the card is updated afterwards with the click's token."""
import json
import os
import time
import unittest
import uuid

from harness import SRC, GatewayCase, wait_until

TOKEN = "v-token-7c1e"


def example(name):
    with open(os.path.join(SRC, "scripts", "examples", name)) as f:
        return f.read()


def click(op, card_token):
    return {
        "schema": "2.0",
        "header": {"event_id": uuid.uuid4().hex, "event_type": "card.action.trigger",
                   "create_time": str(int(time.time() * 1000)), "token": TOKEN,
                   "app_id": "cli_e3a1a70000000001", "tenant_key": "tenant_emulator"},
        "event": {"operator": {"open_id": "ou_clicker", "tenant_key": "tenant_emulator"},
                  "token": card_token,
                  "action": {"tag": "button", "value": {"op": op}},
                  "context": {"open_message_id": "om_card", "open_chat_id": "oc_card"}},
    }


class CardButton(GatewayCase):
    @classmethod
    def setUpClass(cls):
        cls.em = cls.start_class_emulator(verification_token=TOKEN)
        cls.d = cls.start_class_daemon(config=cls.em.gateway_config(),
                                       scripts={"card_button.lua": example("card_button.lua")})
        cls.em.wait_connections(1, timeout=20)

    def answer_to(self, op, card_token):
        sent = self.em.send_event(click(op, card_token), frame_type="card")
        ack = self.em.wait_acks(1, message_id=sent["message_id"], timeout=10)[0]
        self.assertEqual(ack["code"], 200, ack)
        self.assertEqual(ack["errors"], [], ack)
        return json.loads(ack["data"]), ack

    def test_card_command_sends_buttons(self):
        self.em.send_text("/card", im_message_id="om_ask_card")
        calls = self.em.wait_api_calls(1, path="/open-apis/im/v1/messages/om_ask_card/reply",
                                       answered=True)
        body = calls[0]["body"]
        self.assertEqual((calls[0]["code"], body["msg_type"]), (0, "interactive"))
        card = json.loads(body["content"])
        self.assertEqual(card["schema"], "2.0")
        self.assertEqual(card["header"]["title"]["content"], "Card buttons")
        columns = [e for e in card["body"]["elements"] if e["tag"] == "column_set"][0]["columns"]
        buttons = [c["elements"][0] for c in columns]
        self.assertEqual([b["text"]["content"] for b in buttons], ["Approve", "Slow report"])
        self.assertEqual(buttons[0]["behaviors"], [{"type": "callback", "value": {"op": "approve"}}])

    def test_quick_click_answers_toast_and_card(self):
        answer, _ = self.answer_to("approve", "c-quick")
        self.assertEqual(answer["toast"], {"type": "success", "content": "Approved"})
        self.assertEqual(answer["card"]["type"], "raw")
        data = answer["card"]["data"]
        self.assertEqual(data["header"]["title"]["content"], "Approved")
        self.assertIn("ou_clicker", data["body"]["elements"][0]["content"])

    def test_slow_click_answers_empty_then_updates(self):
        answer, ack = self.answer_to("report", "c-slow-1")
        self.assertEqual(answer, {})
        updates = wait_until(lambda: [u for u in self.em.card_updates()
                                      if u["token"] == "c-slow-1"] or None,
                             timeout=15, what="the delayed card update")
        self.assertEqual(len(updates), 1)
        card = updates[0]["card"]
        self.assertEqual(card["header"]["title"]["content"], "Report")
        self.assertEqual(card["body"]["elements"][0]["content"], "The report is ready.")


if __name__ == "__main__":
    unittest.main(verbosity=2)
