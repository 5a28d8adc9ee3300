"""`larkgw emulator` from python: start and stop it, drive its control API
(src/emulator/README.md), and speak the platform's wire format (pbbp2 frames over a raw
RFC 6455 client) for tests that talk to the emulator directly.

    from emulator import Emulator
    with Emulator(client_config={"PingInterval": 1}) as em:
        with Daemon(config=em.gateway_config(), scripts={...}) as d:
            em.wait_connections(1)
            em.send_text("hi")
            ack = em.wait_acks(1)[0]

The OpenAPI side: em.api_calls(), em.wait_api_calls(n), em.tokens(),
em.openapi_settings(latency_ms=..., rate_limit={...}), em.invalidate_tokens(...),
em.push_app_ticket(); em.api(...) calls the OpenAPI as a client would, and
WebhookReceiver stands in for a gateway's webhook (app tickets go there).

Every wait is bounded; stop() asserts exit status 0 (so an ASan leak fails the test).
"""
import base64
import hashlib
import json
import os
import queue
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import BIN, START_TIMEOUT, STOP_TIMEOUT, LogReader, http, wait_until

# The emulator's default credentials. The app id has the platform's shape ("cli_" and
# 16 hex digits): the official Node SDK's WSClient refuses any other.
DEFAULT_APP_ID = "cli_e3a1a70000000001"
DEFAULT_APP_SECRET = "emulator-secret"

