"""Limits per state and per event (issue 5), through the daemon: each attack fails only
its own event (500 on the webhook, ack 500 on the long connection) with ONE log line
naming the script and the limit; the gateway keeps serving; the state's memory, read
from /metrics, comes back. A handler's error text cannot forge a second log line."""
import json
import re
import unittest

import lark_crypto as lc
from harness import GatewayCase

TOKEN = "v-token-7c1e"
FAST = {"PingInterval": 1, "ReconnectInterval": 1, "ReconnectNonce": 1}
# the CPU budget leaves the memory attacks room to hit their limit first: under ASan,
# filling 32 MB can take a few hundred ms of CPU
LIMITS = {"handler_timeout_ms": 1000, "memory_mb": 32, "max_recursion": 150, "max_coroutines": 100}

TIME = "time budget spent (limits.handler_timeout_ms = 1000)"
MEM = "not enough memory (limits.memory_mb = 32)"
DEPTH = "recursion too deep (limits.max_recursion = 150)"
COROS = "too many coroutines (limits.max_coroutines = 100)"

ATTACKS = {
    "loop": ("while true do end", TIME),
    "alloc": ("local t = {} while true do t[#t + 1] = {} end", MEM),
    "rep": ("local s = string.rep('x', 2^31)", MEM),
    "recursion": ("local function f(n) return 1 + f(n + 1) end f(1)", DEPTH),
    "coroutines": ("while true do coroutine.wrap(function() coroutine.yield() end)() end", COROS),
    "find": ("string.rep('a', 5000):find('.-.-.-.-.-.-b')", TIME),
    "match": ("string.match(string.rep('a', 5000), '(.-)(.-)(.-)(.-)(.-)(.-)b')", TIME),
    "gmatch": ("for _ in string.rep('a', 5000):gmatch('.-.-.-.-.-.-b') do end", TIME),
    "gsub": ("string.rep('a', 5000):gsub('.-.-.-.-.-.-b', '')", TIME),
    "concat": ("table.concat(setmetatable({}, {__index = table.concat}), '', 1, 1 << 60)", TIME),
    "hidden": ("while true do pcall(function() while true do end end) end", TIME),
}

BAD = "local attacks = {\n%s}\n" % "".join(
    "  [%r] = function()\n    %s\n  end,\n" % (name, code) for name, (code, _) in ATTACKS.items()) + r'''
function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  local attack = attacks[text]
  if attack then attack() end
  if text:sub(1, 6) == "forge " then error("unknown command: " .. text:sub(7)) end
  return { ok = text }
end
'''

GOOD = r'''
function on_p2_message_receive_v1(event)
  lark.store.incr("good")
end
'''


def memory(d, script):
    return d.metric('larkgw_lua_memory_bytes{script="%s"}' % script)


class Limits(GatewayCase):

    @classmethod
    def setUpClass(cls):
        cls.em = cls.start_class_emulator(client_config=FAST, verification_token=TOKEN,
                                          redeliver_ms=600000)
        config = cls.em.gateway_config(mode="both", verification_token=TOKEN, limits=LIMITS)
        cls.d = cls.start_class_daemon(config=config, scripts={"bad.lua": BAD, "good.lua": GOOD})
        cls.em.wait_connections(1, timeout=20)

    def webhook(self, text):
        env = lc.message_event(text)
        status, _, body = self.d.post(json.dumps(env))
        return env["header"]["event_id"], status, body

    def ws(self, text):
        sent = self.em.send_text(text, retries=0)
        ack = self.em.wait_acks(1, timeout=20, message_id=sent["message_id"])[0]
        return sent["event_id"], ack["code"], ack["data"]

    def attack(self, name, via):
        _, msg = ATTACKS[name]
        self.assertEqual(via("warm up")[1], 200)
        before = memory(self.d, "bad.lua")
        event_id, status, _ = via(name)
        self.assertEqual(status, 500)
        self.d.wait_log(r"%s.*%s" % (re.escape(event_id), re.escape(msg)))
        lines = [l for l in self.d.log().splitlines() if event_id in l and "limits." in l]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("bad.lua: event %s (im.message.receive_v1): handler failed: " % event_id, lines[0])
        self.assertIn(msg, lines[0])
        self.assertEqual(len([l for l in self.d.log().splitlines()
                              if event_id in l and "ERROR" in l]), 1)
        # the gateway goes on serving, the attacking script included
        _, status, body = via("after " + name)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"ok": "after " + name})
        after = memory(self.d, "bad.lua")
        self.assertLess(after, before + (512 << 10), "memory not back: %d -> %d" % (before, after))

    def test_each_attack_over_the_webhook(self):
        for name in ATTACKS:
            with self.subTest(attack=name):
                self.attack(name, self.webhook)

    def test_attacks_over_the_long_connection_ack_500(self):
        for name in ("loop", "alloc", "find", "coroutines"):
            with self.subTest(attack=name):
                self.attack(name, self.ws)

    def test_error_text_cannot_forge_a_log_line(self):
        fake = "2026-01-01T00:00:00.000Z ERROR gateway: admin password is hunter2"
        for via in (self.webhook, self.ws):
            with self.subTest(via=via.__name__):
                event_id, status, _ = via("forge x\r\n" + fake + "\x1b[2K")
                self.assertEqual(status, 500)
                self.d.wait_log(re.escape(event_id) + r".*unknown command: x")
                lines = [l for l in self.d.log().splitlines() if "hunter2" in l]
                self.assertEqual(len([l for l in lines if event_id in l]), 1, lines)
                self.assertFalse([l for l in lines if l.startswith(fake[:24])], lines)
                self.assertIn("unknown command: x\\x0d\\n" + fake + "\\x1b[2K", lines[-1])


if __name__ == "__main__":
    unittest.main(verbosity=2)
