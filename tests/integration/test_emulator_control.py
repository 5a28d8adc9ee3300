"""The emulator's control API, its HTTP server's bounds, webhook delivery (plain,
encrypted, signed) and `larkgw emulator send`."""
import base64
import hashlib
import json
import socket
import subprocess
import unittest

from emulator import Emulator, WebhookReceiver
from harness import BIN, http, wait_until


def Receiver(answers=None):
    """A webhook endpoint on loopback, at a path with a query the emulator must keep."""
    return WebhookReceiver(answers, path="/hook?x=1")


def decrypt(encrypt_key, b64):
    raw = base64.b64decode(b64)
    key = hashlib.sha256(encrypt_key.encode()).hexdigest()
    out = subprocess.run(["openssl", "enc", "-d", "-aes-256-cbc", "-K", key, "-iv", raw[:16].hex()],
                         input=raw[16:], capture_output=True, check=True)
    return out.stdout


class ControlApi(unittest.TestCase):
    def test_bad_requests_are_400_with_a_reason(self):
        with Emulator() as em:
            for body in ({"text": 5}, {"text": "a", "fragments": 0}, {"text": "a", "raw": "b"},
                         {"event": []}, {"text": "a", "frame_type": "x"},
                         {"text": "a", "delivery": "carrier pigeon"}, {"text": "a", "shuffle": 1}):
                status, answer = em.request("POST", "/_emu/events", body)
                self.assertEqual(status, 400, body)
                self.assertIn("error", answer)
            status, _, raw = http(em.port, "POST", "/_emu/events", body=b"{nope")
            self.assertEqual(status, 400)
            self.assertEqual(em.request("POST", "/_emu/silence", {})[0], 400)
            self.assertEqual(em.request("GET", "/_emu/nothing")[0], 404)
            self.assertEqual(em.request("PUT", "/_emu/acks")[0], 405)
            self.assertEqual(em.request("GET", "/nowhere")[0], 404)

    def test_acks_can_be_cleared(self):
        with Emulator() as em:
            self.assertEqual(em.acks(), [])
            self.assertEqual(em.clear_acks(), 0)

    def test_settings(self):
        with Emulator() as em:
            em.settings(redeliver_ms=100, retries=1, webhook="http://127.0.0.1:1/x",
                        verification_token="tok")
            self.assertEqual(em.request("POST", "/_emu/settings", {"retries": -1})[0], 400)
            self.assertEqual(em.request("POST", "/_emu/settings", {"webhook": 3})[0], 400)


