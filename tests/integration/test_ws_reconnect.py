"""The long connection survives: a kicked connection, a silent (half-open) peer, a
refused handshake, a busy discovery; and bad credentials are reported clearly without
hammering the platform. larkgw run (mode ws) against larkgw emulator."""
import unittest

from harness import GatewayCase, wait_until

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  lark.log.info("handled " .. lark.json.decode(event.event.message.content).text)
end
'''


def open_ids(em):
    return {c["id"] for c in em.connections(open_only=True)}


def wait_new_connection(em, old, timeout=20):
    return wait_until(lambda: open_ids(em) - old, timeout=timeout, what="a new connection")


class Reconnect(GatewayCase):
    def setUp(self):
        self.em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        self.d = self.start_daemon(config=self.em.gateway_config(), scripts={"bot.lua": SCRIPT})
        self.first = {c["id"] for c in self.em.wait_connections(1, timeout=20)}

    def tearDown(self):
        self.d.stop()       # before the secrets check: the whole log, shutdown included
        log = self.d.log()
        for secret in ("emulator-secret", "ticket=", "access_key="):
            self.assertNotIn(secret, log)

    def assert_event_flows(self, text):
        sent = wait_until(lambda: self.try_send(text), timeout=15, what="an open connection")
        ack = self.em.wait_acks(1, timeout=15, message_id=sent["message_id"])[0]
        self.assertEqual(ack["code"], 200)
        self.d.wait_log(r"handled %s$" % text)

    def try_send(self, text):
        status, answer = self.em.request("POST", "/_emu/events", {"text": text})
        return answer if status == 200 else None

    def test_kick_then_reconnect_then_next_event(self):
        self.assertEqual(self.em.kick(), 1)
        self.d.wait_log(r"ws: \[0\] connection to 127\.0\.0\.1 device_id=\S+ lost: .*reconnecting in")
        wait_new_connection(self.em, self.first)
        self.assert_event_flows("after-kick")

    def test_silent_peer_is_replaced(self):
        self.assertEqual(self.em.silence(True), 1)
        self.d.wait_log(r"lost: nothing received for \d+ s: presumed dead", timeout=20)
        wait_new_connection(self.em, self.first)
        self.assert_event_flows("after-silence")

    def test_refused_handshake_is_logged_then_later_success(self):
        self.em.refuse(count=2, status=514, msg="auth failed")
        self.em.kick()
        self.d.wait_log(r'cannot open the WebSocket: handshake refused: HTTP 514, '
                        r'Handshake-Status 514, Handshake-Msg "auth failed"', count=2, timeout=20)
        wait_new_connection(self.em, self.first)
        self.assert_event_flows("after-refusal")

    def test_connection_limit_refusal_names_its_cause(self):
        self.em.refuse(count=1, status=403, msg="too many", autherrcode="1000040350")
        self.em.kick()
        self.d.wait_log(r"Handshake-Autherrcode 1000040350 \(too many connections: at most 50 "
                        r"per app\); a client error", timeout=20)
        wait_new_connection(self.em, self.first)
        self.assert_event_flows("after-limit")

    def test_busy_discovery_twice_then_success(self):
        self.em.discovery_fail(2, code=1)
        self.em.kick()
        self.d.wait_log(r"endpoint discovery failed: code 1 \(platform busy\)", count=2, timeout=20)
        wait_new_connection(self.em, self.first)
        self.assert_event_flows("after-busy")

    def test_reconnect_count_is_honoured(self):
        self.em.set_config({"ReconnectCount": 2})
        self.d.wait_log(r"ClientConfig from pong: .*ReconnectCount=2")
        self.em.discovery_fail(10, code=1)
        self.em.kick()
        self.d.wait_log(r"endpoint discovery failed: code 1 .*giving up after 2 attempts "
                        r"\(ReconnectCount 2\)", timeout=20)
        # the first discovery, then exactly two tries after the loss
        self.assertEqual(self.em.stats()["discoveries"], 3)
        self.assertEqual(self.em.connections(open_only=True), [])


class BadCredentials(GatewayCase):
    def test_wrong_secret_is_a_clear_error_and_not_hammered(self):
        em = self.start_emulator(client_config=FAST, verification_token=TOKEN)
        cfg = em.gateway_config(app_secret="not-the-secret-42")
        d = self.start_daemon(config=cfg, scripts={"bot.lua": SCRIPT})
        d.wait_log(r"ERROR ws: \[0\] endpoint discovery failed: code 514 \(auth failed: "
                   r"check app_id and app_secret\).*a client error.*retrying in 120 s",
                   timeout=20)
        # No ClientConfig was ever given: the SDK default interval (120 s) holds,
        # so one attempt is all the emulator sees.
        self.assertEqual(em.stats()["discoveries"], 1)
        self.assertEqual(em.connections(), [])
        self.assertNotIn("not-the-secret-42", d.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
