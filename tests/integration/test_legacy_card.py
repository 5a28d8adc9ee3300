"""The legacy card request URL (webhook.card_path, default /webhook/card): the emulator
posts old message cards' clicks there, signed with SHA-1(timestamp, nonce, verification
token, body); the click reaches on_p2_card_action_legacy as event type
card.action.legacy, and the returned table is the answer. The unsigned url_verification
is answered; a bad or stale signature is refused; a slow handler answers {} in time and
updates the card afterwards with the click's token."""
import hashlib
import json
import unittest

from harness import GatewayCase, wait_until

TOKEN = "v-token-7c1e"

SCRIPT = r'''
function on_p2_card_action_legacy(event)
  local e = event.event
  lark.log.info("legacy click " .. e.action.value.k .. " by " .. e.open_id ..
                " type=" .. event.header.event_type .. " token_ok=" ..
                tostring(e.token:sub(1, 2) == "c-") .. " header_token=" ..
                tostring(event.header.token))
  if e.action.value.k == "slow" then
    lark.sleep(3)
    local res, err = lark.api.post("interactive/v1/card/update", {
      body = { token = e.token, card = { elements = { { tag = "div",
               text = { tag = "plain_text", content = "done later" } } } } } })
    lark.log.info("late update " .. tostring(res and res.code or err))
    return { toast = { type = "info", content = "too late" } }
  end
  return { toast = { type = "success", content = "got " .. e.action.value.k },
           card = { elements = { { tag = "div", text = { tag = "plain_text", content = "ok" } } } } }
end
'''


class LegacyCard(GatewayCase):
    @classmethod
    def setUpClass(cls):
        cls.em = cls.start_class_emulator(verification_token=TOKEN)
        cfg = cls.em.gateway_config(mode="webhook")
        cls.d = cls.start_class_daemon(config=cfg, scripts={"cards.lua": SCRIPT})
        cls.em.webhook_to(cls.d)

    def click(self, **kw):
        return self.em.legacy_click(**kw)

    def test_url_verification(self):
        a = self.click(event={"type": "url_verification", "challenge": "ch-1", "token": TOKEN},
                       sign=False)
        self.assertEqual((a["status"], a["body"]), (200, {"challenge": "ch-1"}))
        a = self.click(event={"type": "url_verification", "challenge": "ch-2", "token": "forged"},
                       sign=False)
        self.assertEqual(a["status"], 401)

    def test_click_answers_with_the_handlers_table(self):
        a = self.click(action={"tag": "button", "value": {"k": "v1"}}, open_id="ou_clicker")
        self.assertEqual(a["status"], 200, a)
        self.assertEqual(a["body"]["toast"], {"type": "success", "content": "got v1"})
        self.assertEqual(a["body"]["card"]["elements"][0]["text"]["content"], "ok")
        self.d.wait_log(r"legacy click v1 by ou_clicker type=card\.action\.legacy "
                        r"token_ok=true header_token=nil$")

    def test_unsigned_click_is_refused(self):
        a = self.click(action={"value": {"k": "unsigned"}}, sign=False)
        self.assertEqual(a["status"], 401)
        self.assertNotIn("legacy click unsigned", self.d.log())

    def test_stale_click_is_refused(self):
        a = self.click(action={"value": {"k": "stale"}}, timestamp=1000)
        self.assertEqual(a["status"], 401)
        self.assertIn("max_skew_s", json.dumps(a["body"]))

    def test_bad_signature_is_refused(self):
        body = json.dumps({"open_id": "ou_x", "token": "c-x", "action": {"value": {"k": "forged"}}})
        ts, nonce = "1732406400", "n"
        wrong = hashlib.sha1((ts + nonce + "not-the-token" + body).encode()).hexdigest()
        status, _, _ = self.d.post(body, path="/webhook/card", headers={
            "X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": wrong})
        self.assertEqual(status, 401)
        self.assertNotIn("legacy click forged", self.d.log())

    def test_slow_click_answers_empty_then_updates_later(self):
        a = self.click(action={"value": {"k": "slow"}})
        self.assertEqual((a["status"], a["body"]), (200, {}))
        self.d.wait_log(r"late update 0$", timeout=15)
        updates = self.em.card_updates()
        mine = [u for u in updates if u["token"] == a["token"]]
        self.assertEqual(len(mine), 1, updates)
        self.assertEqual(mine[0]["card"]["elements"][0]["text"]["content"], "done later")


class CardPathConfig(GatewayCase):
    def test_card_path_must_differ_from_the_event_path(self):
        code, log = self.start_daemon_failing(config={"webhook": {"card_path": "/webhook/event"}})
        self.assertNotEqual(code, 0)
        self.assertIn("webhook.card_path", log)

    def test_card_path_off(self):
        d = self.start_daemon(config={"webhook": {"card_path": ""}})
        status, _, _ = d.post("{}", path="/webhook/card")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main(verbosity=2)
