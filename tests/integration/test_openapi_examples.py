"""The example bots of scripts/examples, unmodified, against the emulator: echo.lua
replies with what it was sent, commands.lua answers /ping, /help and unknown commands
and leaves plain text alone."""
import json
import os
import unittest

from harness import SRC, GatewayCase
from log_secrets import assert_no_secrets

TOKEN = "v-token-7c1e"
HELP = ("Commands:\n/help - this list\n/ping - check that the bot is alive\n"
        "/standup - stand-up cards on weekdays: /standup on | off")


def example(name):
    with open(os.path.join(SRC, "scripts", "examples", name)) as f:
        return f.read()


class Examples(GatewayCase):
    def replies_to(self, script, texts):
        """{text sent: text of the bot's reply} for one example script."""
        out = {}
        em = self.start_emulator(verification_token=TOKEN)
        d = self.start_daemon(config=em.gateway_config(), scripts={script: example(script)})
        em.wait_connections(1, timeout=20)
        for i, text in enumerate(texts):
            em.send_text(text, chat_id="oc_ex%d" % i, im_message_id="om_ex%d" % i)
        # every handler has finished once every event is acked: the calls are all in
        em.wait_acks(len(texts), timeout=20)
        calls = em.wait_api_calls(0, path="/open-apis/im/v1/messages/", answered=True)
        for c in calls:
            self.assertEqual((c["code"], c["body"]["msg_type"]), (0, "text"), c)
            i = int(c["path"].split("/")[-2][len("om_ex"):])
            out[texts[i]] = json.loads(c["body"]["content"])["text"]
        d.stop()
        assert_no_secrets(em, d.log())
        return out

    def test_echo(self):
        got = self.replies_to("echo.lua", ["hello", "@_user_1  hi there ", "/ping"])
        self.assertEqual(got, {"hello": "echo: hello", "@_user_1  hi there ": "echo: hi there"})

    def test_commands(self):
        got = self.replies_to("commands.lua", ["/ping", "/help", "/nope", "hello", "/",
                                               "/standup on"])
        self.assertEqual(got, {"/ping": "pong", "/help": HELP, "/nope": HELP, "/": HELP})


if __name__ == "__main__":
    unittest.main()
