"""scripts/examples/assistant.lua, unmodified, end to end: larkgw run against larkgw
emulator, whose stand-in model streams a scripted answer over Server-Sent Events. The
card's final text is the answer, card operations stay within 10 per second, the event
is acked before the answer is done, the chat's memory reaches the model and /reset
forgets it, and a failing model leaves a friendly card. The key never reaches the log."""
import json
import os
import unittest

from harness import SRC, Daemon, GatewayCase, wait_until

TOKEN = "v-token-7c1e"
KEY = "sk-assistant-test-4f1d"
ANSWER = ("Streaming answers arrive word by word, and the card shows them as they come. "
          "This one is long enough to take a while: " + " ".join("w%d" % i for i in range(40)))


def over_rate(times_ms, n=10, span_ms=1000):
    times_ms = sorted(times_ms)
    return any(times_ms[i + n] - times_ms[i] < span_ms for i in range(len(times_ms) - n))


class Assistant(GatewayCase):
    def setUp(self):
        self.em = self.start_emulator(verification_token=TOKEN)
        self.em.llm_settings(answer=ANSWER, delay_ms=30, key=KEY)
        with open(os.path.join(SRC, "scripts", "examples", "assistant.lua")) as f:
            script = f.read()
        cfg = self.em.gateway_config(
            ack_deadline_ms=300, limits={"handler_max_s": 60},
            vars={"llm_url": self.em.url, "llm_key": KEY, "llm_model": "emu-model"})
        self.d = Daemon(start=False, config=cfg, scripts={"assistant.lua": script})
        self.addCleanup(self.d.cleanup)
        # the model is the emulator: its exact host:port, loopback allowed because listed
        with open(self.d.config_path, "a") as f:
            f.write('http = { allow = { "127.0.0.1:%d" } }\n' % self.em.port)
        self.d.start()
        self.addCleanup(lambda: self.d.proc.poll() is None and self.d.stop())
        self.em.wait_connections(1)
        self._n = 0

    def ask(self, text, chat="oc_talk"):
        self._n += 1
        mid = "om_q%d" % self._n
        self.em.send_text(text, chat_id=chat, im_message_id=mid)
        return mid

    def final_card(self, n):
        """The n-th card (1-based) once its streaming ended."""
        def done():
            cards = self.em.cards()
            return cards[n - 1] if len(cards) >= n and not cards[n - 1]["streaming_mode"] else None
        return wait_until(done, timeout=60, what="card %d finished" % n)

    def test_streams_the_answer_into_a_card_after_the_ack(self):
        mid = self.ask("What is larkgw?")
        ack = self.em.wait_acks(1, timeout=20)[0]
        self.assertEqual(ack["code"], 200)
        # acked while the answer was still streaming
        self.assertTrue(all(c["streaming_mode"] for c in self.em.cards()))
        self.assertIn(self.em.llm()["calls"][0]["outcome"], ("streaming", "pending"))
        card = self.final_card(1)
        self.assertEqual(card["texts"]["answer"], ANSWER)
        self.assertEqual(card["refused"], 0)
        self.assertFalse(over_rate(card["ops_ms"]), card["ops_ms"])
        self.assertGreater(card["ops"], 3)          # it did stream, not one final write
        reply, = [c for c in self.em.api_calls("/open-apis/im/v1/messages/")
                  if c["path"].endswith("/reply")]
        self.assertEqual(reply["path"], "/open-apis/im/v1/messages/%s/reply" % mid)
        self.assertEqual(reply["answer"]["data"]["message_id"], card["message_id"])
        call, = self.em.llm()["calls"]
        self.assertEqual((call["model"], call["stream"], call["authorization"]),
                         ("emu-model", True, "Bearer " + KEY))
        self.assertEqual([m["role"] for m in call["messages"]], ["system", "user"])
        self.assertEqual(call["messages"][1]["content"], "What is larkgw?")
        self.assertEqual(call["outcome"], "done")
        self.assertNotIn(KEY, self.d.log())

    def test_memory_per_chat_and_reset(self):
        self.em.llm_settings(answer="short answer", delay_ms=1)
        self.ask("first question")
        self.final_card(1)
        self.ask("second question")
        self.final_card(2)
        self.ask("elsewhere", chat="oc_other")
        self.final_card(3)
        calls = self.em.llm()["calls"]
        self.assertEqual([(m["role"], m["content"]) for m in calls[1]["messages"][1:]],
                         [("user", "first question"), ("assistant", "short answer"),
                          ("user", "second question")])
        self.assertEqual(len(calls[2]["messages"]), 2)
        self.ask("/reset")
        self.em.wait_acks(4, timeout=20)
        wait_until(lambda: any(c["body"]["msg_type"] == "text" and
                               json.loads(c["body"]["content"])["text"] == "Conversation forgotten."
                               for c in self.em.api_calls("/open-apis/im/v1/messages/")),
                   what="the /reset answer")
        self.ask("after reset")
        self.final_card(4)
        self.assertEqual(len(self.em.llm()["calls"][3]["messages"]), 2)

    def test_a_failing_model_leaves_a_friendly_card(self):
        self.em.llm_settings(fail="500", fail_count=1)
        self.ask("hello")
        text = self.final_card(1)["texts"]["answer"]
        self.assertIn("Sorry", text)
        self.assertIn("HTTP 500", text)
        self.em.llm_settings(answer="one two three four five six", delay_ms=5, fail="cut",
                             fail_count=1)
        self.ask("again")
        text = self.final_card(2)["texts"]["answer"]
        self.assertTrue(text.startswith("one two three\n\n"), text)
        self.assertIn("cut off", text)
        # the failures were not remembered as answers
        self.em.llm_settings(answer="fine", delay_ms=1)
        self.ask("third")
        self.final_card(3)
        roles = [m["role"] for m in self.em.llm()["calls"][-1]["messages"]]
        self.assertNotIn("assistant", roles)


if __name__ == "__main__":
    unittest.main()