class HttpServer(unittest.TestCase):
    def raw(self, port, data):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk

    def test_bounds_and_malformed_heads(self):
        with Emulator() as em:
            big_head = b"GET /_emu/stats HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"
            self.assertTrue(self.raw(em.port, big_head).startswith(b"HTTP/1.1 431"))
            huge_body = b"POST /_emu/events HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n"
            self.assertTrue(self.raw(em.port, huge_body).startswith(b"HTTP/1.1 413"))
            chunked = b"POST /_emu/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            self.assertTrue(self.raw(em.port, chunked).startswith(b"HTTP/1.1 501"))
            self.assertTrue(self.raw(em.port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400"))
            self.assertTrue(self.raw(em.port, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505"))
            # the log line is read by another thread: wait for it, bounded
            em.wait_log(r"emulator: refused 431 from 127\.0\.0\.1:\d+: request head too large")
            self.assertEqual(em.stats()["events"], 0)   # still serving

    def test_keep_alive_and_pipelining(self):
        with Emulator() as em:
            req = b"GET /_emu/stats HTTP/1.1\r\nHost: x\r\n\r\n"
            out = self.raw(em.port, req + req + req.replace(b"Host: x", b"Connection: close"))
            self.assertEqual(out.count(b"HTTP/1.1 200"), 3)


class Webhook(unittest.TestCase):
    def test_plain_delivery_and_answer_recorded(self):
        rx = Receiver([(200, '{"msg":"success"}')])
        try:
            with Emulator(webhook=rx.url) as em:
                sent = em.send_text("by hook", delivery="webhook")
                path, headers, body = rx.next()
                self.assertEqual(path, "/hook?x=1")
                self.assertEqual(headers["content-type"].split(";")[0], "application/json")
                self.assertNotIn("x-lark-signature", headers)
                self.assertEqual(json.loads(body)["header"]["event_id"], sent["event_id"])
                ack = em.wait_acks(1)[0]
                self.assertEqual((ack["delivery"], ack["code"], ack["message_id"], ack["conn"]),
                                 ("webhook", 200, sent["message_id"], None))
                self.assertEqual(json.loads(ack["data"]), {"msg": "success"})
        finally:
            rx.close()

    def test_encrypted_and_signed(self):
        rx = Receiver()
        try:
            with Emulator(webhook=rx.url, encrypt_key="k-123", verification_token="vt") as em:
                em.send_text("secret", delivery="webhook")
                _, headers, body = rx.next()
                ts, nonce = headers["x-lark-request-timestamp"], headers["x-lark-request-nonce"]
                want = hashlib.sha256((ts + nonce + "k-123").encode() + body).hexdigest()
                self.assertEqual(headers["x-lark-signature"], want)
                env = json.loads(decrypt("k-123", json.loads(body)["encrypt"]))
                self.assertEqual(env["header"]["token"], "vt")
                self.assertEqual(json.loads(env["event"]["message"]["content"]), {"text": "secret"})
                self.assertNotIn("k-123", em.log())
        finally:
            rx.close()

    def test_non_2xx_is_redelivered(self):
        rx = Receiver([(500, "{}"), (200, "{}")])
        try:
            with Emulator(webhook=rx.url, redeliver_ms=100) as em:
                sent = em.send_text("retry me", delivery="webhook")
                first, second = rx.next()[2], rx.next()[2]
                self.assertEqual(first, second)
                acks = em.wait_acks(2)
                # the re-delivery timer runs from the first send, so on a loaded machine
                # the second answer can be recorded before the first: compare as sets
                self.assertEqual(sorted(a["code"] for a in acks), [200, 500])
                self.assertEqual({a["message_id"] for a in acks}, {sent["message_id"]})
                wait_until(lambda: em.stats()["pending"] == 0, what="event settled")
        finally:
            rx.close()

    def test_unreachable_webhook_is_recorded(self):
        with Emulator(webhook="http://127.0.0.1:1/x", redeliver_ms=60000) as em:
            em.send_text("nobody home", delivery="webhook")
            ack = em.wait_acks(1)[0]
            self.assertEqual(ack["code"], 0)
            self.assertTrue(ack["errors"])

    def test_no_webhook_url(self):
        with Emulator() as em:
            status, _ = em.request("POST", "/_emu/events", {"text": "x", "delivery": "webhook"})
            self.assertEqual(status, 400)


class SendCli(unittest.TestCase):
    def test_send_text_reaches_a_client(self):
        with Emulator() as em, em.connect() as ws:
            out = subprocess.run([BIN, "emulator", "send", "--to", "127.0.0.1:%d" % em.port,
                                  "--text", "from the cli", "--chat", "oc_cli"],
                                 capture_output=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            answer = json.loads(out.stdout)
            f = ws.recv_frame()
            self.assertEqual(f.header("message_id"), answer["message_id"])
            self.assertEqual(json.loads(f.payload)["event"]["message"]["chat_id"], "oc_cli")

    def test_send_without_client_fails(self):
        with Emulator() as em:
            out = subprocess.run([BIN, "emulator", "send", "--to", "127.0.0.1:%d" % em.port,
                                  "--text", "x"], capture_output=True, timeout=30)
            self.assertEqual(out.returncode, 1)
            self.assertIn(b"no client connected", out.stdout)

    def test_bad_usage(self):
        out = subprocess.run([BIN, "emulator", "send", "--bogus"], capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        out = subprocess.run([BIN, "emulator", "--bogus", "1"], capture_output=True, timeout=30)
        self.assertEqual(out.returncode, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
