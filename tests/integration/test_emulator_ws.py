"""The emulator's long connection, spoken to directly: discovery, the RFC 6455
handshake, pbbp2 pings and pongs, event frames, fragments, acks and re-delivery."""
import base64
import json
import re
import socket
import struct
import time
import unittest
import urllib.parse

from emulator import (DEFAULT_APP_ID, DEFAULT_APP_SECRET, OP_BINARY, OP_CLOSE, OP_TEXT,
                      Closed, Emulator, Frame, RawWs, accept_key)
from harness import GatewayCase, http, wait_until

DEFAULT_CONFIG = {"PingInterval": 120, "ReconnectCount": -1, "ReconnectInterval": 120,
                  "ReconnectNonce": 30}


class Discovery(GatewayCase):
    def test_answer_carries_url_and_client_config(self):
        em = self.start_emulator()
        status, answer = em.discover()
        self.assertEqual(status, 200)
        self.assertEqual(answer["code"], 0)
        url = urllib.parse.urlsplit(answer["data"]["URL"])
        self.assertEqual((url.scheme, url.hostname, url.port, url.path),
                         ("ws", "127.0.0.1", em.port, "/ws/v2"))
        q = dict(urllib.parse.parse_qsl(url.query))
        self.assertEqual(set(q), {"fpid", "device_id", "service_id", "access_key", "ticket"})
        self.assertEqual(int(q["service_id"]), em.stats()["service_id"])
        self.assertEqual(answer["data"]["ClientConfig"], DEFAULT_CONFIG)
        _, again = em.discover()
        self.assertNotEqual(again["data"]["URL"], answer["data"]["URL"])

    def test_default_app_id_has_the_platform_shape(self):
        # No --app-id: the binary's own default, which real SDKs must accept.
        # start_emulator always passes --app-id: start this one by hand, same cleanup
        em = Emulator(start=False)
        em.args = []
        self.addCleanup(em.__exit__, None, None, None)
        em.start()
        self.assertRegex(DEFAULT_APP_ID, r"^cli_[0-9a-f]{16}$")
        em.wait_log("app_id %s," % DEFAULT_APP_ID)   # logged after it starts listening
        status, answer = em.discover(DEFAULT_APP_ID, DEFAULT_APP_SECRET)
        self.assertEqual((status, answer["code"]), (200, 0))
        status, answer = em.discover("cli_emulator", DEFAULT_APP_SECRET)
        self.assertEqual(answer["code"], 514)

    def test_wrong_credentials_are_code_514(self):
        em = self.start_emulator()
        for app_id, secret in (("cli_other", None), (None, "wrong")):
            status, answer = em.discover(app_id, secret)
            self.assertEqual((status, answer["code"], answer["msg"]), (200, 514, "auth failed"))
            self.assertNotIn("data", answer)
        self.assertNotIn("emulator-secret", em.log())

    def test_missing_locale_header_is_refused(self):
        em = self.start_emulator()
        status, answer = em.discover(locale=None)
        self.assertEqual((status, answer["code"]), (200, 403))

    def test_injected_failures_then_success(self):
        em = self.start_emulator()
        em.discovery_fail(2, code=1)
        self.assertEqual([em.discover()[1]["code"] for _ in range(3)], [1, 1, 0])
        em.discovery_fail(1, code=1000040343, http_status=503)
        status, answer = em.discover()
        self.assertEqual((status, answer["code"]), (503, 1000040343))
        self.assertEqual(em.stats()["discoveries"], 4)

    def test_client_config_can_change(self):
        em = self.start_emulator(client_config={"PingInterval": 7})
        self.assertEqual(em.discover()[1]["data"]["ClientConfig"]["PingInterval"], 7)
        em.set_config({"ReconnectCount": 3})
        cfg = em.discover()[1]["data"]["ClientConfig"]
        self.assertEqual((cfg["PingInterval"], cfg["ReconnectCount"]), (7, 3))


