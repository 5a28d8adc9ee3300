"""The emulator's cards, called as a client would: card entities and
their streaming text, settings and full update; interactive messages carrying a card;
PATCH of a card message. Checked against the platform's rules: sequence strictly
increasing, element ids, update_multi, 30 KB, 10 operations/s per card and 5 updates/s
per message (99991400), tenant tokens only."""
import json
import unittest

from harness import GatewayCase

CARDS = "/open-apis/cardkit/v1/cards"


def streaming_card(text="", element_id="answer", **config):
    cfg = {"streaming_mode": True, "update_multi": True}
    cfg.update(config)
    return {"schema": "2.0", "config": cfg,
            "body": {"elements": [{"tag": "markdown", "element_id": element_id,
                                   "content": text}]}}


def windows_over(times_ms, n, span_ms=1000):
    """Whether more than n of the sorted times fall within one span."""
    return any(times_ms[i + n] - times_ms[i] < span_ms for i in range(len(times_ms) - n))


class EmulatorCardkit(GatewayCase):
    def setUp(self):
        self.em = self.start_emulator()
        self.token = self.em.tenant_token()

    def call(self, method, path, body=None, token=None):
        status, _, answer = self.em.api(method, path, body, token=token or self.token)
        return status, answer

    def create(self, card=None):
        status, a = self.call("POST", CARDS, {"type": "card_json",
                                              "data": json.dumps(card or streaming_card())})
        self.assertEqual((status, a["code"]), (200, 0), a)
        return a["data"]["card_id"]

    def content(self, card_id, text, seq, element="answer"):
        return self.call("PUT", "%s/%s/elements/%s/content" % (CARDS, card_id, element),
                         {"content": text, "sequence": seq, "uuid": "u-%d" % seq})

    def reply_with(self, card_id, to="om_parent"):
        return self.call("POST", "/open-apis/im/v1/messages/%s/reply" % to,
                         {"msg_type": "interactive",
                          "content": json.dumps({"type": "card", "data": {"card_id": card_id}})})

    def test_streaming_text_then_settings_ends_streaming(self):
        cid = self.create()
        status, a = self.reply_with(cid)
        self.assertEqual(a["code"], 0, a)
        mid = a["data"]["message_id"]
        for seq, text in ((1, "Hel"), (2, "Hello"), (5, "Hello world")):
            status, a = self.content(cid, text, seq)
            self.assertEqual((status, a["code"]), (200, 0), a)
        status, a = self.call("PATCH", "%s/%s/settings" % (CARDS, cid),
                              {"settings": json.dumps({"config": {"streaming_mode": False}}),
                               "sequence": 6})
        self.assertEqual(a["code"], 0, a)
        card, = self.em.cards(cid)
        self.assertEqual(card["texts"], {"answer": "Hello world"})
        self.assertEqual(card["message_id"], mid)
        self.assertFalse(card["streaming_mode"])
        self.assertEqual(card["sequence"], 6)
        self.assertEqual(card["ops"], 5)            # create, three texts, settings
        # streaming is over: text updates are refused; a full update still works
        self.assertEqual(self.content(cid, "more", 7)[1]["code"], 300309)
        status, a = self.call("PUT", "%s/%s" % (CARDS, cid),
                              {"card": {"type": "card_json",
                                        "data": json.dumps(streaming_card("new", "other",
                                                                          streaming_mode=False))},
                               "sequence": 8})
        self.assertEqual(a["code"], 0, a)
        self.assertEqual(self.em.cards(cid)[0]["texts"], {"other": "new"})

    def test_sequence_must_increase(self):
        cid = self.create()
        self.assertEqual(self.content(cid, "a", 3)[1]["code"], 0)
        for seq in (3, 2):
            status, a = self.content(cid, "b", seq)
            self.assertEqual((status, a["code"]), (400, 300317), a)
        self.assertEqual(self.content(cid, "c", 0)[1]["code"], 10002)
        self.assertEqual(self.content(cid, "c", 4)[1]["code"], 0)
        self.assertEqual(self.em.cards(cid)[0]["texts"]["answer"], "c")

    def test_refusals_name_the_platform_codes(self):
        cases = [
            ({"type": "template", "data": "{}"}, 10002),
            ({"type": "card_json", "data": "not json"}, 200220),
            ({"type": "card_json", "data": json.dumps(streaming_card(element_id="9lives"))}, 10002),
            ({"type": "card_json", "data": json.dumps(streaming_card(element_id="a" * 21))}, 10002),
            ({"type": "card_json", "data": json.dumps(streaming_card(update_multi=False))}, 300302),
            ({"type": "card_json", "data": json.dumps(streaming_card("x" * 31000))}, 200860),
        ]
        for body, code in cases:
            status, a = self.call("POST", CARDS, body)
            self.assertEqual((status, a["code"]), (400, code), (body["data"][:60], a))
        twice = streaming_card()
        twice["body"]["elements"].append(dict(twice["body"]["elements"][0]))
        self.assertEqual(self.call("POST", CARDS, {"type": "card_json",
                                                   "data": json.dumps(twice)})[1]["code"], 10002)
        cid = self.create()
        self.assertEqual(self.content(cid, "x", 1, element="missing")[1]["code"], 300305)
        self.assertEqual(self.content("7000000000000000000", "x", 1)[1]["code"], 200740)
        app = self.em.api("POST", "/open-apis/auth/v3/app_access_token/internal",
                          {"app_id": self.em.app_id, "app_secret": self.em.app_secret})[2]
        self.assertEqual(self.content(cid, "x", 1, )[1]["code"], 0)
        self.assertEqual(self.call("PUT", "%s/%s/elements/answer/content" % (CARDS, cid),
                                   {"content": "y", "sequence": 2},
                                   token=app["app_access_token"])[1]["code"], 99991663)
        self.assertEqual(len(self.em.cards()), 1)

    def test_ten_operations_per_second_per_card(self):
        cid = self.create()
        answers = [self.content(cid, "t%d" % i, i + 1) for i in range(25)]
        codes = [a["code"] for _, a in answers]
        self.assertTrue(set(codes) <= {0, 99991400}, codes)
        for status, a in answers:
            if a["code"]:
                self.assertEqual(status, 429)
        card, = self.em.cards(cid)
        self.assertFalse(windows_over(card["ops_ms"], 10), card["ops_ms"])
        self.assertEqual(card["refused"], codes.count(99991400))
        # what the emulator saw: 11 or more operations within a second must be refused
        seen = [c["received_ms"] for c in self.em.api_calls(CARDS)]
        if windows_over(sorted(seen), 10):
            self.assertGreater(card["refused"], 0)
        # another card has its own budget
        other = self.create()
        self.assertEqual(self.content(other, "x", 1)[1]["code"], 0)

    def test_a_card_entity_is_sent_once(self):
        cid = self.create()
        self.assertEqual(self.reply_with(cid)[1]["code"], 0)
        status, a = self.reply_with(cid)
        self.assertEqual((status, a["code"]), (400, 230001), a)
        self.assertEqual(self.reply_with("7000000000000000001")[1]["code"], 200740)
        self.assertEqual(len(self.em.card_messages()), 1)

    def test_patch_a_card_message(self):
        card = {"config": {"update_multi": True},
                "elements": [{"tag": "div", "text": {"tag": "plain_text", "content": "v1"}}]}
        status, _, a = self.em.api("POST", "/open-apis/im/v1/messages",
                                   {"receive_id": "oc_chat", "msg_type": "interactive",
                                    "content": json.dumps(card)}, token=self.token,
                                   query={"receive_id_type": "chat_id"})
        self.assertEqual(a["code"], 0, a)
        mid = a["data"]["message_id"]
        card["elements"][0]["text"]["content"] = "v2"
        status, a = self.call("PATCH", "/open-apis/im/v1/messages/" + mid,
                              {"content": json.dumps(card)})
        self.assertEqual((status, a["code"]), (200, 0), a)
        rec, = self.em.card_messages(mid)
        self.assertEqual(rec["card"]["elements"][0]["text"]["content"], "v2")
        self.assertEqual(rec["updates"], 1)
        # the new card must keep update_multi; a text message or an unknown id is no card
        single = {"elements": card["elements"]}
        self.assertEqual(self.call("PATCH", "/open-apis/im/v1/messages/" + mid,
                                   {"content": json.dumps(single)})[1]["code"], 230001)
        _, _, t = self.em.api("POST", "/open-apis/im/v1/messages/om_x/reply",
                              {"msg_type": "text", "content": json.dumps({"text": "hi"})},
                              token=self.token)
        for target in (t["data"]["message_id"], "om_unknown"):
            self.assertEqual(self.call("PATCH", "/open-apis/im/v1/messages/" + target,
                                       {"content": json.dumps(card)})[1]["code"], 230001)
        # five updates per second per message
        answers = [self.call("PATCH", "/open-apis/im/v1/messages/" + mid,
                             {"content": json.dumps(card)})[1]["code"] for _ in range(12)]
        self.assertTrue(set(answers) <= {0, 99991400}, answers)
        rec, = self.em.card_messages(mid)
        self.assertEqual(rec["refused"], answers.count(99991400))
        patches = sorted(c["received_ms"] for c in self.em.api_calls("/open-apis/im/v1/messages/")
                         if c["method"] == "PATCH" and c["path"].endswith(mid))
        if windows_over(patches, 5):
            self.assertGreater(rec["refused"], 0)

    def test_control_lists_and_clears(self):
        cid = self.create()
        self.assertEqual([c["card_id"] for c in self.em.cards()], [cid])
        self.assertEqual(self.em.cards("7000000000000000009"), [])
        self.assertEqual(self.em.clear_cards(), 1)
        self.assertEqual(self.em.cards(), [])
        status, _ = self.em.request("POST", "/_emu/cards", {})
        self.assertEqual(status, 405)
        status, _ = self.em.request("GET", "/_emu/cardz")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