class Emulator:
    def __init__(self, args=None, app_id=DEFAULT_APP_ID, app_secret=DEFAULT_APP_SECRET,
                 client_config=None, verification_token=None, encrypt_key=None,
                 webhook=None, redeliver_ms=None, start=True, env=None):
        self.app_id = app_id
        self.app_secret = app_secret
        self.verification_token = verification_token
        self.encrypt_key = encrypt_key
        self.args = ["--app-id", app_id, "--app-secret", app_secret]
        if client_config is not None:
            cfg = {"PingInterval": 120, "ReconnectCount": -1, "ReconnectInterval": 120,
                   "ReconnectNonce": 30}
            cfg.update(client_config)
            self.args += ["--client-config", json.dumps(cfg)]
        for flag, value in (("--verification-token", verification_token),
                            ("--encrypt-key", encrypt_key), ("--webhook", webhook),
                            ("--redeliver-ms", redeliver_ms)):
            if value is not None:
                self.args += [flag, str(value)]
        self.args += list(args or [])
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.reader = None
        self.port = None
        if start:
            self.start()

    # process

    def start(self):
        cmd = [BIN, "emulator", "--listen", "127.0.0.1:0"] + self.args
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     env=self.env)
        self.reader = LogReader(self.proc.stdout)
        pattern = r"emulator: listening on 127\.0\.0\.1:(\d+)\s*$"
        wait_until(lambda: self.reader.search(pattern) or self.proc.poll() is not None,
                   timeout=START_TIMEOUT, what="emulator: listening")
        if self.proc.poll() is not None:
            raise AssertionError("emulator exited with %s at start:\n%s"
                                 % (self.proc.returncode, self.log()))
        self.port = int(self.reader.search(pattern).group(1))
        return self

    def stop(self, check=True):
        if not self.proc:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise AssertionError("emulator did not stop within %ds:\n%s"
                                     % (STOP_TIMEOUT, self.log()[-8000:]))
        self.reader.thread.join(timeout=5)
        code = self.proc.returncode
        if check and code != 0:
            raise AssertionError("emulator exited with %s:\n%s" % (code, self.log()[-8000:]))
        return code

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop(check=exc_type is None)
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return False

    def log(self):
        return self.reader.text() if self.reader else ""

    def wait_log(self, pattern, timeout=10.0, count=1):
        return wait_until(lambda: len(re.findall(pattern, self.log(), re.M)) >= count or None,
                          timeout=timeout, what="emulator log /%s/ x%d" % (pattern, count))

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def gateway_config(self, **over):
        """Config keys for a Daemon that should use this emulator over the long connection."""
        cfg = {"mode": "ws", "domain": self.url, "app_id": self.app_id,
               "app_secret": self.app_secret}
        if self.verification_token is not None:
            cfg["verification_token"] = self.verification_token
        if self.encrypt_key is not None:
            cfg["encrypt_key"] = self.encrypt_key
        cfg.update(over)
        return cfg

    def webhook_to(self, daemon, path="/webhook/event"):
        """Points webhook delivery (events with delivery="webhook", app tickets) at a
        Daemon's webhook listener. A marketplace gateway asks for a ticket as it starts:
        the push waits ticket_delay_ms (default 1 s), time enough to call this after the
        Daemon is up; push_app_ticket() pushes one more whenever needed."""
        return self.settings(webhook="http://127.0.0.1:%d%s" % (daemon.webhook_port, path))

    # control API

    def request(self, method, path, body=None):
        """(status, decoded JSON answer) of one control API call."""
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        status, _, raw = http(self.port, method, path, body=data, headers=headers)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def _ok(self, method, path, body=None):
        status, answer = self.request(method, path, body)
        if status != 200:
            raise AssertionError("%s %s answered %d: %r" % (method, path, status, answer))
        return answer

    def send_text(self, text, **kw):
        """Injects im.message.receive_v1; kw: chat_id, tenant_key, open_id, frame_type,
        fragments, shuffle, delivery, duplicate, retries, ws_chunk... Returns
        {"message_id", "event_id"}."""
        return self._ok("POST", "/_emu/events", dict(kw, text=text))

    def send_event(self, envelope, **kw):
        return self._ok("POST", "/_emu/events", dict(kw, event=envelope))

    def send_raw(self, raw, **kw):
        return self._ok("POST", "/_emu/events", dict(kw, raw=raw))

    def flood(self, text, count, **kw):
        """count fresh text events, kw: window (events waiting for an ack), chats, and
        the options of send_text. Returns the flood's status (as in stats()["flood"])."""
        return self._ok("POST", "/_emu/events", dict(kw, text=text, count=count))

    def stop_flood(self):
        """Delivers no more of the flood; returns how many events it had left."""
        return self._ok("DELETE", "/_emu/events")["stopped"]

    def acks(self, message_id=None):
        acks = self._ok("GET", "/_emu/acks")
        return [a for a in acks if message_id is None or a["message_id"] == message_id]

    def clear_acks(self):
        return self._ok("DELETE", "/_emu/acks")["cleared"]

    def wait_acks(self, n, timeout=10.0, message_id=None):
        """Waits until at least n acks (for message_id, if given) are recorded; returns them."""
        return wait_until(lambda: (lambda a: (a,) if len(a) >= n else None)(self.acks(message_id)),
                          timeout=timeout, what="%d ack(s)" % n)[0]

    def kick(self, conn=None):
        return self._ok("POST", "/_emu/kick", {} if conn is None else {"conn": conn})["kicked"]

    def refuse(self, count=1, status=514, msg="auth failed", autherrcode=None):
        body = {"count": count, "status": status, "msg": msg}
        if autherrcode is not None:
            body["autherrcode"] = str(autherrcode)
        return self._ok("POST", "/_emu/refuse", body)

    def discovery_fail(self, n, code=1, http_status=200):
        return self._ok("POST", "/_emu/discovery",
                        {"fail": n, "code": code, "http_status": http_status})

    def silence(self, on=True):
        return self._ok("POST", "/_emu/silence", {"on": on})["connections"]

    def set_config(self, config):
        return self._ok("POST", "/_emu/config", config)

    def settings(self, **kw):
        return self._ok("POST", "/_emu/settings", kw)

    def stats(self):
        return self._ok("GET", "/_emu/stats")

    def connections(self, open_only=False):
        conns = self._ok("GET", "/_emu/connections")
        return [c for c in conns if c["open"] or not open_only]

    def wait_connections(self, n, timeout=10.0):
        """Waits until exactly n connections are open; returns them."""
        return wait_until(lambda: (lambda c: (c,) if len(c) == n else None)(self.connections(True)),
                          timeout=timeout, what="%d open connection(s)" % n)[0]

    # the OpenAPI: settings, call records, tokens, app tickets

    def openapi_settings(self, **kw):
        """POST /_emu/openapi: latency_ms, latency_paths, rate_limit, invalid_status,
        responses, expire_s, refresh_s, ticket_delay_ms, internal_tenant_key, tenant_keys,
        invalidate, invalid_code. Returns the settings now."""
        return self._ok("POST", "/_emu/openapi", kw)

    def openapi_config(self):
        return self._ok("GET", "/_emu/openapi")

    def api_calls(self, path=None):
        """Recorded OpenAPI calls, oldest first; path: only those under this prefix."""
        q = "?path=" + urllib.parse.quote(path, safe="/") if path else ""
        return self._ok("GET", "/_emu/api_calls" + q)

    def clear_api_calls(self):
        return self._ok("DELETE", "/_emu/api_calls")["cleared"]

    def wait_api_calls(self, n, path=None, timeout=10.0, answered=False):
        """Waits until at least n calls (under path, if given; answered ones only if
        answered) are recorded; returns them."""
        def ready():
            calls = [c for c in self.api_calls(path)
                     if not answered or c["answered_ms"] is not None]
            return (calls,) if len(calls) >= n else None
        return wait_until(ready, timeout=timeout,
                          what="%d API call(s)%s" % (n, " under " + path if path else ""))[0]

    def tokens(self):
        """Every token issued: [{"token", "kind", "tenant_key", "expires_in_s", "valid",
        "code"}], oldest first."""
        return self._ok("GET", "/_emu/tokens")

    def invalidate_tokens(self, which="all", kind=None, tenant_key=None, code=None,
                          status=None):
        """Invalidates "all" tokens, one token, or those of a kind ("tenant"|"app") and/or
        tenant_key; code overrides the answer code, status sets invalid_status. Returns
        the count invalidated."""
        if kind is not None or tenant_key is not None:
            which = {k: v for k, v in (("kind", kind), ("tenant_key", tenant_key)) if v}
        body = {"invalidate": which}
        if code is not None:
            body["invalid_code"] = code
        if status is not None:
            body["invalid_status"] = status
        return self.openapi_settings(**body)["invalidated"]

    def push_app_ticket(self, delivery="webhook"):
        """Issues an app_ticket and pushes it now; returns {"app_ticket", "message_id"}."""
        return self._ok("POST", "/_emu/app_ticket", {"delivery": delivery})

    def revoke_app_tickets(self):
        return self._ok("DELETE", "/_emu/app_ticket")["revoked"]

    def files(self):
        """The uploads the emulator kept (key, kind, name, content_type, size, sha256,
        fields, data_base64), oldest first."""
        return self._ok("GET", "/_emu/files")

    def clear_files(self):
        return self._ok("DELETE", "/_emu/files")["cleared"]

    def set_lists(self, **counts):
        """How many items the list endpoints hold: chats=N, members=N."""
        return self._ok("POST", "/_emu/lists", counts)

    def card_updates(self):
        """The delayed card updates received: [{token, card, received_ms}]."""
        return self._ok("GET", "/_emu/card_updates")

    def legacy_click(self, **kw):
        """Posts an old message card's click to the card URL; kw: action, open_id,
        open_chat_id, tenant_key..., or event (a body as is), sign, timestamp. Returns
        {"status", "body", "token"}: what the gateway answered."""
        return self._ok("POST", "/_emu/events", dict(kw, legacy_card=True))

    def api(self, method, path, body=None, token=None, query=None, headers=None):
        """One OpenAPI call as a client makes it: (status, headers, decoded JSON or text)."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json; charset=utf-8")
        if query:
            path += "?" + urllib.parse.urlencode(query)
        status, rh, raw = http(self.port, method, path, body=body or b"", headers=h)
        try:
            return status, rh, json.loads(raw)
        except ValueError:
            return status, rh, raw.decode("utf-8", "replace")

    def tenant_token(self, app_id=None, app_secret=None):
        """A self-built app's tenant_access_token (asserts success)."""
        status, _, a = self.api("POST", "/open-apis/auth/v3/tenant_access_token/internal",
                                {"app_id": app_id or self.app_id,
                                 "app_secret": app_secret or self.app_secret})
        assert status == 200 and a["code"] == 0, (status, a)
        return a["tenant_access_token"]

    # the platform's side of things, for tests of the emulator itself

    def discover(self, app_id=None, app_secret=None, locale="zh"):
        body = json.dumps({"AppID": app_id or self.app_id,
                           "AppSecret": app_secret or self.app_secret}).encode()
        headers = {"Content-Type": "application/json"}
        if locale:
            headers["locale"] = locale
        status, _, raw = http(self.port, "POST", "/callback/ws/endpoint", body=body,
                              headers=headers)
        return status, json.loads(raw)

    def connect(self, **kw):
        """Discovery, then a RawWs on the URL it gave."""
        status, answer = self.discover()
        assert status == 200 and answer["code"] == 0, answer
        return RawWs(answer["data"]["URL"], **kw)

    # cards, card messages and the chat completions endpoint

    def cards(self, card_id=None):
        """Card entities, oldest first: [{"card_id", "message_id", "streaming_mode",
        "sequence", "ops", "refused", "ops_ms", "texts": {element_id: text}, "card"}]."""
        q = "?card_id=" + urllib.parse.quote(card_id) if card_id else ""
        return self._ok("GET", "/_emu/cards" + q)

    def clear_cards(self):
        return self._ok("DELETE", "/_emu/cards")["cleared"]

    def card_messages(self, message_id=None):
        """Card messages sent, oldest first: [{"message_id", "card_id", "card", "updates",
        "refused"}]."""
        q = "?message_id=" + urllib.parse.quote(message_id) if message_id else ""
        return self._ok("GET", "/_emu/card_messages" + q)

    def wait_card(self, cond=lambda c: not c["streaming_mode"], timeout=10.0):
        """Waits for a card entity for which cond(card) holds (default: streaming ended)."""
        return wait_until(lambda: next((c for c in self.cards() if cond(c)), None),
                          timeout=timeout, what="a card entity")

    def llm_settings(self, **kw):
        """POST /_emu/llm: answer (None: echo), delay_ms, fail ("none", "500", "cut",
        "hang"), fail_count (0: every call), framing ("chunked", "close"), key."""
        return self._ok("POST", "/_emu/llm", kw)

    def llm(self):
        """Settings, "streams_open" and "calls" (model, stream, messages, authorization,
        status, outcome, tokens_sent)."""
        return self._ok("GET", "/_emu/llm")

    def clear_llm_calls(self):
        return self._ok("DELETE", "/_emu/llm")["cleared"]

    def chat(self, messages, stream=False, model="emu-model", key=None, timeout=10.0):
        """One POST /v1/chat/completions as a client: (status, headers, raw body bytes)."""
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        body = json.dumps({"model": model, "messages": messages, "stream": stream})
        return http(self.port, "POST", "/v1/chat/completions", body=body, headers=headers,
                    timeout=timeout)


