"""The emulator's OpenAPI against the platform's rules, from the client's side: token flows
(self-built and marketplace), the 30-minute rule, one token per tenant, invalidation
codes whatever the HTTP status, 429 with x-ogw-ratelimit-reset, latency that does not
serialise concurrent calls, im send/reply validation, and the call records."""
import json
import socket
import threading
import time
import unittest

from emulator import WebhookReceiver
from harness import GatewayCase, wait_until

INTERNAL = "/open-apis/auth/v3/tenant_access_token/internal"
APP_INTERNAL = "/open-apis/auth/v3/app_access_token/internal"
APP_TOKEN = "/open-apis/auth/v3/app_access_token"
TENANT_TOKEN = "/open-apis/auth/v3/tenant_access_token"
RESEND = "/open-apis/auth/v3/app_ticket/resend"
SEND = "/open-apis/im/v1/messages"
TEXT = json.dumps({"text": "hi"})


def send(em, token, receive_id="oc_chat", rtype="chat_id", **body):
    body = dict({"receive_id": receive_id, "msg_type": "text", "content": TEXT}, **body)
    return em.api("POST", SEND, body, token=token, query={"receive_id_type": rtype})


def creds(em, **over):
    return dict({"app_id": em.app_id, "app_secret": em.app_secret}, **over)


class Marketplace:
    """The ISV flow up to an app_access_token: ticket by webhook, then the token."""

    def __init__(self, em, hook):
        self.em, self.hook = em, hook
        em.settings(webhook=hook.url)

    def ticket(self):
        status, _, a = self.em.api("POST", RESEND, creds(self.em))
        assert status == 200 and a["code"] == 0, a
        event = self.hook.next_json()
        return event["event"]["app_ticket"]

    def app_token(self, ticket):
        status, _, a = self.em.api("POST", APP_TOKEN, creds(self.em, app_ticket=ticket))
        assert status == 200 and a["code"] == 0, a
        return a["app_access_token"]

    def tenant_token(self, app_token, tenant):
        return self.em.api("POST", TENANT_TOKEN, {"app_access_token": app_token,
                                                  "tenant_key": tenant})


class Tokens(GatewayCase):
    def test_self_built_tokens(self):
        em = self.start_emulator()
        status, headers, a = em.api("POST", INTERNAL, creds(em))
        self.assertEqual(status, 200)
        self.assertEqual((a["code"], a["msg"], a["expire"]), (0, "ok", 7200))
        self.assertTrue(a["tenant_access_token"].startswith("t-"))
        self.assertTrue(headers.get("x-tt-logid"))
        status, _, app = em.api("POST", APP_INTERNAL, creds(em))
        self.assertEqual((status, app["code"]), (200, 0))
        self.assertTrue(app["app_access_token"].startswith("a-"))
        self.assertEqual(send(em, a["tenant_access_token"])[2]["code"], 0)
        self.assertEqual(em.tokens()[0]["tenant_key"], "tenant_emulator")

    def test_wrong_credentials_answer_a_code(self):
        em = self.start_emulator()
        for body, code in ((creds(em, app_secret="wrong"), 10014),
                           (creds(em, app_id="cli_other"), 10003),
                           ({"app_id": em.app_id}, 10003), ({}, 10003)):
            for path in (INTERNAL, APP_INTERNAL):
                status, _, a = em.api("POST", path, body)
                self.assertEqual((status, a["code"]), (400, code), (path, body))
                self.assertNotIn("tenant_access_token", a)
        status, _, a = em.api("POST", INTERNAL, "{not json")
        self.assertEqual(a["code"], 10003)
        self.assertEqual(em.api("GET", INTERNAL)[0], 404)
        self.assertEqual(em.api("POST", "/open-apis/auth/v3/nothing", {})[0], 404)
        self.assertEqual(em.tokens(), [])

    def test_same_token_with_more_than_refresh_left_else_a_new_one(self):
        em = self.start_emulator()
        first = em.tenant_token()
        self.assertEqual(em.tenant_token(), first)
        # with refresh_s >= the time left, the next ask gets a new token
        em.openapi_settings(refresh_s=7200)
        second = em.tenant_token()
        self.assertNotEqual(second, first)
        for token in (first, second):      # both stay valid
            self.assertEqual(send(em, token)[2]["code"], 0)
        # the rule looks at the time left: second still has about 2 h
        em.openapi_settings(refresh_s=1800, expire_s=3600)
        status, _, a = em.api("POST", INTERNAL, creds(em))
        self.assertEqual(a["tenant_access_token"], second)
        self.assertGreater(a["expire"], 3600)
        em.openapi_settings(refresh_s=7200)
        status, _, a = em.api("POST", INTERNAL, creds(em))
        self.assertNotIn(a["tenant_access_token"], (first, second))
        self.assertLessEqual(a["expire"], 3600)

    def test_expired_tokens_are_refused(self):
        em = self.start_emulator()
        em.openapi_settings(expire_s=1, refresh_s=0)
        token = em.tenant_token()
        self.assertEqual(send(em, token)[2]["code"], 0)
        wait_until(lambda: send(em, token)[2]["code"] == 99991663, timeout=10,
                   what="the token to expire")
        self.assertNotEqual(em.tenant_token(), token)


