"""lark.api and lark.im end to end: larkgw run against larkgw emulator. A marketplace app
gets its app_ticket by webhook, then answers each tenant's messages with that tenant's
own token; refused tokens are refreshed (whatever the HTTP status), a 429 is waited out,
a failed call reaches the script as nil, err; and no secret or token reaches the log."""
import json
import re
import unittest

from harness import GatewayCase
from log_secrets import assert_no_secrets

TOKEN = "v-token-7c1e"
KEY = "enc-key-3f9a"
REPLY = re.compile(r"^/open-apis/im/v1/messages/(om_[\w-]+)/reply$")

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local text = lark.json.decode(msg.content).text
  if text == "fail" then
    local res, err = lark.im.send("chat_id", "not-a-chat", "text", { text = "x" })
    lark.log.info("failed call: res=" .. tostring(res) .. " code=" .. err.code ..
                  " http=" .. err.http_status .. " log_id=" .. err.log_id)
    return
  end
  local res, err = lark.im.reply(msg.message_id, "text", { text = "echo: " .. text })
  if not res then error(err) end
  lark.log.info("replied to " .. msg.message_id)
end
'''


def replies(em, message_id):
    """The recorded reply calls to one message, oldest first."""
    return [c for c in em.api_calls("/open-apis/im/v1/messages/")
            if REPLY.match(c["path"]) and REPLY.match(c["path"]).group(1) == message_id]


class OpenApiFromLua(GatewayCase):
    @classmethod
    def setUpClass(cls):
        cls.em = cls.start_class_emulator(verification_token=TOKEN, encrypt_key=KEY)
        cfg = cls.em.gateway_config(mode="webhook", app_type="marketplace")
        cls.d = cls.start_class_daemon(config=cfg, scripts={"bot.lua": SCRIPT})
        cls.em.webhook_to(cls.d)
        cls.tickets = [cls.em.push_app_ticket()["app_ticket"]]
        cls.d.wait_log(r"dispatch: app_ticket event \S+ received$")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        n = assert_no_secrets(cls.em, cls.d.log(), [KEY] + cls.tickets)
        assert n >= 8, n    # secret, header, key, ticket, app token, 3+ tenant tokens

    _n = 0

    def send(self, text, tenant, chat="oc_chat1"):
        OpenApiFromLua._n += 1
        mid = "om_%s_%d" % (tenant, OpenApiFromLua._n)
        self.em.send_text(text, tenant_key=tenant, chat_id=chat, im_message_id=mid,
                          delivery="webhook")
        return mid

    def replied(self, mid, n=1):
        self.d.wait_log(r"replied to %s$" % mid, timeout=20)
        calls = replies(self.em, mid)
        self.assertEqual(len(calls), n, calls)
        return calls

    def test_each_tenant_gets_its_own_token(self):
        a = self.send("hello a", "tenant_a", chat="oc_a")
        b = self.send("hello b", "tenant_b", chat="oc_b")
        ca, cb = self.replied(a)[0], self.replied(b)[0]
        self.assertEqual((ca["token_kind"], ca["tenant_key"], ca["code"]), ("tenant", "tenant_a", 0))
        self.assertEqual((cb["token_kind"], cb["tenant_key"], cb["code"]), ("tenant", "tenant_b", 0))
        self.assertNotEqual(ca["token"], cb["token"])
        self.assertEqual(json.loads(ca["body"]["content"]), {"text": "echo: hello a"})
        self.assertEqual(ca["body"]["msg_type"], "text")

    def check_refresh(self, tenant, status, code):
        first = self.replied(self.send("warm up", tenant))[0]
        self.assertEqual(self.em.invalidate_tokens(kind="tenant", tenant_key=tenant, code=code,
                                                   status=status), 1)
        calls = self.replied(self.send("after invalidation", tenant), n=2)
        self.assertEqual((calls[0]["token"], calls[0]["status"], calls[0]["code"]),
                         (first["token"], status, code))
        self.assertEqual(calls[1]["code"], 0)
        self.assertNotEqual(calls[1]["token"], first["token"])
        self.assertEqual(calls[1]["tenant_key"], tenant)

    def test_invalid_token_refreshed_http_200(self):
        self.check_refresh("tenant_c", 200, 99991663)

    def test_invalid_token_refreshed_http_401(self):
        self.check_refresh("tenant_d", 401, 99991671)

    def test_rate_limited_call_is_retried(self):
        self.replied(self.send("warm up", "tenant_e"))
        self.em.openapi_settings(rate_limit={"count": 1, "reset_s": 1, "path": "/open-apis/im/"})
        calls = self.replied(self.send("limited", "tenant_e"), n=2)
        self.assertEqual((calls[0]["status"], calls[0]["code"]), (429, 99991400))
        self.assertEqual(calls[1]["code"], 0)
        self.d.wait_log(r"rate limited \(log_id \S+\); retrying in 1000 ms")

    def test_failed_call_is_nil_err(self):
        self.send("fail", "tenant_a")
        m = self.d.wait_log(r"failed call: res=nil code=230001 http=400 log_id=\S+")
        self.assertTrue(m)


if __name__ == "__main__":
    unittest.main()
