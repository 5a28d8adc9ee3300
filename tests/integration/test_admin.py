"""The admin listener: /healthz, /readyz (in ws mode: ready only while a long connection
is open), /metrics, refusals, and who may ask: no browser page (Origin), no foreign Host
(DNS rebinding), a bearer token for POST when one is set, and a unix socket."""
import http.client as httplib
import os
import socket
import stat
import tempfile
import unittest

from harness import GatewayCase, http, wait_until

TOKEN = "v-token-7c1e"
ADMIN_TOKEN = "adm-9f3b27e1c4"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}
SCRIPTS = {"a.lua": "function on_event() end\n"}


def status(port, path, method="GET", headers=None):
    return http(port, method, path, headers=headers)[0]


class UnixHTTPConnection(httplib.HTTPConnection):
    """HTTP over a unix socket: the host name only fills the Host header."""

    def __init__(self, path, timeout=10.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def unix_http(path, method, target, headers=None):
    conn = UnixHTTPConnection(path)
    try:
        conn.request(method, target, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


class Admin(GatewayCase):
    def test_ready_follows_the_long_connection(self):
        em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        d = self.start_daemon(config=em.gateway_config())
        em.wait_connections(1, timeout=20)
        wait_until(lambda: status(d.admin_port, "/readyz") == 200, timeout=10,
                   what="/readyz 200 once connected")
        self.assertEqual(d.metric("larkgw_ws_open"), 1)
        em.refuse(count=1000)
        em.kick()
        wait_until(lambda: status(d.admin_port, "/readyz") == 503, timeout=10,
                   what="/readyz 503 with no connection open")
        self.assertEqual(status(d.admin_port, "/healthz"), 200)   # alive all the same
        self.assertEqual(d.metric("larkgw_ws_open"), 0)
        self.assertGreaterEqual(d.metric("larkgw_ws_disconnects_total"), 1)

    def test_webhook_mode_endpoints(self):
        d = self.start_daemon(scripts=SCRIPTS)
        self.assertEqual(status(d.admin_port, "/healthz"), 200)
        self.assertEqual(status(d.admin_port, "/readyz"), 200)
        self.assertEqual(d.metric("larkgw_lua_scripts"), 1)
        self.assertEqual(d.metric("larkgw_events_received_total"), 0)
        self.assertIsNone(d.metric("larkgw_ws_open"))
        self.assertEqual(status(d.admin_port, "/healthz", "POST"), 405)
        self.assertEqual(status(d.admin_port, "/admin/reload", "GET"), 405)
        self.assertEqual(status(d.admin_port, "/nope"), 404)

    def test_metrics_text_has_help_and_type(self):
        d = self.start_daemon(scripts=SCRIPTS)
        body = http(d.admin_port, "GET", "/metrics")[2].decode()
        self.assertIn("# TYPE larkgw_events_received_total counter\n"
                      "larkgw_events_received_total 0\n", body)
        self.assertIn("# TYPE larkgw_events_in_flight gauge\n", body)
        self.assertRegex(body, r'(?m)^larkgw_lua_memory_bytes\{script="a\.lua"\} \d+$')
        for line in body.splitlines():
            if not line.startswith("#"):
                self.assertRegex(line, r"^larkgw_[a-z_]+(\{[^}]*\})? \d+$")

    def test_browser_origin_refused(self):
        d = self.start_daemon(scripts=SCRIPTS)
        # what a cross-site form or fetch would send: refused, and nothing reloaded
        headers = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
        self.assertEqual(status(d.admin_port, "/admin/reload", "POST", headers), 403)
        self.assertEqual(status(d.admin_port, "/metrics", "GET", {"Origin": "null"}), 403)
        d.wait_log(r"WARN  admin: refused 403 from 127\.0\.0\.1:\d+: a request from a "
                   r"browser page \(Origin header\)", count=2)
        self.assertNotIn("reloaded scripts", d.log())

    def test_foreign_host_refused(self):
        d = self.start_daemon(scripts=SCRIPTS)
        port = d.admin_port
        for host in ("127.0.0.1:%d" % port, "localhost:%d" % port, "[::1]:%d" % port):
            self.assertEqual(status(port, "/metrics", headers={"Host": host}), 200, host)
        for host in ("evil.example:%d" % port, "127.0.0.1:%d" % (port + 1), "127.0.0.1"):
            self.assertEqual(status(port, "/metrics", headers={"Host": host}), 403, host)
        self.assertEqual(status(port, "/admin/reload", "POST",
                                {"Host": "rebound.example:%d" % port}), 403)
        d.wait_log(r"admin: refused 403 from 127\.0\.0\.1:\d+: Host does not name this "
                   r"listener", count=4)
        self.assertNotIn("reloaded scripts", d.log())

    def test_token_guards_reload(self):
        d = self.start_daemon(scripts=SCRIPTS, config={"admin": {"token": ADMIN_TOKEN}})
        status_, headers, _ = http(d.admin_port, "POST", "/admin/reload")
        self.assertEqual((status_, headers.get("www-authenticate")), (401, "Bearer"))
        self.assertEqual(status(d.admin_port, "/admin/reload", "POST",
                                {"Authorization": "Bearer " + ADMIN_TOKEN + "x"}), 401)
        self.assertEqual(status(d.admin_port, "/admin/reload", "POST",
                                {"Authorization": "Basic " + ADMIN_TOKEN}), 401)
        self.assertNotIn("reloaded scripts", d.log())
        status_, _, body = http(d.admin_port, "POST", "/admin/reload",
                                headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        self.assertEqual((status_, body), (200, b"reloaded\n"))
        d.wait_log(r"gateway: reloaded scripts in")
        self.assertEqual(status(d.admin_port, "/healthz"), 200)   # reading needs none
        d.wait_log(r"admin: refused 401 from 127\.0\.0\.1:\d+: a bearer token is required")
        d.wait_log(r"admin: refused 401 from 127\.0\.0\.1:\d+: wrong bearer token", count=2)
        self.assertNotIn(ADMIN_TOKEN, d.log())

    def test_beyond_loopback_needs_a_token(self):
        code, log = self.start_daemon_failing(scripts=SCRIPTS,
                                              config={"admin": {"listen": "0.0.0.0:0"}})
        self.assertNotEqual(code, 0)
        self.assertIn("key 'admin.token': required when admin.listen is not a loopback", log)

    def test_unix_socket(self):
        sock_dir = self.tmp_dir()
        path = os.path.join(sock_dir, "admin.sock")
        d = self.start_daemon(scripts=SCRIPTS, config={"admin": {"listen": "unix:" + path}})
        d.wait_log(r"admin: listening on unix:" + path)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(unix_http(path, "GET", "/healthz"), (200, b"ok\n"))
        self.assertEqual(unix_http(path, "POST", "/admin/reload"), (200, b"reloaded\n"))
        self.assertEqual(unix_http(path, "POST", "/admin/reload", {"Origin": "null"})[0], 403)
        self.assertIn(b"larkgw_lua_scripts 1\n", unix_http(path, "GET", "/metrics")[1])
        d.stop()
        self.assertFalse(os.path.exists(path), "the socket file outlived the daemon")

    def test_unix_socket_stale_replaced_live_kept(self):
        path = os.path.join(self.tmp_dir(), "admin.sock")
        config = {"admin": {"listen": "unix:" + path}}
        d = self.start_daemon(scripts=SCRIPTS, config=config)
        # a second daemon must not steal the socket a live one answers on
        code, log = self.start_daemon_failing(scripts=SCRIPTS, config=config)
        self.assertNotEqual(code, 0)
        self.assertIn("admin: cannot listen on unix:" + path, log)
        self.assertEqual(unix_http(path, "GET", "/healthz"), (200, b"ok\n"))
        d.proc.kill()               # a crash leaves the socket file behind
        d.proc.wait(timeout=10)
        self.assertTrue(os.path.exists(path))
        self.start_daemon(scripts=SCRIPTS, config=config)
        self.assertEqual(unix_http(path, "GET", "/healthz"), (200, b"ok\n"))

    def tmp_dir(self):
        t = tempfile.TemporaryDirectory(prefix="larkgw-admin-")
        self.addCleanup(t.cleanup)
        return t.name


if __name__ == "__main__":
    unittest.main(verbosity=2)