class Handshake(GatewayCase):
    def test_accept_header_is_rfc6455(self):
        em = self.start_emulator()
        with em.connect() as ws:
            self.assertEqual(ws.status, 101)
            self.assertEqual(ws.headers["upgrade"].lower(), "websocket")
            self.assertEqual(ws.headers["sec-websocket-accept"], accept_key(ws.key))
            conns = em.wait_connections(1)
            self.assertEqual(conns[0]["device_id"], ws.device_id)

    def test_rfc_example_key(self):
        em = self.start_emulator()       # the worked example of RFC 6455 section 1.3
        with RawWs(em.discover()[1]["data"]["URL"], key="dGhlIHNhbXBsZSBub25jZQ==") as ws:
            self.assertEqual(ws.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_ticket_is_single_use(self):
        em = self.start_emulator()
        url = em.discover()[1]["data"]["URL"]
        with RawWs(url) as first:
            self.assertEqual(first.status, 101)
        with RawWs(url) as second:
            self.assertEqual(second.status, 514)
            self.assertEqual(second.headers["handshake-status"], "514")
        with RawWs(url.replace("ticket=", "ticket=x")) as forged:
            self.assertNotEqual(forged.status, 101)

    def test_expired_ticket_is_refused(self):
        em = self.start_emulator(args=["--ticket-ttl-ms", "1"])
        url = em.discover()[1]["data"]["URL"]
        time.sleep(0.05)            # monotonic: the 1 ms ticket is surely stale
        with RawWs(url) as ws:
            self.assertEqual(ws.headers.get("handshake-status"), "514")

    def test_refusal_on_request_then_success(self):
        em = self.start_emulator()
        em.refuse(count=1, status=403, msg="too many connections", autherrcode=1000040350)
        with em.connect() as ws:
            self.assertEqual(ws.status, 403)
            self.assertEqual(ws.headers["handshake-status"], "403")
            self.assertEqual(ws.headers["handshake-msg"], "too many connections")
            self.assertEqual(ws.headers["handshake-autherrcode"], "1000040350")
        with em.connect() as ws:
            self.assertEqual(ws.status, 101)
        self.assertEqual(em.stats()["refused"], 1)

    def test_not_an_upgrade(self):
        em = self.start_emulator()
        status, _, _ = http(em.port, "GET", "/ws/v2?ticket=x")
        self.assertEqual(status, 400)


class Frames(GatewayCase):
    def test_ping_gets_pong_with_client_config(self):
        em = self.start_emulator(client_config={"PingInterval": 5})
        with em.connect() as ws:
            ws.ping(seq_id=11)
            pong = ws.recv_frame()
            self.assertEqual((pong.method, pong.header("type"), pong.service),
                             (0, "pong", ws.service_id))
            self.assertEqual(json.loads(pong.payload), dict(DEFAULT_CONFIG, PingInterval=5))
            em.set_config({"PingInterval": 2})
            ws.ping(seq_id=12)
            self.assertEqual(json.loads(ws.recv_frame().payload)["PingInterval"], 2)
            self.assertEqual(em.connections()[0]["pings"], 2)

    def test_ping_with_wrong_service_gets_no_pong(self):
        em = self.start_emulator()
        with em.connect() as ws:
            ws.ping(seq_id=1, service=ws.service_id + 1)
            ws.ping(seq_id=2)
            pong = ws.recv_frame()
            self.assertEqual((pong.header("type"), pong.seq_id), ("pong", 2))
            self.assertEqual(em.connections()[0]["bad_pings"], 1)

    def test_event_frame_and_ack(self):
        em = self.start_emulator(verification_token="vt-1")
        with em.connect() as ws:
            sent = em.send_text("hello", chat_id="oc_1", tenant_key="t1", open_id="ou_1")
            f = ws.recv_frame()
            self.assertEqual(f.method, 1)
            self.assertEqual(f.service, ws.service_id)
            self.assertEqual((f.header("type"), f.header("message_id"), f.header("sum"),
                              f.header("seq")), ("event", sent["message_id"], "1", "0"))
            self.assertTrue(f.header("trace_id"))
            self.assertTrue(f.header("timestamp").isdigit())
            env = json.loads(f.payload)
            self.assertEqual(env["schema"], "2.0")
            h = env["header"]
            self.assertEqual((h["event_type"], h["token"], h["tenant_key"], h["app_id"],
                              h["event_id"]),
                             ("im.message.receive_v1", "vt-1", "t1", em.app_id, sent["event_id"]))
            msg = env["event"]["message"]
            self.assertEqual(json.loads(msg["content"]), {"text": "hello"})
            self.assertEqual((msg["chat_id"], msg["message_type"]), ("oc_1", "text"))
            self.assertTrue(msg["message_id"].startswith("om_"))
            self.assertEqual(env["event"]["sender"]["sender_id"]["open_id"], "ou_1")

            ws.send_frame(f.ack(200, data='{"toast":{"type":"info"}}', biz_rt=7))
            ack = em.wait_acks(1)[0]
            self.assertEqual(ack["errors"], [])
            self.assertEqual((ack["message_id"], ack["event_id"], ack["code"], ack["biz_rt"],
                              ack["conn"], ack["delivery"]),
                             (sent["message_id"], sent["event_id"], 200, 7,
                              em.connections()[0]["id"], "ws"))
            self.assertEqual(json.loads(ack["data"]), {"toast": {"type": "info"}})
            self.assertEqual(ack["headers"]["biz_rt"], "7")
            wait_until(lambda: em.stats()["pending"] == 0, what="event settled")

    def test_ack_without_headers_in_its_payload_is_accepted(self):
        # The official Node SDK acks {"code": 200} with no "headers"; the platform takes it.
        em = self.start_emulator()
        with em.connect() as ws:
            sent = em.send_text("node sdk")
            f = ws.recv_frame()
            ack_frame = f.ack(200, headers=False)
            self.assertNotIn(b"headers", ack_frame.payload)
            ws.send_frame(ack_frame)
            ack = em.wait_acks(1)[0]
            self.assertEqual((ack["message_id"], ack["code"], ack["errors"]),
                             (sent["message_id"], 200, []))
            wait_until(lambda: em.stats()["pending"] == 0, what="event settled")

    def test_card_frame(self):
        em = self.start_emulator()
        with em.connect() as ws:
            env = {"schema": "2.0", "header": {"event_id": "e-card", "event_type":
                                               "card.action.trigger"}, "event": {}}
            sent = em.send_event(env, frame_type="card")
            f = ws.recv_frame()
            self.assertEqual(f.header("type"), "card")
            self.assertEqual(json.loads(f.payload), env)
            self.assertEqual(sent["event_id"], "e-card")

    def test_ack_that_breaks_the_protocol_is_flagged(self):
        em = self.start_emulator()
        with em.connect() as ws:
            em.send_text("x")
            f = ws.recv_frame()
            bad = Frame(f.seq_id + 100, f.log_id, f.service, 1, f.headers, b"not json")
            ws.send_frame(bad)
            ack = em.wait_acks(1)[0]
            self.assertIn("no biz_rt header", ack["errors"])
            self.assertIn("payload is not a JSON object", ack["errors"])
            self.assertIn("SeqID/LogID of no frame sent on this connection", ack["errors"])
            ws.send_frame(Frame(f.seq_id, f.log_id, f.service, 1, f.headers + [("biz_rt", "3")],
                                b'{"code":200,"headers":{},"data":"%%%"}'))
            ack = em.wait_acks(2)[1]
            self.assertEqual(ack["errors"], ["data is not base64"])
            self.assertEqual((ack["code"], ack["data"]), (200, None))
            ws.send_frame(Frame(f.seq_id, f.log_id, f.service, 1, f.headers + [("biz_rt", "3")],
                                b'{"code":200,"headers":"none"}'))
            ack = em.wait_acks(3)[2]
            self.assertEqual(ack["errors"], ["payload headers is not an object"])

    def test_fragments_out_of_order(self):
        em = self.start_emulator()
        with em.connect() as ws:
            text = "".join(chr(0x41 + i % 26) for i in range(300 * 1024))
            sent = em.send_text(text, fragments=4, shuffle=True)
            frames = [ws.recv_frame() for _ in range(4)]
            self.assertEqual({f.header("message_id") for f in frames}, {sent["message_id"]})
            self.assertEqual({f.header("sum") for f in frames}, {"4"})
            seqs = [int(f.header("seq")) for f in frames]
            self.assertEqual(sorted(seqs), [0, 1, 2, 3])
            self.assertNotEqual(seqs, [0, 1, 2, 3])
            whole = b"".join(f.payload for f in sorted(frames, key=lambda f: int(f.header("seq"))))
            self.assertEqual(json.loads(json.loads(whole)["event"]["message"]["content"])["text"],
                             text)
            ws.send_frame(frames[-1].ack())
            self.assertEqual(em.wait_acks(1)[0]["errors"], [])

    def test_message_split_into_websocket_continuation_frames(self):
        em = self.start_emulator()
        with em.connect() as ws:
            em.send_text("y" * 1000, ws_chunk=100)
            f = ws.recv_frame()
            self.assertGreater(ws.ws_frames, 5)
            self.assertEqual(json.loads(json.loads(f.payload)["event"]["message"]["content"]),
                             {"text": "y" * 1000})

    def test_unacked_event_is_redelivered_with_same_message_id(self):
        em = self.start_emulator(redeliver_ms=200)
        with em.connect() as ws:
            sent = em.send_text("again")
            first = ws.recv_frame()
            second = ws.recv_frame()
            self.assertEqual(second.header("message_id"), sent["message_id"])
            self.assertEqual(second.payload, first.payload)
            ws.send_frame(second.ack(500))
            third = ws.recv_frame()        # a failed handler is retried too
            self.assertEqual(third.header("message_id"), sent["message_id"])
            ws.send_frame(third.ack(200))
            wait_until(lambda: em.stats()["pending"] == 0, what="event settled")
            self.assertEqual([a["code"] for a in em.acks()], [500, 200])

    def test_gives_up_after_retries(self):
        em = self.start_emulator(redeliver_ms=50, args=["--retries", "2"])
        with em.connect() as ws:
            em.send_text("ignored")
            for _ in range(3):
                ws.recv_frame()
            em.wait_log(r"not acked after 3 deliveries, giving up")
            self.assertEqual(em.stats()["pending"], 0)

    def test_duplicate_delivers_the_same_event_again(self):
        em = self.start_emulator()
        with em.connect() as ws:
            sent = em.send_text("twice", duplicate=1)
            a, b = ws.recv_frame(), ws.recv_frame()
            self.assertEqual(a.payload, b.payload)
            self.assertEqual({a.header("message_id"), b.header("message_id")}, {sent["message_id"]})
            self.assertNotEqual(a.seq_id, b.seq_id)

    def test_no_client_is_503(self):
        em = self.start_emulator()
        status, answer = em.request("POST", "/_emu/events", {"text": "hi"})
        self.assertEqual((status, answer), (503, {"error": "no client connected"}))

    def test_cluster_mode_one_client_per_event(self):
        em = self.start_emulator()
        with em.connect() as a, em.connect() as b:
            em.wait_connections(2)
            ids = {em.send_text("m%d" % i)["message_id"] for i in range(4)}
            got_a = {a.recv_frame().header("message_id") for _ in range(2)}
            got_b = {b.recv_frame().header("message_id") for _ in range(2)}
            self.assertEqual(got_a | got_b, ids)
            self.assertFalse(got_a & got_b)


class ConnectionControl(GatewayCase):
    def test_unmasked_client_frame_is_rejected(self):
        em = self.start_emulator()
        with em.connect() as ws:
            ws.send_raw_frame(OP_BINARY, Frame(0, 0, ws.service_id, 0, [("type", "ping")]).encode(),
                              mask=False)
            opcode, payload = ws.recv()
            self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (OP_CLOSE, 1002))
            with self.assertRaises(Closed):
                ws.recv()
            em.wait_connections(0)

    def test_undecodable_frame_is_rejected(self):
        em = self.start_emulator()
        with em.connect() as ws:
            ws.send_raw_frame(OP_BINARY, b"\x08")          # SeqID's varint cut short
            opcode, payload = ws.recv()
            self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (OP_CLOSE, 1007))
            em.wait_log(r"undecodable pbbp2 frame")

    def test_oversized_message_is_rejected(self):
        em = self.start_emulator()
        with em.connect() as ws:
            # the header announces it: the emulator need not read the whole payload
            ws.sock.sendall(bytes([0x80 | OP_BINARY, 0x80 | 127])
                            + struct.pack("!Q", 4 * 1024 * 1024 + 1) + b"mask" + b"x" * 16)
            opcode, payload = ws.recv()
            self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (OP_CLOSE, 1009))

    def test_text_message_is_rejected(self):
        em = self.start_emulator()
        with em.connect() as ws:
            ws.send_raw_frame(OP_TEXT, b"{}")
            opcode, payload = ws.recv()
            self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (OP_CLOSE, 1003))

    def test_kick_closes_the_tcp_connection(self):
        em = self.start_emulator()
        with em.connect() as ws:
            conn = em.wait_connections(1)[0]
            self.assertEqual(em.kick(conn["id"]), 1)
            with self.assertRaises(Closed):
                ws.recv()
            closed = [c for c in em.connections() if c["id"] == conn["id"]]
            self.assertEqual(closed[0]["open"], False)

    def test_silence_stops_answering_without_closing(self):
        em = self.start_emulator()
        with em.connect() as ws:
            em.wait_connections(1)
            self.assertEqual(em.silence(True), 1)
            self.assertTrue(em.connections()[0]["silent"])
            ws.ping(seq_id=5)
            with self.assertRaises(socket.timeout):   # bounded: silence is the point
                ws.recv(timeout=0.5)
            status, _ = em.request("POST", "/_emu/events", {"text": "lost"})
            self.assertEqual(status, 503)
            with em.connect() as fresh:               # new connections are not silenced
                fresh.ping(seq_id=1)
                self.assertEqual(fresh.recv_frame().header("type"), "pong")
            em.silence(False)
            self.assertEqual(ws.recv_frame().seq_id, 5)

    def test_client_close_handshake(self):
        em = self.start_emulator()
        with em.connect() as ws:
            em.wait_connections(1)
            ws.send_raw_frame(OP_CLOSE, struct.pack("!H", 1000))
            opcode, payload = ws.recv()
            self.assertEqual((opcode, struct.unpack("!H", payload[:2])[0]), (OP_CLOSE, 1000))
            em.wait_connections(0)

    def test_connection_limit(self):
        em = self.start_emulator()
        conns = [em.connect() for _ in range(50)]
        try:
            status, answer = em.discover()
            self.assertEqual(answer["code"], 1000040350)
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