# pbbp2 (proto2) without a protobuf library: varints and length-delimited fields.

def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf, i):
    n = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def _fields(buf):
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 2:
            size, i = _read_varint(buf, i)
            if i + size > len(buf):
                raise ValueError("truncated field %d" % num)
            value, i = bytes(buf[i:i + size]), i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = bytes(buf[i:i + size]), i + size
        else:
            raise ValueError("wire type %d" % wire)
        yield num, wire, value


def _ld(num, data):
    return _varint(num << 3 | 2) + _varint(len(data)) + data


class Frame:
    """pbbp2.Frame; headers is a list of (key, value) pairs."""

    def __init__(self, seq_id=0, log_id=0, service=0, method=0, headers=None, payload=None,
                 payload_encoding=None, payload_type=None, log_id_new=None):
        self.seq_id, self.log_id, self.service, self.method = seq_id, log_id, service, method
        self.headers = list(headers or [])
        self.payload = payload
        self.payload_encoding, self.payload_type = payload_encoding, payload_type
        self.log_id_new = log_id_new

    def header(self, key, default=None):
        for k, v in self.headers:
            if k == key:
                return v
        return default

    def encode(self):
        out = bytearray()
        for num, value in ((1, self.seq_id), (2, self.log_id), (3, self.service), (4, self.method)):
            out += _varint(num << 3) + _varint(value)
        for k, v in self.headers:
            out += _ld(5, _ld(1, k.encode()) + _ld(2, v.encode()))
        for num, value in ((6, self.payload_encoding), (7, self.payload_type),
                           (8, self.payload), (9, self.log_id_new)):
            if value is not None:
                out += _ld(num, value.encode() if isinstance(value, str) else value)
        return bytes(out)

    @classmethod
    def decode(cls, data):
        f, seen = cls(), set()
        for num, wire, value in _fields(data):
            seen.add(num)
            if num in (1, 2, 3, 4) and wire == 0:
                if num == 3 and value >= 1 << 63:
                    value -= 1 << 64
                setattr(f, ("seq_id", "log_id", "service", "method")[num - 1], value)
            elif num == 5 and wire == 2:
                h = {n: v.decode() for n, _, v in _fields(value)}
                if 1 not in h or 2 not in h:
                    raise ValueError("header without key or value")
                f.headers.append((h[1], h[2]))
            elif num in (6, 7, 9) and wire == 2:
                setattr(f, {6: "payload_encoding", 7: "payload_type", 9: "log_id_new"}[num],
                        value.decode())
            elif num == 8 and wire == 2:
                f.payload = value
        if not {1, 2, 3, 4} <= seen:
            raise ValueError("required field missing")
        return f

    def ack(self, code=200, data=None, biz_rt=1, headers=True):
        """The client's answer: this frame (SeqID, LogID, service, method, headers) plus a
        biz_rt header, its payload replaced by {"code", "headers": {}, "data": base64}.
        headers=False leaves "headers" out of the payload, as the official Node SDK does."""
        body = {"code": code, "headers": {}} if headers else {"code": code}
        if data is not None:
            body["data"] = base64.b64encode(data.encode() if isinstance(data, str) else data).decode()
        return Frame(self.seq_id, self.log_id, self.service, self.method,
                     self.headers + [("biz_rt", str(biz_rt))], json.dumps(body).encode())


