"""The emulator's flood, POST /_emu/events {"text", "count": N}: N fresh events, each
with its own ids, never more than "window" waiting for an ack, the next delivered as
acks come back; its bounds on that network input; DELETE /_emu/events; the ack records
staying bounded however many events go by."""
import json
import unittest

from harness import GatewayCase, wait_until


def event_of(frame):
    env = json.loads(frame.payload)
    return env["header"]["event_id"], env["event"]["message"]


class FloodInput(GatewayCase):
    def test_bad_values_are_400_and_start_nothing(self):
        em = self.start_emulator()
        with em.connect():
            em.wait_connections(1)
            for body in ({"text": "a", "count": 0}, {"text": "a", "count": -1},
                         {"text": "a", "count": 1.5}, {"text": "a", "count": "10"},
                         {"text": "a", "count": True}, {"text": "a", "count": 10 ** 10},
                         {"text": "a", "count": 5, "window": 0},
                         {"text": "a", "count": 5, "window": 10001},
                         {"text": "a", "count": 5, "window": "all"},
                         {"text": "a", "count": 5, "chats": 0},
                         {"text": "a", "count": 5, "chats": 100001},
                         {"text": "a", "window": 5}, {"text": "a", "chats": 2},
                         {"count": 2, "event": {"header": {"event_id": "e"}}},
                         {"count": 2, "raw": "{}"},
                         {"text": "a", "count": 2, "event_id": "same-for-all"},
                         {"text": "a", "count": 2, "im_message_id": "om_same"},
                         {"text": "a", "count": 2, "legacy_card": True},
                         {"count": 2}, {"text": 5, "count": 2},
                         {"text": "a", "count": 2, "chat_id": 7},
                         {"text": "a", "count": 2, "fragments": 0}):
                status, answer = em.request("POST", "/_emu/events", body)
                self.assertEqual(status, 400, body)
                self.assertIn("error", answer, body)
            stats = em.stats()
            self.assertEqual((stats["events"], stats["pending"], stats["flood"]), (0, 0, None))

    def test_no_client_is_503(self):
        em = self.start_emulator()
        status, answer = em.request("POST", "/_emu/events", {"text": "a", "count": 3})
        self.assertEqual((status, answer), (503, {"error": "no client connected"}))
        self.assertIsNone(em.stats()["flood"])


