"""The webhook under a concurrent burst, and clients that misbehave mid-request."""
import http.client as httplib
import json
import queue
import socket
import threading
import unittest

import lark_crypto as lc
from harness import GatewayCase, wait_until

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  lark.log.info("burst saw " .. event.header.event_id)
end
'''

CONFIG = {"encrypt_key": lc.ENCRYPT_KEY, "log": {"level": "info"}}


def raw_request(port, data, read=True):
    """Sends raw bytes on a fresh connection; returns what came back until close (or
    nothing when read is False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        s.close()


class Burst(GatewayCase):

    def test_concurrent_burst(self):
        unique = [lc.message_event("burst %d" % i) for i in range(300)]
        jobs = []   # (body, headers, expected status)
        for env in unique:
            body, headers = lc.signed_encrypted(env)
            jobs.append((body, headers, 200))
            if len(jobs) % 6 == 0:
                jobs.append((body, headers, 200))      # a re-delivery
            if len(jobs) % 9 == 0:
                jobs.append((body, dict(headers, **{"X-Lark-Signature": "f" * 64}), 401))
        d = self.start_daemon(config=CONFIG, scripts={"burst.lua": SCRIPT})
        work = queue.Queue()
        for i, job in enumerate(jobs):
            work.put((i, job))
        results, errors = {}, []

        def worker():
            # a keep-alive connection per thread, a fresh one after any failure
            conn = None
            while True:
                try:
                    i, (body, headers, _) = work.get_nowait()
                except queue.Empty:
                    break
                try:
                    conn = conn or httplib.HTTPConnection("127.0.0.1", d.webhook_port, timeout=30)
                    conn.request("POST", "/webhook/event", body=body, headers=headers)
                    res = conn.getresponse()
                    results[i] = (res.status, res.read())
                except Exception as e:  # recorded, the test fails below
                    errors.append("request %d: %r" % (i, e))
                    conn = None
            if conn:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertFalse(any(t.is_alive() for t in threads), "workers stuck")
        self.assertEqual(errors, [])
        self.assertEqual(len(results), len(jobs))
        for i, (body, headers, want) in enumerate(jobs):
            status, answer = results[i]
            self.assertEqual(status, want, "request %d: %s" % (i, answer))
            if want == 200:
                self.assertEqual(json.loads(answer), {"msg": "success"})
        d.wait_log(r"burst saw ", count=len(unique), timeout=30)
        log = d.log()
        for env in unique:
            self.assertEqual(log.count("burst saw " + env["header"]["event_id"]), 1)

    def test_truncated_and_garbage_requests(self):
        d = self.start_daemon(config=CONFIG, scripts={"burst.lua": SCRIPT})
        cut_env = lc.message_event("cut off")
        body, headers = lc.signed_encrypted(cut_env)
        head = "".join("%s: %s\r\n" % kv for kv in headers.items())
        start = ("POST /webhook/event HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n"
                 % (len(body), head)).encode()
        for cut in (len(body) // 2, 1, 0):
            raw_request(d.webhook_port, start + body[:cut], read=False)
        raw_request(d.webhook_port, start[:len(start) // 2], read=False)
        answer = raw_request(d.webhook_port, b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
        self.assertFalse(answer.startswith(b"HTTP/1.1 2"), answer)
        env = lc.message_event("after the cut")
        status, _, _ = d.post(*lc.signed_encrypted(env))
        self.assertEqual(status, 200)
        d.wait_log(r"burst saw " + env["header"]["event_id"])
        self.assertNotIn(cut_env["header"]["event_id"], d.log())
        wait_until(lambda: d.proc.poll() is None, what="daemon alive")


if __name__ == "__main__":
    unittest.main(verbosity=2)
