"""The OpenAPI peer misbehaves: it resets mid-answer, answers garbage, stalls, hangs up,
or does not speak TLS on an https domain. Each time the handler gets nil, err with a
sensible code and msg, the next call still works, and the daemon exits 0 (so ASan saw
no leak). And a marketplace app whose state_dir cannot be written: the ticket write
fails with one log line per ticket, and events are still served."""
import json
import os
import re
import socket
import tempfile
import threading
import unittest

import lark_crypto as lc
from harness import GatewayCase, wait_until

# The handler names its fault by the message text: GET /open-apis/fault/<text>.
SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local mode = lark.json.decode(event.event.message.content).text
  local res, err = lark.api.get("fault/" .. mode, { timeout = 2 })
  if res then
    lark.log.info("fault " .. mode .. ": ok " .. tostring(res.data.ok))
  else
    lark.log.info("fault " .. mode .. ": res=" .. tostring(res) .. " code=" .. err.code ..
                  " http=" .. err.http_status .. " log_id=" .. err.log_id .. " msg=" .. err.msg)
  end
end
'''

RESULT = r"fault %s: res=nil code=(-?\d+) http=(\d+) log_id=(\S*) msg=(.*)$"
TOKEN_ANSWER = b'{"code":0,"msg":"ok","tenant_access_token":"t-fault-1","expire":7200}'


class FaultPeer:
    """An Open Platform on loopback that issues tokens and then misbehaves as the path
    /open-apis/fault/<mode> asks. tls: what it does when a TLS ClientHello arrives
    ("plain": answers as a plain HTTP server would, "close": hangs up at once)."""

    def __init__(self, tls="plain"):
        self.tls = tls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.conns, self.threads, self.paths = [], [], []
        self.hellos = 0
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, scheme="http"):
        return "%s://127.0.0.1:%d" % (scheme, self.port)

    def close(self):
        self.stopping.set()
        self.thread.join(timeout=5)
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=5)
        self.sock.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(0.1)
            with self.lock:
                self.conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(t)
            t.start()

    def _recv(self, conn, buf):
        """More bytes, or None when the peer closed or the test is over."""
        while not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return None
            return buf + data if data else None
        return None

    def _request(self, conn, buf):
        """(method, path, rest of buf) of the next request, or None."""
        while b"\r\n\r\n" not in buf:
            if buf[:1] == b"\x16":
                return ("TLS", "", buf)
            buf = self._recv(conn, buf)
            if buf is None:
                return None
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(rest) < length:
            rest = self._recv(conn, rest)
            if rest is None:
                return None
        return method, path, rest[length:]

    @staticmethod
    def _answer(conn, status, body, extra=b""):
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nX-Tt-Logid: fault-log-%d\r\n%s\r\n"
                     % (status, len(body), status, extra) + body)

    def _serve(self, conn):
        buf = b""
        while True:
            req = self._request(conn, buf)
            if req is None:
                return
            method, path, buf = req
            with self.lock:
                self.paths.append(path)
            if method == "TLS":
                self.hellos += 1
                if self.tls == "plain":
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                conn.close()
                return
            if path.startswith("/open-apis/auth/"):
                self._answer(conn, 200, TOKEN_ANSWER)
            elif not self._fault(conn, path.rsplit("/", 1)[-1]):
                return

    def _fault(self, conn, mode):
        """Answers one business call; False when the connection is done for."""
        if mode == "ok":
            self._answer(conn, 200, b'{"code":0,"msg":"success","data":{"ok":true}}')
            return True
        if mode == "garbage":
            self._answer(conn, 200, b"<html>\x00\xff not json at all")
            return True
        if mode == "reset":
            body = b'{"code":0,"msg":"success","data":{"items":"' + b"x" * 400 + b'"}}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
            # SO_LINGER 0: close sends a RST, not a FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()
            return False
        if mode == "hangup":
            conn.close()
            return False
        if mode == "stall":
            # Accepted and read; never answered. close() (the test's end) releases it.
            while self._recv(conn, b"") is not None:
                pass
            return False
        self._answer(conn, 404, b'{"code":404,"msg":"no such fault"}')
        return True


class OpenApiPeerFaults(GatewayCase):

    def start_peer(self, **kw):
        peer = FaultPeer(**kw)
        self.addCleanup(peer.close)
        return peer

    def start_bot(self, domain):
        return self.start_daemon(
            config={"domain": domain, "app_id": "cli_faults", "app_secret": "faults-secret-9q"},
            scripts={"bot.lua": SCRIPT})

    def fault(self, d, mode, timeout=15, count=1):
        """Sends the message that makes the handler call fault/<mode>; its log match.
        count: how many "ok" results the log must hold by then (this one included)."""
        status, _, body = d.post(json.dumps(lc.message_event(text=mode)))
        self.assertEqual(status, 200, body)
        if mode == "ok":
            return d.wait_log(r"fault ok: ok true$", timeout=timeout, count=count)
        d.wait_log(RESULT % mode, timeout=timeout)
        return re.search(RESULT % mode, d.log(), re.M)

    def assert_still_serving(self, d, n):
        self.fault(d, "ok", count=n)
        self.assertEqual(len(re.findall(r"fault ok: ok true$", d.log(), re.M)), n)
        self.assertIsNone(d.proc.poll())

    def test_http_faults(self):
        peer = self.start_peer()
        d = self.start_bot(peer.url())
        self.fault(d, "ok")
        cases = [
            # mode, expected code, expected http status, a piece of msg
            ("garbage", -3, 200, "not a json object"),
            ("reset", -1, 0, "reset"),
            ("hangup", -1, 0, "closed"),
            ("stall", -2, 0, "time"),
        ]
        for n, (mode, code, http, msg) in enumerate(cases, 2):
            with self.subTest(mode=mode):
                m = self.fault(d, mode)
                self.assertEqual((int(m.group(1)), int(m.group(2))), (code, http), m.group(0))
                self.assertIn(msg, m.group(4).lower())
                if mode == "garbage":
                    self.assertEqual(m.group(3), "fault-log-200")
                self.assert_still_serving(d, n)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(len(re.findall(r"GET /open-apis/fault/\w+ failed: code=-\d", d.log())),
                         len(cases))

    def check_no_tls(self, domain, msg, peer=None):
        """The token fetch fails, so the call does: nil, err with a transport code."""
        d = self.start_bot(domain)
        m = self.fault(d, "ok-over-tls")
        self.assertEqual((int(m.group(1)), int(m.group(2))), (-1, 0), m.group(0))
        self.assertIn(msg, m.group(4).lower())
        self.assertTrue(m.group(4).strip(), m.group(0))
        d.wait_log(r"tenant_access_token fetch failed: code=-1 ")
        if peer is not None:
            self.assertGreaterEqual(peer.hellos, 1)
            self.assertNotIn("/open-apis/fault/ok-over-tls", peer.paths)
        self.assertEqual(d.stop(), 0)

    def test_plain_server_on_an_https_domain(self):
        peer = self.start_peer(tls="plain")
        self.check_no_tls(peer.url("https"), "tls:", peer)

    def test_tls_handshake_refused(self):
        peer = self.start_peer(tls="close")
        self.check_no_tls(peer.url("https"), "tls:", peer)

    # The client reports a refused connect on an https URL as an opaque "tls: error:...":
    # the code is right, the msg is only checked to be there.
    def test_nothing_listening(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.check_no_tls("https://127.0.0.1:%d" % port, "")


TICKET_SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local res, err = lark.im.reply(msg.message_id, "text", { text = "still here" })
  if not res then error(err) end
  lark.log.info("replied to " .. msg.message_id)
end
'''

