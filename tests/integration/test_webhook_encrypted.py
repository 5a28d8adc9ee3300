"""The webhook with an encrypt key: every answer it gives, against the real daemon.

Bodies are encrypted with the openssl command line and signed with hashlib
(lark_crypto), or taken from the fixtures in tests/data/webhook."""
import json
import os
import unittest

import lark_crypto as lc
from harness import DATA, GatewayCase, http

FIXTURES = os.path.join(DATA, "webhook")

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local text = lark.json.decode(msg.content).text
  lark.log.info("saw message " .. msg.message_id .. " event " .. event.header.event_id ..
                " text " .. text)
  if text == "please raise" then error("raised on purpose") end
  if text == "please answer" then return { card = "ok", n = 7 } end
end
'''


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def fixture_headers():
    out = {"Content-Type": "application/json"}
    for line in fixture("event.encrypted.headers").decode().splitlines():
        if line.strip():
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


class EncryptedWebhook(GatewayCase):
    """One daemon with the replay window off (max_skew_s = 0), so the fixtures' old
    timestamp passes."""

    @classmethod
    def setUpClass(cls):
        cls.d = cls.start_class_daemon(config={"encrypt_key": lc.ENCRYPT_KEY,
                                                "webhook": {"max_skew_s": 0, "max_body": 8192},
                                                "log": {"level": "info"}},
                                        scripts={"seen.lua": SCRIPT})

    @classmethod
    def tearDownClass(cls):
        log = cls.d.log()
        for secret in (lc.ENCRYPT_KEY, lc.TOKEN, fixture_headers()["X-Lark-Signature"]):
            assert secret not in log, "a secret reached the log: %s" % secret
        cls.d.stop()

    def post(self, body, headers=None, path=None):
        return self.d.post(body, headers=headers, path=path)

    def assert_json(self, headers, body):
        self.assertEqual(headers.get("content-type"), "application/json")
        return json.loads(body)

    def barrier(self):
        """Runs one fresh event through the handler: after its log line, every earlier
        handler run has been logged too (one loop, in order)."""
        env = lc.message_event("barrier")
        status, _, _ = self.post(*lc.signed_encrypted(env))
        self.assertEqual(status, 200)
        self.d.wait_log(r"event %s text barrier" % env["header"]["event_id"])

    def test_fixture_event_reaches_handler_once(self):
        status, headers, body = self.post(fixture("event.encrypted.body"), fixture_headers())
        self.assertEqual(status, 200, body)
        self.assertEqual(self.assert_json(headers, body), {"msg": "success"})
        self.d.wait_log(r"seen\.lua.*saw message om_5ce6d572455d361153b7cb51da133945 "
                        r"event f7984f25108f8137722bb63cee927e66 text @_user_1 你好，世界 hello")
        # the platform retries: same event_id, and same message_id with a new event_id
        status, headers, body = self.post(fixture("event.encrypted.body"), fixture_headers())
        self.assertEqual((status, self.assert_json(headers, body)), (200, {"msg": "success"}))
        env = json.loads(fixture("event.plain.json"))
        env["header"]["event_id"] = "another-delivery-of-the-same-message"
        status, _, body = self.post(*lc.signed_encrypted(env))
        self.assertEqual(status, 200, body)
        self.barrier()
        log = self.d.log()
        self.assertEqual(log.count("saw message om_5ce6d572455d361153b7cb51da133945"), 1, log)

    def test_fresh_event(self):
        env = lc.message_event("fresh one")
        status, headers, body = self.post(*lc.signed_encrypted(env))
        self.assertEqual((status, self.assert_json(headers, body)), (200, {"msg": "success"}))
        self.d.wait_log(r"event %s text fresh one" % env["header"]["event_id"])

    def test_handler_raises_500(self):
        env = lc.message_event("please raise")
        status, headers, body = self.post(*lc.signed_encrypted(env))
        self.assertEqual(status, 500, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.d.wait_log(r"seen\.lua:\d+:.*raised on purpose")

    def test_handler_table_is_the_answer(self):
        env = lc.message_event("please answer")
        status, headers, body = self.post(*lc.signed_encrypted(env))
        self.assertEqual(status, 200, body)
        self.assertEqual(self.assert_json(headers, body), {"card": "ok", "n": 7})

    def test_encrypted_challenge(self):
        status, headers, body = self.post(fixture("challenge.encrypted.body"),
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.assert_json(headers, body), {"challenge": "ajls384kdjx98XX"})

    def test_challenge_wrong_token(self):
        body = lc.encrypt(json.dumps(lc.challenge(token="not-the-token")))
        status, headers, _ = self.post(body, {"Content-Type": "application/json"})
        self.assertEqual(status, 401)
        self.assertEqual(headers.get("content-type"), "application/json")

    def test_event_wrong_token(self):
        status, _, _ = self.post(*lc.signed_encrypted(lc.message_event(token="not-the-token")))
        self.assertEqual(status, 401)
        # the dispatcher's refusals are logged by the webhook, which knows the peer
        self.d.wait_log(r'webhook: refused 401 from 127\.0\.0\.1:\d+: \{"msg":')

    def test_unsigned_event_refused(self):
        """Only url_verification comes unsigned; an unsigned event is a forgery."""
        body = lc.encrypt(json.dumps(lc.message_event("unsigned")))
        status, _, _ = self.post(body, {"Content-Type": "application/json"})
        self.assertEqual(status, 401)

    def test_signature_refusals(self):
        body, headers = lc.signed_encrypted(lc.message_event("tampered"))
        cases = {
            "flipped signature": dict(headers, **{"X-Lark-Signature": "0" * 64}),
            "wrong key": lc.signed_headers(body, encrypt_key="another-key"),
            "no nonce": {k: v for k, v in headers.items() if k != "X-Lark-Request-Nonce"},
            "no signature": {k: v for k, v in headers.items() if k != "X-Lark-Signature"},
            "bad timestamp": dict(headers, **{"X-Lark-Request-Timestamp": "soon"}),
        }
        for what, h in cases.items():
            status, rh, rb = self.post(body, h)
            self.assertEqual(status, 401, what)
            self.assertEqual(rh.get("content-type"), "application/json", what)
            self.assertIn("msg", json.loads(rb), what)
        status, _, _ = self.post(body + b" ", headers)
        self.assertEqual(status, 401, "a byte added after signing")
        self.d.wait_log(r"webhook: refused 401 from 127\.0\.0\.1:\d+: bad signature")
        self.d.wait_log(r"webhook: refused 401 from 127\.0\.0\.1:\d+: incomplete signature headers")

    def test_malformed_bodies_400(self):
        iv = bytes(range(16))
        bad_padding = iv + bytes.fromhex("5be46573e9291b36e24e786030f9d72c")
        cases = {
            "not JSON": b"{not json",
            "no encrypt": b'{"hello": "world"}',
            "encrypt not a string": b'{"encrypt": 42}',
            "bad base64": b'{"encrypt": "###notbase64###"}',
            "bad length": json.dumps({"encrypt": lc.base64.b64encode(iv + b"x" * 20).decode()}).encode(),
            "bad padding": json.dumps({"encrypt": lc.base64.b64encode(bad_padding).decode()}).encode(),
            "decrypts to non-JSON": lc.encrypt(b"this is not json"),
        }
        for what, body in cases.items():
            status, headers, rb = self.post(body, lc.signed_headers(body))
            self.assertEqual(status, 400, "%s: %s" % (what, rb))
            self.assertEqual(headers.get("content-type"), "application/json", what)
        self.d.wait_log(r"webhook: refused 400 from 127\.0\.0\.1:\d+: .*base64")

    def test_too_large_413(self):
        body = b'{"encrypt": "' + b"A" * 9000 + b'"}'
        status, _, _ = self.post(body, lc.signed_headers(body))
        self.assertEqual(status, 413)

    def test_wrong_method_405(self):
        status, headers, body = http(self.d.webhook_port, "GET", "/webhook/event")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "POST")
        self.assert_json(headers, body)

    def test_other_path_404(self):
        body, headers = lc.signed_encrypted(lc.message_event("wrong door"))
        status, rh, rb = self.post(body, headers, path="/webhook/other")
        self.assertEqual(status, 404)
        self.assert_json(rh, rb)
        self.d.wait_log(r"webhook: refused 404 from 127\.0\.0\.1:\d+")


class ReplayWindow(GatewayCase):
    """The default window (300 s) refuses the fixtures' 2024 timestamp."""

    def test_stale_timestamp_refused(self):
        d = self.start_daemon(config={"encrypt_key": lc.ENCRYPT_KEY}, scripts={"seen.lua": SCRIPT})
        status, headers, body = d.post(fixture("event.encrypted.body"), fixture_headers())
        self.assertEqual(status, 401, body)
        self.assertIn("stale", json.loads(body)["msg"])
        d.wait_log(r"webhook: refused 401 from 127\.0\.0\.1:\d+: stale")
        env = lc.message_event("on time")
        status, _, _ = d.post(*lc.signed_encrypted(env))
        self.assertEqual(status, 200)
        old = lc.signed_encrypted(lc.message_event("late"), timestamp=int(lc.time.time()) - 301)
        status, _, _ = d.post(*old)
        self.assertEqual(status, 401)
        d.wait_log(r"event %s text on time" % env["header"]["event_id"])
        self.assertNotIn("text late", d.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
