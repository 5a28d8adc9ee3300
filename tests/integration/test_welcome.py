"""scripts/examples/welcome.lua, unmodified, against the emulator: the bot added to a
chat (im.chat.member.bot.added_v1) posts a welcome card to that chat."""
import json
import os
import time
import unittest
import uuid

from harness import SRC, GatewayCase

TOKEN = "v-token-7c1e"


def bot_added(chat_id, name):
    return {
        "schema": "2.0",
        "header": {"event_id": uuid.uuid4().hex, "event_type": "im.chat.member.bot.added_v1",
                   "create_time": str(int(time.time() * 1000)), "token": TOKEN,
                   "app_id": "cli_e3a1a70000000001", "tenant_key": "tenant_emulator"},
        "event": {"chat_id": chat_id, "name": name, "external": False,
                  "operator_id": {"open_id": "ou_adder", "user_id": "adder", "union_id": "on_a"},
                  "operator_tenant_key": "tenant_emulator"},
    }


class Welcome(GatewayCase):
    def test_posts_a_card_to_the_new_chat(self):
        em = self.start_emulator(verification_token=TOKEN)
        with open(os.path.join(SRC, "scripts", "examples", "welcome.lua")) as f:
            d = self.start_daemon(config=em.gateway_config(), scripts={"welcome.lua": f.read()})
        em.wait_connections(1, timeout=20)
        em.send_event(bot_added("oc_welcome_1", "Team Rocket"))
        em.send_event(bot_added("oc_welcome_2", ""))
        d.wait_log(r"welcomed chat oc_welcome_2$")
        d.wait_log(r"welcomed chat oc_welcome_1$")
        sends = [c for c in em.api_calls("/open-apis/im/v1/messages")
                 if c["path"] == "/open-apis/im/v1/messages"]
        by_chat = {c["body"]["receive_id"]: c for c in sends}
        self.assertEqual(set(by_chat), {"oc_welcome_1", "oc_welcome_2"})
        for chat, title in (("oc_welcome_1", "Hello, Team Rocket!"),
                            ("oc_welcome_2", "Hello, this chat!")):
            c = by_chat[chat]
            self.assertEqual((c["code"], c["query"]["receive_id_type"], c["body"]["msg_type"]),
                             (0, "chat_id", "interactive"))
            card = json.loads(c["body"]["content"])
            self.assertEqual(card["header"]["title"]["content"], title)
            self.assertIn("/help", card["body"]["elements"][0]["content"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