SAVE_FAILED = r"WARN.*openapi: cannot (create state_dir|save the app_ticket)"


class UnwritableStateDir(GatewayCase):
    """state_dir below a regular file: mkdir fails with ENOTDIR, for root too (a chmod
    would not stop root)."""

    def test_ticket_write_fails_once_and_serving_goes_on(self):
        tmp = tempfile.mkdtemp(prefix="larkgw-faults-")
        self.addCleanup(lambda: (os.unlink(os.path.join(tmp, "file")), os.rmdir(tmp)))
        with open(os.path.join(tmp, "file"), "w") as f:
            f.write("not a directory\n")
        state_dir = os.path.join(tmp, "file", "sub")
        em = self.start_emulator(verification_token="v-token-7c1e", encrypt_key="enc-key-f4u1")
        cfg = em.gateway_config(mode="webhook", app_type="marketplace", state_dir=state_dir)
        d = self.start_daemon(config=cfg, scripts={"bot.lua": TICKET_SCRIPT})
        em.webhook_to(d)
        em.push_app_ticket()
        d.wait_log(r"openapi: app_ticket received$")
        d.wait_log(SAVE_FAILED)

        mid = "om_faults_1"
        em.send_text("hello", tenant_key="tenant_f", chat_id="oc_f", im_message_id=mid,
                     delivery="webhook")
        d.wait_log(r"replied to %s$" % mid, timeout=20)
        self.assertEqual(em.api_calls("/open-apis/im/v1/messages/%s/reply" % mid)[0]["code"], 0)

        # One line per ticket that could not be written, and nothing more about it.
        wait_until(lambda: len(re.findall(SAVE_FAILED, d.log(), re.M))
                   == len(re.findall(r"openapi: app_ticket received$", d.log(), re.M)),
                   what="one failure line per ticket received")
        received = len(re.findall(r"openapi: app_ticket received$", d.log(), re.M))
        self.assertGreaterEqual(received, 1)
        self.assertEqual(len(re.findall(r"openapi: .*%s" % re.escape(state_dir), d.log())),
                         received, d.log())
        self.assertFalse(os.path.exists(state_dir))
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
