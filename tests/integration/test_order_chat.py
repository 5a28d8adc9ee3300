"""Per-chat order end to end (order = "chat", the default): two messages of one chat are
answered in order, while a message of another chat is not held up behind them. The
first handler waits until the other chat's handler has run, so a gateway that held the
other chat would never finish this test."""
import unittest

from harness import GatewayCase
from log_secrets import assert_no_secrets

TOKEN = "v-token-7c1e"

SCRIPT = r'''
other_done = false

function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local text = lark.json.decode(msg.content).text
  if text == "first" then
    while not other_done do lark.sleep(0.02) end
  elseif text == "other" then
    other_done = true
  end
  local res, err = lark.im.reply(msg.message_id, "text", { text = text })
  if not res then error(err) end
end
'''


class ChatOrder(GatewayCase):
    def run_three(self, order):
        em = self.start_emulator(verification_token=TOKEN)
        cfg = em.gateway_config(order=order, limits={"handler_max_s": 20})
        d = self.start_daemon(config=cfg, scripts={"bot.lua": SCRIPT})
        em.wait_connections(1, timeout=20)
        em.send_text("first", chat_id="oc_one", im_message_id="om_first")
        em.send_text("second", chat_id="oc_one", im_message_id="om_second")
        em.send_text("other", chat_id="oc_two", im_message_id="om_other")
        calls = em.wait_api_calls(3, path="/open-apis/im/v1/messages/", timeout=30)
        order_of = {c["path"].split("/")[-2]: c["id"] for c in calls}
        self.assertEqual(set(order_of), {"om_first", "om_second", "om_other"})
        d.wait_log(r"dispatch: event \S+ waits for chat oc_one" if order == "chat"
                   else r"gateway: ready")
        d.stop()
        assert_no_secrets(em, d.log())
        return order_of

    def test_one_chat_in_order_other_chat_not_held(self):
        ids = self.run_three("chat")
        self.assertLess(ids["om_first"], ids["om_second"])   # never overtakes
        self.assertLess(ids["om_other"], ids["om_first"])    # the other chat went ahead

    def test_order_none_lets_a_chat_overtake(self):
        ids = self.run_three("none")
        self.assertLess(ids["om_second"], ids["om_first"])


if __name__ == "__main__":
    unittest.main()