class MarketplaceTokens(GatewayCase):
    def test_ticket_by_webhook_then_one_token_per_tenant(self):
        em = self.start_emulator(verification_token="vt")
        with WebhookReceiver() as hook:
            mp = Marketplace(em, hook)
            em.openapi_settings(ticket_delay_ms=200)
            status, _, a = em.api("POST", APP_TOKEN, creds(em, app_ticket="made-up"))
            self.assertEqual((status, a["code"]), (400, 10012))
            status, _, a = em.api("POST", RESEND, creds(em))
            self.assertEqual((status, a["code"]), (200, 0))
            path, headers, raw = hook.next()
            event = json.loads(raw)
            self.assertEqual(path, "/webhook/event")
            self.assertEqual((event["type"], event["token"]), ("event_callback", "vt"))
            self.assertTrue(event["uuid"] and event["ts"])
            self.assertEqual(event["event"]["type"], "app_ticket")
            self.assertEqual(event["event"]["app_id"], em.app_id)
            app = mp.app_token(event["event"]["app_ticket"])
            self.assertTrue(app.startswith("a-"))
            tokens = {}
            for tenant in ("tenant_a", "tenant_b"):
                status, _, a = mp.tenant_token(app, tenant)
                self.assertEqual((status, a["code"], a["expire"]), (200, 0, 7200))
                tokens[tenant] = a["tenant_access_token"]
            self.assertNotEqual(tokens["tenant_a"], tokens["tenant_b"])
            self.assertEqual(mp.tenant_token(app, "tenant_a")[2]["tenant_access_token"],
                             tokens["tenant_a"])
            for tenant, token in tokens.items():
                self.assertEqual(send(em, token)[2]["code"], 0)
                self.assertEqual(em.api_calls(SEND)[-1]["tenant_key"], tenant)
            acks = em.wait_acks(1)
            self.assertEqual((acks[0]["delivery"], acks[0]["code"]), ("webhook", 200))

    def test_ticket_and_app_token_checks(self):
        em = self.start_emulator()
        with WebhookReceiver() as hook:
            mp = Marketplace(em, hook)
            em.openapi_settings(ticket_delay_ms=0, tenant_keys=["tenant_a"])
            ticket = mp.ticket()
            app = mp.app_token(ticket)
            self.assertEqual(mp.tenant_token(app, "tenant_a")[2]["code"], 0)
            status, _, a = mp.tenant_token(app, "tenant_elsewhere")
            self.assertNotEqual(a["code"], 0)
            self.assertEqual(mp.tenant_token("a-unknown", "tenant_a")[2]["code"], 99991664)
            tenant = mp.tenant_token(app, "tenant_a")[2]["tenant_access_token"]
            self.assertEqual(mp.tenant_token(tenant, "tenant_a")[2]["code"], 99991664)
            self.assertEqual(em.api("POST", RESEND, creds(em, app_secret="x"))[2]["code"], 10014)
            self.assertEqual(em.revoke_app_tickets(), 1)
            status, _, a = em.api("POST", APP_TOKEN, creds(em, app_ticket=ticket))
            self.assertEqual(a["code"], 10012)

    def test_control_pushes_a_ticket_by_webhook_or_ws(self):
        em = self.start_emulator()
        with WebhookReceiver() as hook:
            Marketplace(em, hook)
            pushed = em.push_app_ticket()
            event = hook.next_json()
            self.assertEqual(event["event"]["app_ticket"], pushed["app_ticket"])
            with em.connect() as ws:
                pushed = em.push_app_ticket(delivery="ws")
                frame = ws.recv_frame()
                self.assertEqual(frame.header("message_id"), pushed["message_id"])
                event = json.loads(frame.payload)
                self.assertEqual(event["event"]["app_ticket"], pushed["app_ticket"])
            status, _, a = em.api("POST", APP_TOKEN, creds(em, app_ticket=pushed["app_ticket"]))
            self.assertEqual(a["code"], 0)

    def test_push_without_webhook_is_refused(self):
        em = self.start_emulator()
        self.assertEqual(em.request("POST", "/_emu/app_ticket", {})[0], 400)
        self.assertEqual(em.request("POST", "/_emu/app_ticket", {"delivery": "ws"})[0], 503)


