"""Schedules across gateways: three gateways on one redis-server run a 30-second job once
per tick between them, and a 1-second job too (each tick's lease in Redis; the losers
count it as run elsewhere, in /admin/jobs and /metrics). With Redis gone, each gateway
runs the ticks itself (warned), and none of them falls over.

Which gateway ran a tick is read from its debug line "job NAME runs the tick of TIME";
the 30-second job also counts its runs in lark.store under the tick it derives from the
clock."""
import calendar
import json
import re
import time
import unittest
from collections import Counter

from harness import GatewayCase, http, wait_until
from redis_server import start_redis

# A run starts a few ms after its tick, when os.time() (a coarse clock) may still say the
# second before: the tick is lark.now() rounded to the nearest multiple of the period.
SCRIPT = r'''
lark.every(30, function()
  local tick = math.floor(lark.now() / 30 + 0.5) * 30
  assert(lark.store.incr("runs30:" .. tick))
end, { name = "half_minute" })

lark.every(1, function() end, { name = "fast" })
'''

TICK = r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"


def tick_seconds(text):
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


def ran(d, job, since=0):
    """The ticks (epoch seconds) gateway d ran job on, in its log from offset since."""
    pattern = r"jobs: cluster\.lua: job %s runs the tick of %s" % (job, TICK)
    return [tick_seconds(t) for t in re.findall(pattern, d.log()[since:])]


def taken(d, job):
    pattern = r"jobs: cluster\.lua: job %s: the tick of %s is another gateway's" % (job, TICK)
    return [tick_seconds(t) for t in re.findall(pattern, d.log())]


def jobs(d):
    status, _, body = http(d.admin_port, "GET", "/admin/jobs")
    assert status == 200, (status, body)
    return {j["name"]: j for j in json.loads(body)["jobs"]}


class ClusterJobs(GatewayCase):
    def test_one_run_per_tick_across_three_gateways(self):
        rs = start_redis(self)
        cfg = {"redis": {"url": rs.url}}
        gws = [self.start_daemon(config=cfg, scripts={"cluster.lua": SCRIPT})
               for _ in range(3)]
        # A gateway that has not reached Redis yet runs a due tick alone, as when Redis
        # is down: the window of exactly-once starts once all three are connected.
        wait_until(lambda: all(d.metric("larkgw_redis_up") == 1 for d in gws), timeout=10,
                   what="three gateways connected to Redis")
        ready = time.time()
        # two ticks of the 30-second job with all three gateways serving
        t1 = int(ready // 30 * 30 + 30)
        t2 = t1 + 30

        def runs30():
            keys = rs.command("KEYS", "larkgw:store:runs30:*") or []
            return {int(k.rsplit(b":", 1)[1]): int(rs.command("GET", k)) for k in keys}

        wait_until(lambda: t2 in runs30(), timeout=t2 - time.time() + 20,
                   what="the 30-second job's tick of %d" % t2)
        # the window's last tick is settled on every gateway once each has heard about
        # the next one (a gateway's answers come in order)
        end = int(time.time())
        wait_until(lambda: sum(ran(d, "fast").count(end + 1) + taken(d, "fast").count(end + 1)
                               for d in gws) >= 3,
                   timeout=10, what="the fast job's tick of %d settled" % (end + 1))

        # the 30-second job: each tick ran once, on one gateway, and counted once
        counts = runs30()
        self.assertEqual(counts.get(t1), 1, counts)
        self.assertEqual(counts.get(t2), 1, counts)
        self.assertTrue(all(n == 1 for t, n in counts.items() if t > ready), counts)
        slow = Counter(t for d in gws for t in ran(d, "half_minute"))
        self.assertEqual(slow[t1], 1, slow)
        self.assertEqual(slow[t2], 1, slow)
        self.assertTrue(all(n == 1 for t, n in slow.items() if t > ready), slow)
        lost = Counter(t for d in gws for t in taken(d, "half_minute"))
        self.assertEqual((lost[t1], lost[t2]), (2, 2), lost)

        # the fast job: every tick of the window ran exactly once, the two others lost it
        fast = Counter(t for d in gws for t in ran(d, "fast"))
        lost = Counter(t for d in gws for t in taken(d, "fast"))
        window = range(int(ready) + 1, end + 1)
        self.assertGreaterEqual(len(window), 30)
        self.assertEqual([t for t in window if fast[t] != 1], [], fast)
        self.assertEqual([t for t in window if lost[t] != 2], [], lost)
        self.assertTrue(all(n == 1 for t, n in fast.items() if t > ready), fast)
        by = Counter(i for i, d in enumerate(gws) for t in ran(d, "fast") if t in window)
        print("fast-job ticks run per gateway: %s" % dict(by))

        # /admin/jobs and /metrics count what each gateway left to the others
        total = {"fast": 0, "half_minute": 0}
        for d in gws:
            before = {name: len(taken(d, name)) for name in total}
            got = jobs(d)
            for name in total:
                self.assertLessEqual(before[name], got[name]["elsewhere"])
                self.assertLessEqual(got[name]["elsewhere"], len(taken(d, name)))
            self.assertEqual(got["fast"]["alone"], 0)
            self.assertGreaterEqual(d.metric("larkgw_job_elsewhere_total"),
                                    got["fast"]["elsewhere"] + got["half_minute"]["elsewhere"])
            self.assertEqual(d.metric("larkgw_job_alone_total"), 0)
            for name in total:
                total[name] += got[name]["elsewhere"]
        self.assertGreaterEqual(total["fast"], 2 * len(window))
        self.assertGreaterEqual(total["half_minute"], 4)

        # Redis gone: each gateway runs the ticks itself, warned, and keeps serving
        offsets = [len(d.log()) for d in gws]
        rs.kill()

        def doubled():
            alone = Counter(t for d, o in zip(gws, offsets) for t in ran(d, "fast", o))
            return [t for t, n in alone.items() if n >= 2]

        wait_until(lambda: len(doubled()) >= 2, timeout=20,
                   what="fast-job ticks run on more than one gateway with Redis down")
        for d, o in zip(gws, offsets):
            d.wait_log(r"jobs: cluster\.lua: job fast: Redis is unreachable, so the tick of "
                       r"\S+ runs here alone, and maybe on other gateways too")
            self.assertIsNone(d.proc.poll())
            self.assertGreaterEqual(jobs(d)["fast"]["alone"], 1)
            self.assertGreaterEqual(d.metric("larkgw_job_alone_total"), 1)


if __name__ == "__main__":
    unittest.main()
