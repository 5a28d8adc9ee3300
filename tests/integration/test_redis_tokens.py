"""Tokens and the app_ticket shared through Redis: one token fetch for the whole
cluster, a refused token replaced once for all, and a marketplace app_ticket pushed to
one gateway serving another. Events are posted straight to each gateway's webhook."""
import json
import re
import threading
import unittest

import lark_crypto as lc
from harness import GatewayCase, wait_until
from log_secrets import assert_no_secrets
from redis_server import start_redis

TOKEN = "v-token-7c1e"

SCRIPT = r'''
function on_p2_message_receive_v1(ev)
  local msg = ev.event.message
  local res, err = lark.im.reply(msg.message_id, "text", { text = "ok" })
  if not res then error(tostring(err and err.msg)) end
  lark.log.info("replied to " .. msg.message_id)
end
'''

TENANT_FETCH = "/open-apis/auth/v3/tenant_access_token"


class SharedTokens(GatewayCase):
    def cluster(self, n, **over):
        rs = start_redis(self)
        em = self.start_emulator(verification_token=TOKEN)
        cfg = em.gateway_config(mode="webhook", redis={"url": rs.url}, **over)
        gws = [self.start_daemon(config=cfg, scripts={"bot.lua": SCRIPT}) for _ in range(n)]
        return rs, em, gws

    def reply_via(self, d):
        env = lc.message_event(text="hi")
        status, _, body = d.post(json.dumps(env))
        self.assertEqual(status, 200, body)
        d.wait_log(r"replied to %s$" % env["event"]["message"]["message_id"], timeout=20)

    def fetches(self, em, path=TENANT_FETCH):
        return len(em.api_calls(path=path))

    def test_one_fetch_for_the_cluster_and_invalidation_seen_by_all(self):
        rs, em, gws = self.cluster(3)
        threads = [threading.Thread(target=self.reply_via, args=(d,)) for d in gws]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        for d in gws:
            d.wait_log(r"replied to ")
        self.assertEqual(self.fetches(em), 1)
        key = "larkgw:token:%s:tenant:" % em.app_id
        self.assertGreater(rs.command("PTTL", key), 60000)
        # the platform refuses the token: one gateway replaces it, the others take the
        # replacement from Redis
        em.invalidate_tokens("all")
        self.reply_via(gws[0])
        self.assertEqual(self.fetches(em), 2)
        self.reply_via(gws[1])
        self.reply_via(gws[2])
        self.assertEqual(self.fetches(em), 2)
        for d in gws:
            d.stop()
            assert_no_secrets(em, d.log())

    def test_marketplace_ticket_pushed_to_one_serves_another(self):
        rs, em, (a, b) = self.cluster(2, app_type="marketplace")
        em.webhook_to(a)
        ticket = em.push_app_ticket()["app_ticket"]
        a.wait_log(r"dispatch: app_ticket event \S+ received$")
        wait_until(lambda: rs.command("EXISTS", "larkgw:ticket:%s" % em.app_id) == 1,
                   what="ticket in redis")
        self.reply_via(b)      # b never received a ticket itself
        b.wait_log(r"openapi: app_ticket taken from redis")
        self.assertNotIn("app_ticket event", b.log())
        for d in (a, b):
            d.stop()
            assert_no_secrets(em, d.log(), [ticket])


if __name__ == "__main__":
    unittest.main()