class Invalidation(GatewayCase):
    def test_codes_whatever_the_http_status(self):
        em = self.start_emulator()
        for http_status in (200, 400, 401):
            em.openapi_settings(invalid_status=http_status)
            tenant = em.tenant_token()
            app = em.api("POST", APP_INTERNAL, creds(em))[2]["app_access_token"]
            self.assertEqual(em.invalidate_tokens(tenant), 1)
            self.assertEqual(em.invalidate_tokens(app), 1)
            for token, code in ((tenant, 99991663), (app, 99991664), ("t-unknown", 99991671)):
                status, headers, a = em.api("GET", "/open-apis/contact/v3/scopes", token=token)
                self.assertEqual((status, a["code"]), (http_status, code), token[:2])
                self.assertEqual(a["error"]["log_id"], headers["x-tt-logid"])
            status, _, a = em.api("GET", "/open-apis/contact/v3/scopes")
            self.assertEqual((status, a["code"]), (http_status, 99991661))
            fresh = em.tenant_token()
            self.assertNotEqual(fresh, tenant)
            self.assertEqual(send(em, fresh)[2]["code"], 0)

    def test_all_by_tenant_and_with_a_chosen_code(self):
        em = self.start_emulator()
        with WebhookReceiver() as hook:
            mp = Marketplace(em, hook)
            em.openapi_settings(ticket_delay_ms=0)
            app = mp.app_token(mp.ticket())
            a = mp.tenant_token(app, "tenant_a")[2]["tenant_access_token"]
            b = mp.tenant_token(app, "tenant_b")[2]["tenant_access_token"]
            self.assertEqual(em.invalidate_tokens(kind="tenant", tenant_key="tenant_a"), 1)
            self.assertEqual(send(em, a)[2]["code"], 99991663)
            self.assertEqual(send(em, b)[2]["code"], 0)
            self.assertEqual(em.invalidate_tokens("all", code=99991671, status=200), 3)
            for token in (a, b):
                status, _, answer = send(em, token)
                self.assertEqual((status, answer["code"]), (200, 99991671))
            self.assertEqual(mp.tenant_token(app, "tenant_b")[2]["code"], 99991671)
            valid = {t["token"]: t["valid"] for t in em.tokens()}
            self.assertEqual(set(valid.values()), {False})

    def test_bad_settings_change_nothing(self):
        em = self.start_emulator()
        for body in ({"latency_ms": 5, "rate_limit": 3}, {"invalidate": 5},
                     {"invalid_status": 99}, {"tenant_keys": [1]}, {"expire_s": 0},
                     {"latency_paths": {"x": 5}}, {"responses": [{"path": "/x"}]},
                     {"rate_limit": {"status": 500}}, {"nonsense": 1}):
            status, answer = em.request("POST", "/_emu/openapi", body)
            self.assertEqual(status, 400, body)
            self.assertIn("error", answer)
        self.assertEqual(em.openapi_config()["latency_ms"], 0)


