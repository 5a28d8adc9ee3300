"""lark.http against a local HTTPS server with a test CA: answers for any status, JSON both
ways, verification on (a wrong host name and an unknown CA refused), every refusal
(not allowed, private address, oversize, timeout, too many in flight), redirects
answered not followed, streaming with res:chunks() and res:sse() over awkward framing,
lark.vars read-only, and nothing of the request in the log."""
import json
import signal
import subprocess
import unittest

import lark_crypto as lc
from harness import BIN, Daemon, GatewayCase, lua_value, wait_until
from https_server import TestCA, TestServer, free_port

SCRIPT = r'''
local function show(res, err)
  if not res then
    return { err_code = err.code, err_msg = err.msg, err_text = tostring(err) }
  end
  return { status = res.status, body = res.body, ctype = res.headers["content-type"] }
end

local cases = {}

function cases.get(base)
  return show(lark.http.get(base .. "/echo?x=1", {
    query = { a = "1 2" }, headers = { ["X-Test"] = "yes", Authorization = "Bearer s3cr3t" } }))
end

function cases.post_json(base)
  local res, err = lark.http.post(base .. "/echo", { json = { model = "m", n = 3 } })
  if not res then return show(res, err) end
  local echo = res:json()
  return { status = res.status, method = echo.method, body = echo.body,
           ctype = echo.headers["content-type"] }
end

function cases.request(base)
  return show(lark.http.request{ method = "put", url = base .. "/echo", body = "raw" })
end

function cases.status(base) return show(lark.http.get(base .. "/status/404")) end
function cases.redirect(base)
  local res = lark.http.get(base .. "/redirect")
  return { status = res.status, location = res.headers.location }
end
function cases.big(base) return show(lark.http.get(base .. "/big?n=5000", { max_body = 4000 })) end
function cases.slow(base) return show(lark.http.get(base .. "/slow?s=3", { timeout = 0.3 })) end
function cases.fetch(url) return show(lark.http.get(url)) end

function cases.chunks(base)
  local res, err = lark.http.get(base .. "/sse?style=openai&pace=lines", { stream = true })
  if not res then return show(res, err) end
  local parts = {}
  for chunk in res:chunks() do parts[#parts + 1] = chunk end
  return { status = res.status, body = table.concat(parts), body_field = res.body == nil }
end

function cases.sse(query)
  local base, q = query:match("^(%S+) (%S+)$")
  local res, err = lark.http.get(base .. "/sse?" .. q, { stream = true })
  if not res then return show(res, err) end
  local events = {}
  local ok, e = pcall(function()
    for ev in res:sse() do events[#events + 1] = { ev.event, ev.data, ev.id } end
  end)
  if not ok then return { events = events, err_code = e.code, err_msg = e.msg } end
  return { events = events }
end

function cases.early(base)
  local res = lark.http.get(base .. "/drip?n=1000&gap=0.05", { stream = true })
  for ev in res:sse() do if ev.data == "2" then break end end
  return { left = true }
end

function cases.hold(base)
  local res = lark.http.get(base .. "/drip?n=1000&gap=0.05", { stream = true })
  for ev in res:sse() do
    if ev.data == "3" then lark.log.info("holding the stream") end
  end
end

function cases.budget(base)
  local res = lark.http.get(base .. "/drip?n=1000&gap=0.05", { stream = true })
  for ev in res:sse() do
    if ev.data == "2" then lark.log.info("spinning") while true do end end
  end
end

function cases.too_many(base)
  local first = lark.http.get(base .. "/drip?n=1000&gap=0.05", { stream = true })
  local r1 = show(lark.http.get(base .. "/echo"))
  first:close()
  local r2 = show(lark.http.get(base .. "/echo"))
  return { first = first.status, second = r1, third = r2.status }
end

function cases.vars()
  local ok, err = pcall(function() lark.vars.llm_key = "x" end)
  return { url = lark.vars.llm_url, n = lark.vars.n, flag = lark.vars.flag,
           write_refused = not ok and tostring(err):find("read%-only") ~= nil }
end

function cases.badopt(base)
  local ok, err = pcall(lark.http.get, base, { tiemout = 1 })
  return { ok = ok, err = tostring(err) }
end

function on_p2_message_receive_v1(event)
  local text = lark.json.decode(event.event.message.content).text
  local name, arg = text:match("^(%S+)%s*(.*)$")
  return cases[name](arg)
end
'''

TOP = r'''
local ok, err = pcall(function() return lark.http.get("https://localhost/") end)
assert(not ok and tostring(err):find("only allowed in a handler"), tostring(err))
top_level_url = lark.vars.llm_url
'''

SECRET = "Bearer s3cr3t"


