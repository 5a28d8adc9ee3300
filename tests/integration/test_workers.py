"""workers = 2: both workers take webhook traffic on one port, a killed worker comes
back while the other serves, a reload (admin and SIGHUP) reaches both, /metrics covers
both with a worker label, long connections are split, SIGTERM drains all. And the
refusals: more than one worker without redis, a worker that cannot start."""
import json
import os
import re
import signal
import threading
import unittest

import lark_crypto as lc
from emulator import Emulator
from harness import GatewayCase, http, wait_until
from redis_server import start_redis


def script(version):
    return r'''
lark.every(3600, function() end, { name = "hourly" })

function on_p2_message_receive_v1(event)
  if lark.message.text(event) == "slow" then
    lark.log.info("slow handler started")
    lark.sleep(1)
  end
  lark.log.info("%s saw " .. event.header.event_id)
end
''' % version


def workers_that_logged(d, pattern):
    """The worker indexes whose log lines match pattern (after the "wN " tag)."""
    return set(re.findall(r"^\S+ \S+\s+w(\d) " + pattern, d.log(), re.M))


class Workers(GatewayCase):
    def start_workers(self, scripts=None, **config):
        rs = start_redis(self)
        cfg = {"workers": 2, "redis": {"url": rs.url}}
        cfg.update(config)
        d = self.start_daemon(config=cfg, scripts=scripts or {"bot.lua": script("v1")})
        d.wait_log(r"workers: all 2 workers ready", timeout=30)
        return d

    def post_until_both(self, d, pattern):
        """Posts events on fresh connections until both workers logged pattern."""
        def both():
            status, _, body = d.post(json.dumps(lc.message_event()))
            self.assertEqual(status, 200, body)
            return workers_that_logged(d, pattern) == {"0", "1"}
        wait_until(both, timeout=30, what="both workers logging /%s/" % pattern)

    def metrics(self, d):
        return http(d.admin_port, "GET", "/metrics")[2].decode()

    def test_more_than_one_worker_needs_redis(self):
        code, log = self.start_daemon_failing(config={"workers": 2},
                                              scripts={"bot.lua": script("v1")})
        self.assertNotEqual(code, 0)
        self.assertIn("key 'workers'", log)
        self.assertIn("'redis'", log)

    def test_a_worker_that_cannot_start_stops_them_all(self):
        rs = start_redis(self)
        code, log = self.start_daemon_failing(
            config={"workers": 2, "redis": {"url": rs.url}},
            scripts={"bot.lua": "function on_p2_message_receive_v1(event)\n"})
        self.assertNotEqual(code, 0)
        self.assertRegex(log, r"workers: worker \d exited with code 1 before serving: stopping")

    def test_two_workers_share_the_port_survive_a_kill_and_reload_together(self):
        d = self.start_workers()
        # one port, both workers accept on it (the kernel spreads new connections)
        self.post_until_both(d, r"lua: .*v1 saw")

        body = self.metrics(d)
        self.assertEqual(body.count("# HELP larkgw_events_received_total "), 1)
        self.assertEqual(body.count("# TYPE larkgw_events_received_total "), 1)
        self.assertGreaterEqual(d.metric('larkgw_events_handled_total{worker="0"}'), 1)
        self.assertGreaterEqual(d.metric('larkgw_events_handled_total{worker="1"}'), 1)
        self.assertEqual(d.metric("larkgw_workers"), 2)
        self.assertEqual(d.metric("larkgw_workers_running"), 2)
        self.assertEqual(http(d.admin_port, "GET", "/readyz")[:1], (200,))
        status, _, body = http(d.admin_port, "GET", "/admin/jobs")
        self.assertEqual(status, 200, body)
        jobs = json.loads(body)["jobs"]
        self.assertEqual(sorted((j["worker"], j["name"]) for j in jobs),
                         [(0, "hourly"), (1, "hourly")])

        # a killed worker is started again; the other serves meanwhile
        pid = int(d.reader.search(r"worker 1 started \(pid (\d+)\)").group(1))
        os.kill(pid, signal.SIGKILL)
        d.wait_log(r"workers: worker 1 was killed by signal 9; starting it again in \d+ ms")
        for _ in range(5):
            status, _, body = d.post(json.dumps(lc.message_event()))
            self.assertEqual(status, 200, body)
        d.wait_log(r"workers: worker 1 \(pid \d+\) serving", count=2, timeout=30)
        self.assertEqual(d.metric("larkgw_worker_restarts_total"), 1)
        self.assertEqual(d.metric("larkgw_workers_running"), 2)
        # dying again soon after: the wait doubles
        pid = int(re.findall(r"worker 1 started \(pid (\d+)\)", d.log())[-1])
        os.kill(pid, signal.SIGKILL)
        d.wait_log(r"workers: worker 1 was killed by signal 9; starting it again in 200 ms")
        d.wait_log(r"workers: worker 1 \(pid \d+\) serving", count=3, timeout=30)
        self.assertEqual(d.metric("larkgw_worker_restarts_total"), 2)

        # POST /admin/reload reaches both workers, and so does SIGHUP
        def reloads(w):
            return len(re.findall(r"^\S+ \S+\s+w%d gateway: reloaded scripts" % w, d.log(), re.M))
        before = (reloads(0), reloads(1))
        status, _, body = http(d.admin_port, "POST", "/admin/reload")
        self.assertEqual((status, body), (200, b"reloaded\n"))
        # the lines were written before the answer; the harness reads them on a thread
        wait_until(lambda: reloads(0) > before[0] and reloads(1) > before[1], timeout=10,
                   what="both workers logging the admin reload")
        before = (reloads(0), reloads(1))
        d.signal(signal.SIGHUP)
        wait_until(lambda: reloads(0) > before[0] and reloads(1) > before[1], timeout=15,
                   what="both workers reloading on SIGHUP")

        # new scripts, and both workers run them
        d.write_script("bot.lua", script("v2"))
        status, _, body = http(d.admin_port, "POST", "/admin/reload")
        self.assertEqual(status, 200, body)
        self.post_until_both(d, r"lua: .*v2 saw")

        # a broken script: the reload fails on the workers, naming one, the old code stays
        d.write_script("bot.lua", "function on_p2_message_receive_v1(event)\n")
        status, _, body = http(d.admin_port, "POST", "/admin/reload")
        self.assertEqual(status, 500, body)
        self.assertRegex(body.decode(), r"^worker \d: .*bot\.lua")

        # SIGTERM drains every worker: the event in flight still gets its answer, and
        # the harness checks the supervisor exits 0
        answer = []
        ev = lc.message_event(text="slow")
        slow = threading.Thread(target=lambda: answer.append(d.post(json.dumps(ev))))
        slow.start()
        d.wait_log(r"slow handler started")
        self.assertEqual(d.stop(), 0)
        slow.join(timeout=10)
        self.assertEqual(answer[0][0], 200, answer)
        self.assertIn("v2 saw " + ev["header"]["event_id"], d.log())
        d.wait_log(r"workers: worker 0 exited with code 0")
        d.wait_log(r"workers: worker 1 exited with code 0")

    def test_long_connections_are_split_over_workers(self):
        rs = start_redis(self)
        em = self.start_emulator(client_config={"PingInterval": 1, "ReconnectInterval": 1,
                                                "ReconnectNonce": 1},
                                 verification_token=lc.TOKEN)
        cfg = em.gateway_config(connections=3, workers=2, redis={"url": rs.url})
        d = self.start_daemon(config=cfg, scripts={"bot.lua": script("ws")})
        d.wait_log(r"workers: all 2 workers ready", timeout=30)
        em.wait_connections(3, timeout=30)
        wait_until(lambda: d.metric('larkgw_ws_open{worker="0"}') == 2 and
                   d.metric('larkgw_ws_open{worker="1"}') == 1, timeout=20,
                   what="2 + 1 connections open")
        sent = [em.send_text("split-%d" % i) for i in range(6)]
        acks = [em.wait_acks(1, message_id=s["message_id"])[0] for s in sent]
        self.assertEqual({a["code"] for a in acks}, {200})
        wait_until(lambda: workers_that_logged(d, r"lua: .*ws saw") == {"0", "1"}, timeout=15,
                   what="both workers handling long-connection events")


if __name__ == "__main__":
    unittest.main()
