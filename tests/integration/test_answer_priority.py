"""Which answer wins when several scripts return a table for one event: a specific
handler (lark.on or the conventional name) outranks an on_event catch-all; among equals
the first script by file name wins, whichever finished first."""
import json
import unittest

import lark_crypto as lc
from harness import GatewayCase

CATCHALL_A = r'''
function on_event(event) return { who = "a-catchall" } end
'''
# b finishes last (it waits) and still wins: it is the first specific one by file name.
SPECIFIC_B = r'''
lark.on("im.message.receive_v1", function(event)
  lark.sleep(0.2)
  return { who = "b-lark.on" }
end)
'''
SPECIFIC_C = r'''
function on_p2_message_receive_v1(event) return { who = "c-conventional" } end
'''
CATCHALL_D = r'''
function on_event(event) return { who = "d-catchall" } end
'''


class AnswerPriority(GatewayCase):

    def answer(self, d):
        status, _, body = d.post(json.dumps(lc.message_event()))
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_specific_outranks_catchall(self):
        d = self.start_daemon(scripts={"a.lua": CATCHALL_A, "b.lua": SPECIFIC_B,
                                       "c.lua": SPECIFIC_C, "d.lua": CATCHALL_D})
        self.assertEqual(self.answer(d), {"who": "b-lark.on"})

    def test_conventional_name_outranks_catchall(self):
        d = self.start_daemon(scripts={"a.lua": CATCHALL_A, "c.lua": SPECIFIC_C})
        self.assertEqual(self.answer(d), {"who": "c-conventional"})

    def test_first_catchall_by_file_name(self):
        d = self.start_daemon(scripts={"d.lua": CATCHALL_D, "a.lua": CATCHALL_A})
        self.assertEqual(self.answer(d), {"who": "a-catchall"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
