"""SIGTERM with a webhook request in flight: the listener closes, a request on an open
keep-alive connection is answered 503 (draining), and the request in flight still gets
its answer (a deferred reply, given after the handler returned) before the daemon
exits 0. lark.sleep keeps the handler in flight."""
import http.client as httplib
import json
import signal
import socket
import threading
import unittest

import lark_crypto as lc
from harness import GatewayCase

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  if text == "slow" then
    lark.log.info("slow handler started")
    lark.sleep(1.5)
    lark.log.info("slow handler done")
  end
end
'''


def post(conn, env):
    body, headers = lc.signed_encrypted(env)
    conn.request("POST", "/webhook/event", body=body, headers=headers)
    res = conn.getresponse()
    return res.status, res.read()


class Shutdown(GatewayCase):

    def test_in_flight_answered_new_refused(self):
        d = self.start_daemon(config={"encrypt_key": lc.ENCRYPT_KEY, "log": {"level": "info"}},
                              scripts={"slow.lua": SCRIPT})
        port = d.webhook_port
        idle = httplib.HTTPConnection("127.0.0.1", port, timeout=20)
        self.assertEqual(post(idle, lc.message_event("warm up"))[0], 200)

        slow, result = httplib.HTTPConnection("127.0.0.1", port, timeout=20), {}
        t = threading.Thread(target=lambda: result.update(r=post(slow, lc.message_event("slow"))))
        t.start()
        d.wait_log(r"slow handler started")
        d.signal(signal.SIGTERM)
        d.wait_log(r"gateway: stopping")

        status, body = post(idle, lc.message_event("too late"))
        self.assertEqual(status, 503, body)
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()

        t.join(timeout=20)
        self.assertFalse(t.is_alive())
        self.assertEqual(result["r"][0], 200, result)
        self.assertEqual(json.loads(result["r"][1]), {"msg": "success"})
        d.wait_log(r"slow handler done")
        idle.close()
        slow.close()
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