class Flood(GatewayCase):
    def test_window_bounds_waiting_events_and_each_ack_refills(self):
        em = self.start_emulator(verification_token="vt-9")
        with em.connect() as ws:
            em.wait_connections(1)
            started = em.flood("load", 12, window=3, chats=2, chat_id="oc_f")
            self.assertEqual(started, {"count": 12, "submitted": 3, "left": 9, "window": 3,
                                       "chats": 2})
            frames = [ws.recv_frame() for _ in range(3)]
            stats = em.stats()     # only an ack lets the next one out: no more were sent
            self.assertEqual((stats["pending"], stats["flood"]["submitted"]), (3, 3))
            status, answer = em.request("POST", "/_emu/events", {"text": "b", "count": 1})
            self.assertEqual(status, 409, answer)
            ws.send_frame(frames[0].ack())
            frames.append(ws.recv_frame())       # the refill
            for f in frames[1:]:
                ws.send_frame(f.ack())
            while len(frames) < 12:
                f = ws.recv_frame()
                frames.append(f)
                ws.send_frame(f.ack())
            wait_until(lambda: em.stats()["settled"] == 12, what="12 events settled")
            stats = em.stats()
            self.assertEqual((stats["pending"], stats["events"], stats["acks_failed"],
                              stats["redeliveries"]), (0, 12, 0, 0))
            self.assertEqual(stats["flood"]["left"], 0)
        events = [event_of(f) for f in frames]
        self.assertEqual(len({f.header("message_id") for f in frames}), 12)
        self.assertEqual(len({ev_id for ev_id, _ in events}), 12)
        self.assertEqual(len({m["message_id"] for _, m in events}), 12)
        self.assertEqual({m["chat_id"] for _, m in events}, {"oc_f_00000", "oc_f_00001"})
        for f in frames:
            env = json.loads(f.payload)
            self.assertEqual((env["header"]["token"], env["header"]["event_type"]),
                             ("vt-9", "im.message.receive_v1"))
            self.assertRegex(env["header"]["event_id"], r"^[0-9a-f]{32}$")
            self.assertRegex(env["event"]["message"]["message_id"], r"^om_[0-9a-f]{32}$")
            self.assertRegex(env["header"]["create_time"], r"^\d{13}$")
            self.assertEqual(json.loads(env["event"]["message"]["content"]), {"text": "load"})
        records = em.acks()
        self.assertEqual({a["event_id"] for a in records}, {ev_id for ev_id, _ in events})
        self.assertTrue(all(a["errors"] == [] for a in records))

    def test_fields_that_need_escaping_stay_intact(self):
        em = self.start_emulator()
        chat, text = 'oc_"q\\_00000"', 'say "chat_id":"x" \\ \u00e9'
        with em.connect() as ws:
            em.wait_connections(1)
            em.flood(text, 2, window=2, chats=2, chat_id=chat, tenant_key='t"1')
            msgs = [event_of(ws.recv_frame())[1] for _ in range(2)]
        self.assertEqual([m["chat_id"] for m in msgs], [chat + "_00000", chat + "_00001"])
        self.assertEqual({json.loads(m["content"])["text"] for m in msgs}, {text})

    def test_other_waiting_events_count_against_the_window(self):
        em = self.start_emulator()
        with em.connect() as ws:
            em.wait_connections(1)
            em.send_text("single 1")
            em.send_text("single 2")
            self.assertEqual(em.flood("f", 5, window=3)["submitted"], 1)
            frames = [ws.recv_frame() for _ in range(3)]
            self.assertEqual(em.stats()["pending"], 3)
            ws.send_frame(frames[0].ack())           # a single one settles: room for one
            frames.append(ws.recv_frame())
            self.assertEqual(em.stats()["flood"]["submitted"], 2)

    def test_stop_delivers_no_more(self):
        em = self.start_emulator()
        with em.connect() as ws:
            em.wait_connections(1)
            em.flood("f", 1000, window=2)
            frames = [ws.recv_frame() for _ in range(2)]
            self.assertEqual(em.stop_flood(), 998)
            self.assertEqual(em.stop_flood(), 0)
            for f in frames:
                ws.send_frame(f.ack())
            wait_until(lambda: em.stats()["settled"] == 2, what="2 events settled")
            stats = em.stats()
            self.assertEqual((stats["pending"], stats["flood"]["submitted"],
                              stats["flood"]["left"]), (0, 2, 0))
            self.assertEqual(em.flood("again", 1)["submitted"], 1)   # a new one may start

    def test_failed_acks_and_redeliveries_are_counted(self):
        em = self.start_emulator(redeliver_ms=100)
        with em.connect() as ws:
            em.wait_connections(1)
            em.flood("f", 1, window=1)
            first = ws.recv_frame()
            ws.send_frame(first.ack(500))
            again = ws.recv_frame()
            self.assertEqual(again.header("message_id"), first.header("message_id"))
            ws.send_frame(again.ack(200))
            wait_until(lambda: em.stats()["settled"] == 1, what="the event settled")
            stats = em.stats()
            self.assertEqual(stats["acks_failed"], 1)
            self.assertGreaterEqual(stats["redeliveries"], 1)

    def test_ack_records_stay_bounded(self):
        # 10000 records are kept (src/emulator/README.md, Limits); the counters go on
        em = self.start_emulator()
        n = 10050
        with em.connect() as ws:
            em.wait_connections(1)
            em.flood("f", n, window=200)
            for _ in range(n):
                ws.send_frame(ws.recv_frame().ack())
            wait_until(lambda: em.stats()["settled"] == n, timeout=60, what="all settled")
        stats = em.stats()
        self.assertEqual((stats["acks"], stats["pending"]), (n, 0))
        self.assertEqual(len(em.acks()), 10000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
