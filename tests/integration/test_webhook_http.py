"""The webhook's HTTP layer (net/http_server) against raw sockets: what evhttp
could not do. Oversized bodies, malformed request lines, huge heads and unknown methods
are answered with JSON and logged once with the client's address and port; a client
that never finishes its head is dropped at the request deadline; pipelined keep-alive
requests are answered in order, a handler's deferred answer included. And the admin
listener on the same server."""
import json
import re
import socket
import time
import unittest

import lark_crypto as lc
from harness import GatewayCase, http

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  lark.log.info("http saw " .. event.header.event_id)
end
'''

MAX_BODY = 4096


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s, s.getsockname()[1]


def read_until_close(s, timeout=30):
    """Everything the server sends until it closes (bounded)."""
    s.settimeout(timeout)
    chunks = []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parse_answers(data):
    """Splits concatenated HTTP/1.1 answers into (status, headers, body) tuples."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise AssertionError("incomplete answer: %r" % data[:200])
        lines = head.decode().split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        data = rest[n:]
    return out


def post_head(path, length, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n%s\r\n" % (path, length, extra)).encode()


class WebhookHttp(GatewayCase):

    @classmethod
    def setUpClass(cls):
        cls.d = cls.start_class_daemon(
            config={"webhook": {"listen": "127.0.0.1:0", "max_body": MAX_BODY},
                    "log": {"level": "info"}},
            scripts={"http.lua": SCRIPT})

    def refused(self, data, status, msg, close_write=False):
        """Sends raw bytes; asserts one JSON answer with status and msg, the connection
        closed, and one log line naming this client's address and port."""
        s, port = connect(self.d.webhook_port)
        try:
            s.sendall(data)
            if close_write:
                s.shutdown(socket.SHUT_WR)
            answers = parse_answers(read_until_close(s))
        finally:
            s.close()
        self.assertEqual(len(answers), 1, answers)
        got, headers, body = answers[0]
        self.assertEqual(got, status, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(json.loads(body), {"msg": msg})
        self.d.wait_log(r"WARN  webhook: refused %d from 127\.0\.0\.1:%d: " % (status, port))
        return port

    def test_413_is_json_and_logged_before_the_body(self):
        # the body is never sent: the answer comes from Content-Length alone
        port = self.refused(post_head("/webhook/event", MAX_BODY + 1), 413, "body too large")
        line = r"refused 413 from 127\.0\.0\.1:%d: body too large" % port
        self.d.wait_log(line)            # read by another thread: wait for it, bounded
        self.assertEqual(len(re.findall(line, self.d.log())), 1)
        # and a client that sends its whole body anyway still reads the answer
        body = b'{"encrypt": "' + b"A" * 200000 + b'"}'
        self.refused(post_head("/webhook/event", len(body)) + body, 413, "body too large")

    def test_malformed_request_line(self):
        self.refused(b"GARBAGE\r\n\r\n", 400, "malformed request line")
        self.refused(b"POST /webhook/event HTTP/1.1 extra\r\n\r\n", 400, "malformed request line")
        self.refused(b"POST /webhook/event HTTP/1.1\r\nBad Header\r\n\r\n", 400,
                     "malformed header line")

    def test_huge_head_refused(self):
        head = post_head("/webhook/event", 2, "X-Big: " + "a" * 20000 + "\r\n") + b"{}"
        self.refused(head, 431, "request head too large")
        # no end of head in sight at all
        self.refused(b"POST /webhook/event HTTP/1.1\r\nX: " + b"b" * 20000, 431,
                     "request head too large", close_write=True)

    def test_unknown_method_and_chunked(self):
        self.refused(b"BREW /webhook/event HTTP/1.1\r\nHost: t\r\n\r\n", 501,
                     "method not implemented")
        self.refused(b"POST /webhook/event HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\n{}\r\n0\r\n\r\n", 501,
                     "Transfer-Encoding not supported (send Content-Length)")
        self.refused(b"POST /webhook/event HTTP/2.0\r\n\r\n", 505, "HTTP version not supported")

    def test_slow_client_dropped(self):
        s, port = connect(self.d.webhook_port)
        try:
            s.sendall(b"POST /webhook/event HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            started = time.monotonic()
            # a byte now and then: a read timeout would never fire, the deadline does
            s.settimeout(0.5)
            data = b""
            while time.monotonic() - started < 40:
                try:
                    if not data:
                        s.sendall(b"z")
                except OSError:
                    break
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        answers = parse_answers(data)
        self.assertEqual([a[0] for a in answers], [408], data)
        self.assertEqual(json.loads(answers[0][2]), {"msg": "request not complete in time"})
        self.d.wait_log(r"webhook: refused 408 from 127\.0\.0\.1:%d: request not complete" % port)

    def test_pipelined_keep_alive_in_order(self):
        first = json.dumps(lc.challenge(value="first")).encode()
        env = lc.message_event("pipelined")
        event = json.dumps(env).encode()
        last = json.dumps(lc.challenge(value="last")).encode()
        data = (post_head("/webhook/event", len(first)) + first +
                post_head("/webhook/event", len(event)) + event +
                post_head("/webhook/event", len(last), "Connection: close\r\n") + last)
        s, _ = connect(self.d.webhook_port)
        try:
            s.sendall(data)
            answers = parse_answers(read_until_close(s))
        finally:
            s.close()
        self.assertEqual([a[0] for a in answers], [200, 200, 200], answers)
        self.assertEqual([json.loads(a[2]) for a in answers],
                         [{"challenge": "first"}, {"msg": "success"}, {"challenge": "last"}])
        self.assertNotIn("connection", answers[0][1])
        self.assertEqual(answers[2][1].get("connection"), "close")
        self.d.wait_log(r"http saw " + env["header"]["event_id"])

    def test_keep_alive_survives_a_refusal_of_ours(self):
        """A verification failure (401) is the webhook's answer, not a framing error:
        the connection stays open for the next request."""
        forged = json.dumps(lc.message_event(token="forged")).encode()
        ok = json.dumps(lc.challenge(value="again")).encode()
        s, _ = connect(self.d.webhook_port)
        try:
            s.sendall(post_head("/webhook/event", len(forged)) + forged +
                      post_head("/webhook/event", len(ok), "Connection: close\r\n") + ok)
            answers = parse_answers(read_until_close(s))
        finally:
            s.close()
        self.assertEqual([a[0] for a in answers], [401, 200])

    def test_admin_endpoints(self):
        port = self.d.admin_port
        self.assertEqual(http(port, "GET", "/healthz")[::2], (200, b"ok\n"))
        self.assertEqual(http(port, "GET", "/readyz")[0], 200)
        status, headers, body = http(port, "GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertIn(b"larkgw_", body)
        status, headers, body = http(port, "GET", "/nope")
        self.assertEqual((status, json.loads(body)), (404, {"msg": "not found"}))
        self.d.wait_log(r"WARN  admin: refused 404 from 127\.0\.0\.1:\d+: not found")
        status, headers, body = http(port, "POST", "/healthz")
        self.assertEqual((status, headers.get("allow")), (405, "GET"))
        status, headers, _ = http(port, "GET", "/admin/reload")
        self.assertEqual((status, headers.get("allow")), (405, "POST"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
