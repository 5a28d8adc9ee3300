"""The Redis connection itself: config errors, password from the environment, /readyz
degraded while Redis is away and back by itself when it returns."""
import json
import unittest

from harness import GatewayCase, http, wait_until
from redis_server import start_redis

SCRIPT = "function on_message(ev) end\n"


class RedisConnect(GatewayCase):
    def readyz(self, d):
        status, _, body = http(d.admin_port, "GET", "/readyz")
        return status, body.decode()

    def test_rediss_is_refused_with_a_clear_error(self):
        code, log = self.start_daemon_failing(
            config={"redis": {"url": "rediss://127.0.0.1:6380/0"}}, scripts={"a.lua": SCRIPT})
        self.assertNotEqual(code, 0)
        self.assertIn("redis.url", log)
        self.assertIn("TLS", log)

    def test_bad_url_is_refused(self):
        code, log = self.start_daemon_failing(
            config={"redis": {"url": "http://127.0.0.1:6379"}}, scripts={"a.lua": SCRIPT})
        self.assertNotEqual(code, 0)
        self.assertIn("key 'redis.url'", log)

    def test_password_from_environment_and_never_logged(self):
        rs = start_redis(self, password="s3cret-redis-pw")
        url = "redis://127.0.0.1:%d/2" % rs.port
        d = self.start_daemon(config={"redis": {"url": url}}, scripts={"a.lua": SCRIPT},
                              env={"LARKGW_REDIS_PASSWORD": "s3cret-redis-pw"})
        d.wait_log(r"redis: connected to 127\.0\.0\.1:\d+ db 2")
        wait_until(lambda: d.metric("larkgw_redis_up") == 1, what="redis up")
        self.assertEqual(self.readyz(d), (200, "ready\n"))
        self.assertNotIn("s3cret-redis-pw", d.log())

    def test_acl_user_in_the_url(self):
        rs = start_redis(self)
        rs.command("ACL", "SETUSER", "app", "on", ">app-pw-9", "~*", "+@all")
        url = "redis://app:app-pw-9@127.0.0.1:%d" % rs.port
        d = self.start_daemon(config={"redis": {"url": url}}, scripts={"a.lua": SCRIPT})
        wait_until(lambda: d.metric("larkgw_redis_up") == 1, what="redis up")
        self.assertNotIn("app-pw-9", d.log())

    def test_wrong_password_is_degraded_not_fatal(self):
        rs = start_redis(self, password="right-pw")
        url = "redis://:wrong-pw@127.0.0.1:%d/0" % rs.port
        d = self.start_daemon(config={"redis": {"url": url}}, scripts={"a.lua": SCRIPT})
        d.wait_log(r"redis: .*unreachable: handshake refused")
        status, body = self.readyz(d)
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["status"], "degraded")
        self.assertNotIn("wrong-pw", d.log())

    def test_degraded_while_down_then_back(self):
        rs = start_redis(self)
        d = self.start_daemon(config={"redis": {"url": rs.url}}, scripts={"a.lua": SCRIPT})
        wait_until(lambda: d.metric("larkgw_redis_up") == 1, what="redis up")
        rs.kill()
        wait_until(lambda: self.readyz(d)[1].startswith("{"), what="degraded")
        status, body = self.readyz(d)
        self.assertEqual(status, 200)
        doc = json.loads(body)
        self.assertEqual(doc["status"], "degraded")
        self.assertTrue(doc["reason"].startswith("redis: "), doc)
        self.assertEqual(d.metric("larkgw_redis_up"), 0)
        d.wait_log(r"redis: 127\.0\.0\.1:\d+ lost")
        rs.start()
        wait_until(lambda: self.readyz(d) == (200, "ready\n"), timeout=15, what="ready again")
        d.wait_log(r"connected to .* again: shared state resumes")
        self.assertGreaterEqual(d.metric("larkgw_redis_connects_total"), 2)
        # one warning for the whole outage, however many retries it took
        self.assertEqual(len([l for l in d.log().splitlines() if "WARN" in l.upper()
                              and "redis:" in l and "lost" in l]), 1)


if __name__ == "__main__":
    unittest.main()