class RateLimits(GatewayCase):
    def test_next_calls_on_a_path_get_429_with_reset(self):
        em = self.start_emulator()
        token = em.tenant_token()
        em.openapi_settings(rate_limit={"count": 2, "reset_s": 7, "path": SEND})
        for _ in range(2):
            self.assertEqual(em.api("GET", "/open-apis/contact/v3/scopes",
                                    token=token)[0], 200)
            status, headers, a = send(em, token)
            self.assertEqual((status, a["code"]), (429, 99991400))
            self.assertEqual(a["msg"], "request trigger frequency limit")
            self.assertEqual(headers["x-ogw-ratelimit-reset"], "7")
        self.assertEqual(send(em, token)[2]["code"], 0)
        self.assertEqual(em.openapi_config()["rate_limit"]["count"], 0)

    def test_older_apis_answer_400(self):
        em = self.start_emulator()
        em.openapi_settings(rate_limit={"count": 1, "status": 400})
        status, headers, a = em.api("POST", INTERNAL, creds(em))
        self.assertEqual((status, a["code"], headers["x-ogw-ratelimit-reset"]),
                         (400, 99991400, "1"))
        self.assertEqual(em.api("POST", INTERNAL, creds(em))[2]["code"], 0)


class Latency(GatewayCase):
    def test_concurrent_calls_are_not_serialised(self):
        n = 50
        em = self.start_emulator()
        token = em.tenant_token()
        em.openapi_settings(latency_paths={"/open-apis/im/": 2000})
        results = [None] * n

        def call(i):
            results[i] = send(em, token, uuid="u%d" % i)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(n)]
        started = time.monotonic()
        for t in threads:
            t.start()
        em.wait_api_calls(n, path=SEND)
        # other paths are not held up meanwhile
        self.assertEqual(em.api("GET", "/open-apis/contact/v3/scopes", token=token)[0], 200)
        for t in threads:
            t.join(timeout=30)
        elapsed = time.monotonic() - started
        self.assertTrue(all(r and r[0] == 200 and r[2]["code"] == 0 for r in results))
        calls = em.api_calls(SEND)
        # every call was received before the first one was answered
        self.assertLess(max(c["received_ms"] for c in calls),
                        min(c["answered_ms"] for c in calls))
        other = em.api_calls("/open-apis/contact/")[0]
        self.assertLess(other["answered_ms"], min(c["answered_ms"] for c in calls))
        print("%d concurrent calls with 2000 ms latency answered in %.0f ms"
              % (n, elapsed * 1000))

    def test_pipelined_answers_stay_in_order(self):
        em = self.start_emulator()
        token = em.tenant_token()
        em.openapi_settings(latency_ms=300)
        req = ("GET /open-apis/a/%d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n")
        with socket.create_connection(("127.0.0.1", em.port), timeout=10) as s:
            s.sendall(b"".join((req % (i, token)).encode() for i in range(3)))
            data = b""
            while data.count(b"HTTP/1.1 200") < 3 or not data.endswith(b"}"):
                chunk = s.recv(65536)
                self.assertTrue(chunk, "connection closed early")
                data += chunk
        ids = [c["log_id"] for c in em.api_calls("/open-apis/a/")]
        self.assertEqual([data.index(i.encode()) for i in ids],
                         sorted(data.index(i.encode()) for i in ids))

    def test_stopping_with_answers_pending_frees_them(self):
        em, socks = self.start_emulator(), []
        try:
            token = em.tenant_token()
            em.openapi_settings(latency_ms=60000)
            for _ in range(3):
                s = socket.create_connection(("127.0.0.1", em.port), timeout=10)
                s.sendall(("GET /open-apis/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s"
                           "\r\n\r\n" % token).encode())
                socks.append(s)
            em.wait_api_calls(3, path="/open-apis/x")
        finally:
            self.assertEqual(em.stop(), 0)
        for s in socks:
            s.close()


