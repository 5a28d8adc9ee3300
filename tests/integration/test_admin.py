"""The admin listener: /healthz, /readyz (in ws mode: ready only while a long connection
is open), /metrics, and refusals. larkgw run against larkgw emulator."""
import unittest

from emulator import Emulator
from harness import Daemon, http, wait_until

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}


def status(port, path, method="GET"):
    return http(port, method, path)[0]


def metric(port, name):
    body = http(port, "GET", "/metrics")[2].decode()
    for line in body.splitlines():
        if line.split(" ")[0] == name:
            return float(line.split(" ")[1])
    return None


class Admin(unittest.TestCase):
    def test_ready_follows_the_long_connection(self):
        with Emulator(client_config=FAST, verification_token=TOKEN) as em:
            with Daemon(config=em.gateway_config()) as d:
                em.wait_connections(1, timeout=20)
                wait_until(lambda: status(d.admin_port, "/readyz") == 200, timeout=10,
                           what="/readyz 200 once connected")
                self.assertEqual(metric(d.admin_port, "larkgw_ws_open"), 1)
                em.refuse(count=1000)
                em.kick()
                wait_until(lambda: status(d.admin_port, "/readyz") == 503, timeout=10,
                           what="/readyz 503 with no connection open")
                self.assertEqual(status(d.admin_port, "/healthz"), 200)   # alive all the same
                self.assertEqual(metric(d.admin_port, "larkgw_ws_open"), 0)
                self.assertGreaterEqual(metric(d.admin_port, "larkgw_ws_disconnects_total"), 1)

    def test_webhook_mode_endpoints(self):
        with Daemon(scripts={"a.lua": "function on_event() end\n"}) as d:
            self.assertEqual(status(d.admin_port, "/healthz"), 200)
            self.assertEqual(status(d.admin_port, "/readyz"), 200)
            self.assertEqual(metric(d.admin_port, "larkgw_lua_scripts"), 1)
            self.assertEqual(metric(d.admin_port, "larkgw_events_received_total"), 0)
            self.assertIsNone(metric(d.admin_port, "larkgw_ws_open"))
            self.assertEqual(status(d.admin_port, "/healthz", "POST"), 405)
            self.assertEqual(status(d.admin_port, "/admin/reload", "GET"), 405)
            self.assertEqual(status(d.admin_port, "/nope"), 404)


if __name__ == "__main__":
    unittest.main()
