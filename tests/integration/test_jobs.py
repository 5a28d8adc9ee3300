"""Schedules in the running daemon: GET /admin/jobs and the job metrics, a job that
outlives its period is skipped (counted, logged) and never doubled, 20 reloads under a
1-second job neither double-run it nor stall it, and `larkgw check` refuses a bad cron
spec or zone with file:line."""
import json
import os
import re
import subprocess
import tempfile
import time

from harness import BIN, SRC, GatewayCase, http, wait_until

JOBS = """
lark.every(0.2, function() print('fast ok') end, { name = 'fast' })
lark.every(0.2, function()
  lark.sleep(0.5)
  print('slow done')
end, { name = 'slow' })
lark.cron('*/5 9-18 * * 1-5', function() end, { name = 'office', tz = 'Europe/Berlin' })
lark.after(0.1, function() error('once and wrong') end, { name = 'oneshot' })
"""

# Each run logs its wall-clock start; a double run shows as two starts close together.
BEAT = """
lark.every(1, function()
  print(string.format('beat at %.3f', lark.now()))
end, { name = 'beat' })
"""


def jobs(d):
    status, headers, body = http(d.admin_port, "GET", "/admin/jobs")
    assert status == 200, (status, body)
    assert headers["content-type"] == "application/json", headers
    return {j["name"]: j for j in json.loads(body)["jobs"]}


class Jobs(GatewayCase):
    def test_admin_jobs_metrics_and_skips(self):
        d = self.start_daemon(scripts={"jobs.lua": JOBS})
        d.wait_log(r"jobs: jobs\.lua: job oneshot failed: .*jobs\.lua:8: once and wrong")
        d.wait_log(r"jobs\.lua: job slow skipped: its previous run .* is still going")
        d.wait_log(r"slow done")
        d.wait_log(r"fast ok", count=3)
        got = jobs(d)
        self.assertEqual(sorted(got), ["fast", "office", "oneshot", "slow"])
        # a top-level one-shot that fired stays listed with its outcome, not counted
        self.assertIsNone(got["oneshot"]["next_run"])
        self.assertEqual(got["oneshot"]["last_result"], "failed")
        self.assertRegex(got["oneshot"]["last_error"], r"jobs\.lua:8: once and wrong$")
        self.assertEqual(got["office"]["kind"], "cron")
        self.assertEqual(got["office"]["spec"], "*/5 9-18 * * 1-5")
        self.assertEqual(got["office"]["tz"], "Europe/Berlin")
        self.assertRegex(got["office"]["next_run"], r"^\d{4}-\d\d-\d\dT\d\d:\d[05]:00Z$")
        self.assertIsNone(got["office"]["last_result"])
        self.assertEqual(got["fast"]["spec"], "0.2 s")
        self.assertEqual(got["fast"]["last_result"], "ok")
        self.assertGreaterEqual(got["fast"]["runs"], 3)
        self.assertIn("last_duration_ms", got["fast"])
        self.assertGreaterEqual(got["slow"]["skips"], 1)
        self.assertEqual(got["slow"]["failures"], 0)
        self.assertEqual(d.metric("larkgw_jobs"), 3)
        self.assertGreaterEqual(d.metric("larkgw_job_runs_total"), 4)
        self.assertEqual(d.metric("larkgw_job_failures_total"), 1)
        self.assertGreaterEqual(d.metric("larkgw_job_skips_total"), 1)
        self.assertEqual(http(d.admin_port, "POST", "/admin/jobs")[0], 405)

    def test_twenty_reloads_under_a_one_second_job(self):
        d = self.start_daemon(scripts={"beat.lua": BEAT})
        d.wait_log(r"beat at", count=1, timeout=15)
        for i in range(20):
            status, _, body = http(d.admin_port, "POST", "/admin/reload")
            self.assertEqual(status, 200, body)
            # spread over ~6 s, so the reloads land at every phase of the period
            time.sleep(0.3)
        n = len(re.findall(r"beat at", d.log()))
        d.wait_log(r"beat at", count=n + 1, timeout=15)
        self.assertEqual(len(re.findall(r"gateway: reloaded scripts", d.log())), 20)
        self.assertEqual(len(re.findall(r"1 job registered \(1 carried over\)", d.log())), 20)
        starts = [float(x) for x in re.findall(r"beat at (\d+\.\d+)", d.log())]
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        self.assertGreaterEqual(len(starts), 6, starts)
        # no double run: a second start within the period; no stall: a reload restarting
        # the period would have kept it from running at all while they went on
        self.assertGreater(min(gaps), 0.5, gaps)
        self.assertLess(max(gaps), 3.0, gaps)
        self.assertEqual(jobs(d)["beat"]["failures"], 0)

    def test_removed_job_stops(self):
        d = self.start_daemon(scripts={"beat.lua": BEAT.replace("every(1", "every(0.2")})
        d.wait_log(r"beat at", count=2)
        d.write_script("beat.lua", "-- no jobs any more\n")
        wait_until(lambda: jobs(d) == {}, timeout=10, what="the job gone after the reload")
        n = len(re.findall(r"beat at", d.log()))
        # the heartbeat of another job bounds the wait: 5 runs of it, none of the old one
        d.write_script("other.lua", "lark.every(0.2, function() print('other') end)\n")
        d.wait_log(r"other", count=5)
        self.assertEqual(len(re.findall(r"beat at", d.log())), n)


class Check(GatewayCase):
    def check(self, script):
        with tempfile.TemporaryDirectory(prefix="larkgw-jobs-") as tmp:
            path = os.path.join(tmp, "bot.lua")
            with open(path, "w") as f:
                f.write(script)
            env = {k: v for k, v in os.environ.items() if not k.startswith("LARK_")}
            p = subprocess.run([BIN, "check", "--scripts", tmp, "--set",
                                "lua_path=%s/lua" % SRC], capture_output=True, text=True,
                               timeout=60, env=env)
            return p.returncode, p.stdout + p.stderr, path

    def test_check_refuses_bad_spec_and_zone(self):
        code, out, path = self.check("lark.cron('0 9 * * 1-5', function() end)\n")
        self.assertEqual(code, 0, out)
        code, out, path = self.check("\n\nlark.cron('0 9 * * mon-fry', function() end)\n")
        self.assertEqual(code, 1, out)
        self.assertIn("%s:3: lark.cron: bad cron spec" % path, out)
        code, out, path = self.check("lark.cron('@daily', function() end, "
                                     "{ tz = 'Europe/Berlln' })\n")
        self.assertEqual(code, 1, out)
        self.assertIn('%s:1: lark.cron: unknown time zone "Europe/Berlln"' % path, out)
        code, out, path = self.check("lark.every(0, function() end)\n")
        self.assertEqual(code, 1, out)
        self.assertIn("%s:1: lark.every: seconds between 0.1" % path, out)


if __name__ == "__main__":
    import unittest
    unittest.main()