class Im(GatewayCase):
    def test_send_and_reply_are_recorded(self):
        em = self.start_emulator()
        token = em.tenant_token()
        em.clear_api_calls()
        status, headers, a = send(em, token, receive_id="ou_user", rtype="open_id")
        self.assertEqual((status, a["code"], a["msg"]), (200, 0, "success"))
        sent = a["data"]["message_id"]
        self.assertTrue(sent.startswith("om_"))
        status, _, r = em.api("POST", SEND + "/" + sent + "/reply",
                              {"msg_type": "text", "content": TEXT}, token=token)
        self.assertEqual(r["code"], 0)
        self.assertEqual(r["data"]["parent_id"], sent)
        self.assertNotEqual(r["data"]["message_id"], sent)
        calls = em.wait_api_calls(2, path=SEND, answered=True)
        first, second = calls
        self.assertEqual((first["method"], first["path"]), ("POST", SEND))
        self.assertEqual(first["query"], {"receive_id_type": "open_id"})
        self.assertEqual(first["token"], token)
        self.assertEqual((first["token_kind"], first["tenant_key"]), ("tenant", "tenant_emulator"))
        self.assertEqual(first["body"]["receive_id"], "ou_user")
        self.assertEqual((first["status"], first["code"]), (200, 0))
        self.assertEqual(first["answer"]["data"]["message_id"], sent)
        self.assertEqual(first["log_id"], headers["x-tt-logid"])
        self.assertLessEqual(first["received_ms"], first["answered_ms"])
        self.assertEqual(second["path"], SEND + "/" + sent + "/reply")
        self.assertEqual(em.clear_api_calls(), 2)
        self.assertEqual(em.api_calls(), [])

    def test_validation(self):
        em = self.start_emulator()
        token = em.tenant_token()
        app = em.api("POST", APP_INTERNAL, creds(em))[2]["app_access_token"]
        cases = [
            (dict(rtype="phone"), 99992402),
            (dict(content={"text": "hi"}), 99992402),        # content must be a string
            (dict(content="hi"), 230001),                     # ... holding JSON
            (dict(content=json.dumps("hi")), 230001),         # ... an object
            (dict(content=json.dumps({"txt": "hi"})), 230001),
            (dict(msg_type="telegram"), 230001),
            (dict(receive_id="oc_chat", rtype="open_id"), 230001),
            (dict(receive_id="ou_user", rtype="chat_id"), 230001),
            (dict(receive_id="someone", rtype="email"), 230001),
            (dict(receive_id=""), 99992402),
            (dict(uuid=5), 99992402),
            (dict(content=json.dumps({"text": "x" * 160000})), 230025),
        ]
        for kw, code in cases:
            status, _, a = send(em, token, **kw)
            self.assertEqual((status, a["code"]), (400, code), kw)
        status, _, a = em.api("POST", SEND, {"receive_id": "oc_chat", "msg_type": "text",
                                             "content": TEXT}, token=token)
        self.assertEqual(a["code"], 99992402)                 # no receive_id_type
        status, _, a = em.api("POST", SEND, "nope", token=token,
                              query={"receive_id_type": "chat_id"})
        self.assertEqual(a["code"], 99992402)
        self.assertEqual(send(em, app)[2]["code"], 99991663)  # needs a tenant token
        for kw in (dict(receive_id="u_1", rtype="user_id"),
                   dict(receive_id="on_1", rtype="union_id"),
                   dict(receive_id="a@b.example", rtype="email"),
                   dict(msg_type="interactive", content=json.dumps({"elements": []}))):
            self.assertEqual(send(em, token, **kw)[2]["code"], 0, kw)
        reply = SEND + "/%s/reply"
        for mid, body, code in (("xyz", {"msg_type": "text", "content": TEXT}, 230001),
                                ("om_1", {"msg_type": "text", "content": 1}, 99992402),
                                ("om_1", {"msg_type": "text", "content": TEXT,
                                          "reply_in_thread": "yes"}, 99992402)):
            status, _, a = em.api("POST", reply % mid, body, token=token)
            self.assertEqual((status, a["code"]), (400, code), (mid, body))