# A deliberately plain RFC 6455 client: every byte is visible to the tests.

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Closed(Exception):
    pass


class RawWs:
    def __init__(self, url, timeout=10.0, key=None):
        u = urllib.parse.urlsplit(url)
        assert u.scheme == "ws", url
        self.query = dict(urllib.parse.parse_qsl(u.query))
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        self.buf = b""
        self.key = key or base64.b64encode(os.urandom(16)).decode()
        target = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"
                           % (target, u.hostname, u.port, self.key)).encode())
        head = self._read_until(b"\r\n\r\n", timeout).decode("latin-1")
        lines = head.split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                self.headers[k.strip().lower()] = v.strip()
        self.ws_frames = 0      # WebSocket frames behind the last message received

    @property
    def device_id(self):
        return self.query.get("device_id")

    @property
    def service_id(self):
        return int(self.query["service_id"])

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise Closed("connection closed by the emulator")
        self.buf += data

    def _read_until(self, sep, timeout):
        deadline = time.monotonic() + timeout
        while sep not in self.buf:
            self._fill(deadline)
        head, self.buf = self.buf.split(sep, 1)
        return head

    def _read(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send_raw_frame(self, opcode, payload, fin=True, mask=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        m = 0x80 if mask else 0
        n = len(payload)
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack("!H", n)
        else:
            head += bytes([m | 127]) + struct.pack("!Q", n)
        if mask:
            key = os.urandom(4)
            head += key
            n = len(payload)
            stream = int.from_bytes((key * (n // 4 + 1))[:n], "big")
            payload = (int.from_bytes(payload, "big") ^ stream).to_bytes(n, "big")
        self.sock.sendall(head + payload)

    def send_frame(self, frame):
        self.send_raw_frame(OP_BINARY, frame.encode())

    def recv_ws_frame(self, deadline):
        b0, b1 = self._read(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8, deadline))[0]
        if b1 & 0x80:
            raise AssertionError("the server masked a frame (RFC 6455 5.1 forbids it)")
        return bool(b0 & 0x80), b0 & 0x0F, self._read(n, deadline)

    def recv(self, timeout=10.0):
        """Next message: (opcode, payload), continuation frames joined."""
        deadline = time.monotonic() + timeout
        fin, opcode, payload = self.recv_ws_frame(deadline)
        self.ws_frames = 1
        while not fin:
            fin, op, more = self.recv_ws_frame(deadline)
            assert op == OP_CONT, "expected a continuation frame, got opcode %d" % op
            payload += more
            self.ws_frames += 1
        return opcode, payload

    def recv_frame(self, timeout=10.0):
        """Next pbbp2 frame; skips WebSocket pings; raises Closed on a close frame."""
        while True:
            opcode, payload = self.recv(timeout)
            if opcode == OP_BINARY:
                return Frame.decode(payload)
            if opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed("close frame, status %s" % code)
            assert opcode in (OP_PING, OP_PONG), "unexpected opcode %d" % opcode

    def ping(self, seq_id=0, service=None):
        self.send_frame(Frame(seq_id, 0, self.service_id if service is None else service, 0,
                              [("type", "ping")]))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class WebhookReceiver:
    """A webhook endpoint on loopback standing in for a gateway: records each POST as
    (path, headers with lowercase names, body bytes) and answers 200 {"msg":"success"}
    (or the (status, text) pairs in answers, in order)."""

    def __init__(self, answers=None, path="/webhook/event"):
        self.got = queue.Queue()
        self.answers = list(answers or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = min(int(self.headers.get("Content-Length", 0)), 8 << 20)
                body = self.rfile.read(n)
                outer.got.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, text = outer.answers.pop(0) if outer.answers else (200, '{"msg":"success"}')
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d%s" % (self.server.server_address[1], path)

    def next(self, timeout=10.0):
        """The next POST: (path, headers, body); raises queue.Empty after timeout."""
        return self.got.get(timeout=timeout)

    def next_json(self, timeout=10.0):
        return json.loads(self.next(timeout)[2])

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
