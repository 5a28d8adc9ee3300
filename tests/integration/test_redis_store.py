"""lark.store on Redis: one store for every gateway, with the memory store's types, TTLs
and answers; lark.store.incr from three gateways, 3 x 1,000 times, totals 3,000; while
Redis is down it answers nil, err and events still flow."""
import json
import threading
import unittest

import lark_crypto as lc
from harness import GatewayCase, wait_until
from redis_server import start_redis

SCRIPT = r'''
local store = lark.store

local handlers = {}

function handlers.count()
  for i = 1, 1000 do
    local n, err = store.incr("count")
    if not n then error(err) end
  end
  lark.log.info("counted")
end

function handlers.types()
  assert(store.set("s", "hello\0world"))
  assert(store.set("i", 42))
  assert(store.set("f", 2.5))
  assert(store.set("b", false))
  assert(store.set("t", "short-lived", 0.2))
  lark.log.info("set done")
end

function handlers.check()
  local s, i, f, b = store.get("s"), store.get("i"), store.get("f"), store.get("b")
  assert(s == "hello\0world", "string")
  assert(math.type(i) == "integer" and i == 42, "integer")
  assert(math.type(f) == "float" and f == 2.5, "float")
  assert(b == false, "boolean")
  assert(store.get("missing") == nil, "missing")
  local n, err = store.incr("s")
  assert(n == nil and err:find("not an integer"), "incr on a string: " .. tostring(err))
  assert(store.incr("i", -2) == 40, "incr")
  assert(store.delete("i") == true and store.delete("i") == false, "delete")
  assert(store.set("f", nil) and store.get("f") == nil, "set nil deletes")
  local big, why = store.set("big", string.rep("x", 5000))
  assert(big == nil and why:find("max_bytes"), "too big: " .. tostring(why))
  lark.log.info("check ok")
end

function handlers.expired()
  lark.log.info("expired " .. tostring(store.get("t")))
end

function handlers.down()
  local v, err = store.get("count")
  lark.log.info("while down: " .. tostring(v) .. ", " .. tostring(err))
end

function on_p2_message_receive_v1(ev)
  handlers[lark.json.decode(ev.event.message.content).text]()
end
'''


class SharedStore(GatewayCase):
    def gateways(self, n):
        rs = start_redis(self)
        cfg = {"redis": {"url": rs.url, "prefix": "t1:"}, "store": {"max_bytes": 4096},
               "order": "none", "ack_deadline_ms": 30000}
        return rs, [self.start_daemon(config=cfg, scripts={"s.lua": SCRIPT}) for _ in range(n)]

    def send(self, d, text):
        status, _, body = d.post(json.dumps(lc.message_event(text=text)))
        return status

    def test_incr_from_three_gateways(self):
        rs, gws = self.gateways(3)
        threads = [threading.Thread(target=self.send, args=(d, "count")) for d in gws]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for d in gws:
            d.wait_log(r"counted", timeout=60)
        self.assertEqual(rs.command("GET", "t1:store:count"), b"3000")

    def test_types_ttl_and_errors_across_gateways(self):
        rs, (a, b) = self.gateways(2)
        self.assertEqual(self.send(a, "types"), 200)
        a.wait_log(r"set done")
        self.assertEqual(self.send(b, "check"), 200, b.log()[-2000:])
        b.wait_log(r"check ok")
        wait_until(lambda: rs.command("EXISTS", "t1:store:t") == 0, what="ttl expiry")
        self.send(b, "expired")
        b.wait_log(r"expired nil")

    def test_redis_down_answers_nil_err(self):
        rs, (a,) = self.gateways(1)
        wait_until(lambda: a.metric("larkgw_redis_up") == 1, what="redis up")
        rs.kill()
        wait_until(lambda: a.metric("larkgw_redis_up") == 0, what="redis down")
        self.assertEqual(self.send(a, "down"), 200)
        a.wait_log(r"while down: nil, shared store unavailable \(redis down\)")
        self.assertGreaterEqual(a.metric("larkgw_events_dedup_alone_total"), 1)


if __name__ == "__main__":
    unittest.main()