class GenericCalls(GatewayCase):
    def test_any_path_is_recorded_and_answered(self):
        em = self.start_emulator()
        token = em.tenant_token()
        status, _, a = em.api("PATCH", "/open-apis/contact/v3/users/ou_1", {"name": "x"},
                              token=token, query={"user_id_type": "open_id", "q": "a b&c"})
        self.assertEqual((status, a), (200, {"code": 0, "msg": "success", "data": {}}))
        call = em.api_calls("/open-apis/contact/")[0]
        self.assertEqual(call["method"], "PATCH")
        self.assertEqual(call["query"], {"user_id_type": "open_id", "q": "a b&c"})
        self.assertEqual(call["body"], {"name": "x"})
        self.assertEqual(em.api_calls("/open-apis/nothing"), [])

    def test_canned_answers(self):
        em = self.start_emulator()
        token = em.tenant_token()
        path = "/open-apis/contact/v3/users/ou_1"
        user = {"code": 0, "msg": "success", "data": {"user": {"name": "Ada"}}}
        em.openapi_settings(responses=[
            {"path": path, "method": "GET", "body": user, "count": 1},
            {"path": "/open-apis/broken", "status": 502, "body": "<html>bad gateway"},
            {"path": "/open-apis/denied", "body": {"code": 230002, "msg": "bot not in chat"}},
        ])
        self.assertEqual(em.api("GET", path, token=token)[2], user)
        self.assertEqual(em.api("GET", path, token=token)[2]["data"], {})   # count used up
        status, headers, text = em.api("POST", "/open-apis/broken", {}, token=token)
        self.assertEqual((status, text), (502, "<html>bad gateway"))
        self.assertIn("x-tt-logid", headers)
        status, _, a = em.api("GET", "/open-apis/denied", token=token)
        self.assertEqual((status, a["code"]), (200, 230002))
        self.assertEqual(em.api("GET", "/open-apis/denied")[2]["code"], 99991661)
        self.assertEqual(len(em.openapi_config()["responses"]), 2)
        self.assertEqual(em.openapi_settings(responses=None)["responses"], [])

    def test_no_token_or_secret_in_the_log(self):
        em = self.start_emulator()
        with WebhookReceiver() as hook:
            mp = Marketplace(em, hook)
            em.openapi_settings(ticket_delay_ms=0)
            ticket = mp.ticket()
            app = mp.app_token(ticket)
            tenant = mp.tenant_token(app, "tenant_a")[2]["tenant_access_token"]
            send(em, tenant)
            em.invalidate_tokens()
            send(em, tenant)
            secrets = [em.app_secret, ticket, app, tenant, em.tenant_token()]
        log = em.log()
        self.assertIn("openapi", log)
        for secret in secrets:
            self.assertNotIn(secret, log)


if __name__ == "__main__":
    unittest.main()
