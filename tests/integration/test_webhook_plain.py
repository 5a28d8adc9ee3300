"""The webhook without an encrypt key (plain JSON bodies), and the startup checks:
refusal without a verification token, the warning without an encrypt key,
webhook.insecure."""
import json
import os
import unittest

import lark_crypto as lc
from harness import DATA, GatewayCase

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  lark.log.info("plain saw " .. event.header.event_id)
end
'''


def fixture(name):
    with open(os.path.join(DATA, "webhook", name), "rb") as f:
        return f.read()


class PlainWebhook(GatewayCase):

    def test_plain_mode(self):
        d = self.start_daemon(scripts={"plain.lua": SCRIPT})
        d.wait_log(r"WARN.*webhook: no encrypt_key")
        status, headers, body = d.post(fixture("challenge.plain.json"))
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(json.loads(body), {"challenge": "ajls384kdjx98XX"})

        status, _, _ = d.post(json.dumps(lc.challenge(token="forged")))
        self.assertEqual(status, 401)

        status, headers, body = d.post(fixture("event.plain.json"))
        self.assertEqual((status, json.loads(body)), (200, {"msg": "success"}))
        d.wait_log(r"plain saw f7984f25108f8137722bb63cee927e66")

        env = lc.message_event(token="forged")
        status, _, _ = d.post(json.dumps(env))
        self.assertEqual(status, 401)

        status, headers, body = d.post(fixture("event.encrypted.body"))
        self.assertEqual(status, 400)
        self.assertIn("no encrypt_key", json.loads(body)["msg"])
        d.wait_log(r"webhook: refused 400 from 127\.0\.0\.1:\d+: encrypted body")

        for bad in (b"{oops", b"[1, 2]", b""):
            status, headers, body = d.post(bad)
            self.assertEqual(status, 400, bad)
            self.assertEqual(headers.get("content-type"), "application/json")

        self.assertNotIn("plain saw " + env["header"]["event_id"], d.log())

    def test_refuses_to_start_without_token(self):
        code, log = self.start_daemon_failing(
            config={"verification_token": None, "encrypt_key": lc.ENCRYPT_KEY})
        self.assertNotEqual(code, 0, log)
        self.assertRegex(log, r"webhook: refusing to start: no verification_token")
        self.assertIn("webhook.insecure", log)

    def test_insecure_starts_without_token(self):
        config = {"verification_token": None, "webhook": {"insecure": True}}
        d = self.start_daemon(config=config, scripts={"plain.lua": SCRIPT})
        d.wait_log(r"WARN.*webhook: webhook.insecure = true")
        env = lc.message_event(token="anything")
        status, _, body = d.post(json.dumps(env))
        self.assertEqual(status, 200, body)
        d.wait_log(r"plain saw " + env["header"]["event_id"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
