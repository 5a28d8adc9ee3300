"""Reload chaos under load: the scripts directory deleted and made again, over and over,
while 100 SIGHUPs arrive within a second and webhook events keep coming. Every event
sent meanwhile is answered; afterwards a save of a new version is seen (the watch found
the new directory) and used; the daemon exits 0."""
import json
import os
import shutil
import signal
import tempfile
import threading
import time
import unittest

import lark_crypto as lc
from harness import GatewayCase, wait_until

SCRIPT = r'''
local VERSION = %d
function on_p2_message_receive_v1(event)
  return { v = VERSION }
end
'''
SENDERS = 4
REPLACEMENTS = 20
SIGHUPS = 100


class Sender(threading.Thread):
    """Posts events one after another until told to stop; keeps every answer."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.answers = []
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                status, _, body = self.d.post(json.dumps(lc.message_event("chaos")))
                self.answers.append((status, body))
            except Exception as e:  # recorded, the test fails on it
                self.errors.append(repr(e))


class ReloadChaos(GatewayCase):

    def replace_directory(self, d, i):
        """Deletes the scripts directory (outright, or moved away first) and puts a
        complete new one in its place."""
        if i % 2:
            shutil.rmtree(d.scripts_dir)
        else:
            away = d.scripts_dir + ".away"
            os.rename(d.scripts_dir, away)
            shutil.rmtree(away)
        time.sleep(0.02)
        fresh = tempfile.mkdtemp(dir=d.dir)
        with open(os.path.join(fresh, "v.lua"), "w") as f:
            f.write(SCRIPT % 1)
        os.rename(fresh, d.scripts_dir)
        time.sleep(0.02)

    def answer(self, d):
        status, _, body = d.post(json.dumps(lc.message_event("after")))
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_directory_replaced_and_sighup_storm_under_load(self):
        d = self.start_daemon(scripts={"v.lua": SCRIPT % 1}, config={"log": {"level": "info"}})
        self.assertEqual(self.answer(d), {"v": 1})
        senders = [Sender(d) for _ in range(SENDERS)]
        for s in senders:
            s.start()

        def storm():
            for _ in range(SIGHUPS):
                d.signal(signal.SIGHUP)
                time.sleep(1.0 / SIGHUPS)
        hups = threading.Thread(target=storm, daemon=True)
        hups.start()
        try:
            for i in range(REPLACEMENTS):
                self.replace_directory(d, i)
            hups.join(timeout=30)
        finally:
            for s in senders:
                s.stop.set()
            for s in senders:
                s.join(timeout=30)
        self.assertFalse(hups.is_alive() or any(s.is_alive() for s in senders), "stuck")
        self.assertEqual([e for s in senders for e in s.errors], [])
        answers = [a for s in senders for a in s.answers]
        self.assertGreater(len(answers), SENDERS)
        self.assertEqual([a for a in answers if a[0] != 200], [])
        self.assertIsNone(d.proc.poll())

        # the last directory is the one watched now: a save there loads version 2
        d.write_script("v.lua", SCRIPT % 2)
        wait_until(lambda: self.answer(d).get("v") == 2, timeout=10, interval=0.05,
                   what="version 2 loaded from the new directory")
        print("\n%d events answered during %d directory replacements and %d SIGHUPs; "
              "%d reloads, %d refused"
              % (len(answers), REPLACEMENTS, SIGHUPS, d.log().count("reloaded scripts in"),
                 d.log().count("reload failed")))
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