class LarkHttp(GatewayCase):

    @classmethod
    def setUpClass(cls):
        cls.ca = TestCA()
        cls.other_ca = TestCA()
        cls.srv = TestServer(tls=cls.ca)
        cls.plain = TestServer()

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.plain.stop()
        cls.ca.cleanup()
        cls.other_ca.cleanup()

    def start(self, allow, config=None, scripts=None):
        cfg = {"tls_ca_file": self.ca.ca_file,
               "vars": {"llm_url": "https://localhost/v1", "n": 42, "flag": True,
                        "llm_key": "k-9f8e7d"},
               "http": {"timeout_s": 5}}
        cfg.update(config or {})
        args = ["--set", "http.allow=" + ",".join(allow)] if allow else []
        return self.start_daemon(config=cfg, scripts=scripts or {"h.lua": SCRIPT},
                                 extra_args=args)

    def call(self, d, text):
        status, _, body = d.post(json.dumps(lc.message_event(text=text)))
        self.assertEqual(status, 200, body)
        return json.loads(body)

    @property
    def base(self):
        return "https://localhost:%d" % self.srv.port

    def test_answers_and_json(self):
        d = self.start(["localhost:%d" % self.srv.port])
        r = self.call(d, "get " + self.base)
        self.assertEqual(r["status"], 200)
        echo = json.loads(r["body"])
        self.assertEqual(echo["query"], {"x": "1", "a": "1 2"})
        self.assertEqual(echo["headers"]["x-test"], "yes")
        self.assertEqual(r["ctype"], "application/json")
        r = self.call(d, "post_json " + self.base)
        self.assertEqual((r["status"], r["method"], r["ctype"]), (200, "POST", "application/json"))
        self.assertEqual(json.loads(r["body"]), {"model": "m", "n": 3})
        r = self.call(d, "request " + self.base)
        self.assertEqual(json.loads(r["body"])["method"], "PUT")
        self.assertEqual(json.loads(r["body"])["body"], "raw")
        r = self.call(d, "status " + self.base)
        self.assertEqual(r["status"], 404)
        before = list(self.srv.requests)
        r = self.call(d, "redirect " + self.base)
        self.assertEqual(r, {"status": 302, "location": "/echo"})
        self.assertEqual(self.srv.requests[len(before):], ["/redirect"])   # not followed
        r = self.call(d, "badopt " + self.base)
        self.assertFalse(r["ok"])
        self.assertIn("unknown option 'tiemout'", r["err"])
        self.assertNotIn(SECRET, d.log())
        self.assertNotIn("s3cr3t", d.log())
        self.assertNotIn("k-9f8e7d", d.log())

    def test_tls_verification(self):
        d = self.start(["localhost:%d" % self.srv.port, "127.0.0.1:%d" % self.srv.port])
        r = self.call(d, "fetch https://127.0.0.1:%d/echo" % self.srv.port)   # cert says localhost
        self.assertEqual(r["err_code"], "tls", r)
        self.assertIn("lark.http tls:", r["err_text"])
        with TestServer(tls=self.other_ca) as stranger:
            d2 = self.start(["localhost:%d" % stranger.port])
            r = self.call(d2, "fetch https://localhost:%d/echo" % stranger.port)
            self.assertEqual(r["err_code"], "tls", r)
        d.wait_log(r"http: GET 127\.0\.0\.1:\d+/echo failed: tls")

    def test_refusals(self):
        d = self.start(["localhost:%d" % self.srv.port, "*.localhost", "127.0.0.1"],
                       config={"http": {"timeout_s": 5, "max_body": 100000}})
        r = self.call(d, "fetch https://example.com/")
        self.assertEqual(r["err_code"], "not_allowed")
        self.assertIn("example.com is not in http.allow", r["err_msg"])
        r = self.call(d, "fetch https://localhost:%d/echo" % (self.srv.port + 1))
        self.assertEqual(r["err_code"], "not_allowed")
        r = self.call(d, "big " + self.base)
        self.assertEqual(r["err_code"], "too_large", r)
        r = self.call(d, "slow " + self.base)
        self.assertEqual(r["err_code"], "timeout", r)
        r = self.call(d, "fetch http://127.0.0.1:%d/echo" % free_port())
        self.assertEqual(r["err_code"], "connect", r)
        # an IP literal listed exactly is reachable, plain http too
        r = self.call(d, "fetch http://127.0.0.1:%d/echo" % self.plain.port)
        self.assertEqual(r["status"], 200, r)

    def test_no_allow_list_refuses_everything(self):
        before = len(self.srv.requests)
        d = self.start([])
        r = self.call(d, "fetch https://localhost:%d/echo" % self.srv.port)
        self.assertEqual(r["err_code"], "not_allowed")
        self.assertIn("http.allow is empty", r["err_msg"])
        self.assertEqual(len(self.srv.requests), before)

    def test_streaming(self):
        d = self.start(["localhost:%d" % self.srv.port])
        r = self.call(d, "chunks " + self.base)
        self.assertEqual(r["status"], 200)
        self.assertTrue(r["body_field"])
        self.assertTrue(r["body"].startswith('data: {"choices"'))
        want = {
            "openai": [["message", '{"choices":[{"delta":{"content":"Hel"}}]}', ""],
                       ["message", '{"choices":[{"delta":{"content":"lo"}}]}', ""],
                       ["message", "[DONE]", ""]],
            "awkward": [["greeting", "line one\nline two", "1"], ["message", "three", "1"],
                        ["message", "four", "2"]],
            "unterminated": [["message", "first", ""], ["message", "last", ""]],
        }
        for style, events in want.items():
            for framing in ("chunked", "close", "length"):
                for pace in ("bytes", "lines", "whole"):
                    q = "style=%s&framing=%s&pace=%s" % (style, framing, pace)
                    r = self.call(d, "sse %s %s" % (self.base, q))
                    self.assertEqual(r, {"events": events}, q)

    def test_tls_end_without_close_notify_is_refused(self):
        d = self.start(["localhost:%d" % self.srv.port])
        q = "style=openai&framing=close&pace=whole&close_notify=0"
        r = self.call(d, "sse %s %s" % (self.base, q))
        self.assertEqual(r["err_code"], "closed", r)
        self.assertIn("close_notify", r["err_msg"])

    def no_connections(self):
        wait_until(lambda: self.srv.open_connections() == 0, timeout=15,
                   what="the server's connections all closed")

    def test_leaving_early_closes(self):
        self.no_connections()
        d = self.start(["localhost:%d" % self.srv.port])
        r = self.call(d, "early " + self.base)
        self.assertEqual(r, {"left": True})
        self.no_connections()     # a keep-alive pool would have kept it: it was cut

    def test_killed_mid_stream_leaves_no_connection(self):
        self.no_connections()
        d = self.start(["localhost:%d" % self.srv.port],
                       config={"ack_deadline_ms": 200,
                               "limits": {"handler_max_s": 2, "handler_timeout_ms": 300}})
        self.call(d, "hold " + self.base)           # acked at the deadline, runs on
        d.wait_log(r"holding the stream")
        self.assertEqual(self.srv.open_connections(), 1)
        d.wait_log(r"handler_max_s", timeout=10)
        self.no_connections()
        # the time budget kills it while it runs, inside the loop: the stream is closed
        status, _, _ = d.post(json.dumps(lc.message_event(text="budget " + self.base)))
        self.assertIn(status, (200, 500))
        d.wait_log(r"spinning")
        d.wait_log(r"time budget spent", timeout=10)
        self.no_connections()

    def test_too_many_in_flight(self):
        d = self.start(["localhost:%d" % self.srv.port],
                       config={"http": {"max_per_script": 1}})
        r = self.call(d, "too_many " + self.base)
        self.assertEqual(r["first"], 200)
        self.assertEqual(r["second"]["err_code"], "too_many", r)
        self.assertIn("http.max_per_script", r["second"]["err_msg"])
        self.assertEqual(r["third"], 200)

    def test_sighup_reads_vars_and_allow_again(self):
        d = self.start([])
        r = self.call(d, "fetch https://localhost:%d/echo" % self.srv.port)
        self.assertEqual(r["err_code"], "not_allowed")
        cfg = dict(d.config)
        cfg["vars"] = {"llm_url": "https://localhost/v2", "n": 43, "flag": False}
        cfg["http"] = {"timeout_s": 5}
        with open(d.config_path, "a") as f:
            f.write('vars = %s\nhttp = { allow = { "localhost:%d" } }\n'
                    % (lua_value(cfg["vars"]), self.srv.port))
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded scripts")
        r = self.call(d, "vars")
        self.assertEqual(r, {"url": "https://localhost/v2", "n": 43, "flag": False,
                             "write_refused": True})
        r = self.call(d, "fetch https://localhost:%d/echo" % self.srv.port)
        self.assertEqual(r["status"], 200, r)
        # a config that does not load keeps everything as it was
        with open(d.config_path, "a") as f:
            f.write('http = { allow = { "bad entry" } }\n')
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload failed, the previous config and scripts stay: http\.allow\[1\]")
        r = self.call(d, "vars")
        self.assertEqual(r["n"], 43)

    def test_bad_config_refused_at_start(self):
        for config, args, want in (
                ({"vars": {"x": {"y": 1}}}, [], "key 'vars.x': string, number or boolean"),
                ({}, ["--set", "http.allow=ok.example,bad host"], "http.allow[2]"),
                ({"http": {"max_body": 0}}, [], "key 'http.max_body'")):
            d = Daemon(config=config, extra_args=args, scripts={"h.lua": SCRIPT}, start=False)
            self.addCleanup(d.cleanup)
            code, log = d.start(expect_fail=True)
            self.assertNotEqual(code, 0)
            self.assertIn(want, log)

    def test_check_sees_vars(self):
        d = Daemon(config={"vars": {"llm_url": "https://x/v1"}}, start=False,
                   scripts={"top.lua": 'assert(lark.vars.llm_url == "https://x/v1")\n'})
        self.addCleanup(d.cleanup)
        out = subprocess.run([BIN, "check", "--config", d.config_path], cwd=d.dir, env=d.env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout.decode())

    def test_vars(self):
        d = self.start(["localhost"], scripts={"h.lua": SCRIPT, "top.lua": TOP})
        r = self.call(d, "vars")
        self.assertEqual(r, {"url": "https://localhost/v1", "n": 42, "flag": True,
                             "write_refused": True})


if __name__ == "__main__":
    unittest.main()
