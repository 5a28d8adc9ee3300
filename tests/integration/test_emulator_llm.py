"""The emulator's OpenAI-compatible POST /v1/chat/completions: a whole
answer or Server-Sent Events, a scripted or echoed text split on word boundaries,
chunked or close-delimited streams, and the failures asked for (HTTP 500 with an OpenAI
error body, a stream cut in the middle, no answer at all)."""
import json
import re
import socket
import unittest

from harness import GatewayCase, wait_until

USER = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"}, {"role": "user", "content": "echo  me please"}]


def raw_chat(port, stream=True, messages=USER, timeout=10.0):
    """The request on a raw socket; returns (head, body bytes up to EOF)."""
    body = json.dumps({"model": "m", "stream": stream, "messages": messages}).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode(), rest


def unchunk(data):
    """The payload of a chunked body, and whether its last chunk came."""
    out, complete = b"", False
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            complete = True
            break
        out, data = out + data[:size], data[size + 2:]
    return out, complete


def sse_records(payload):
    """The data of each SSE record (blank-line separated)."""
    return [line[6:] for rec in payload.decode().split("\n\n") for line in rec.split("\n")
            if line.startswith("data: ")]


def deltas(records):
    out = []
    for data in records:
        if data == "[DONE]":
            break
        content = json.loads(data)["choices"][0]["delta"].get("content")
        if content:
            out.append(content)
    return out


class EmulatorLlm(GatewayCase):
    def setUp(self):
        self.em = self.start_emulator()

    def test_whole_answer_echoes_the_last_user_message(self):
        status, headers, raw = self.em.chat(USER)
        self.assertEqual(status, 200)
        self.assertIn("application/json", headers["content-type"])
        a = json.loads(raw)
        self.assertEqual(a["object"], "chat.completion")
        self.assertEqual(a["choices"][0]["message"],
                         {"role": "assistant", "content": "echo  me please"})
        self.assertEqual(a["choices"][0]["finish_reason"], "stop")
        call, = self.em.llm()["calls"]
        self.assertEqual((call["outcome"], call["stream"], call["messages"]), ("done", False, USER))

    def test_stream_sends_words_then_done(self):
        answer = "Streaming answers arrive\nword by  word."
        self.em.llm_settings(answer=answer, delay_ms=5)
        head, body = raw_chat(self.em.port)
        self.assertRegex(head, r"^HTTP/1\.1 200 ")
        self.assertIn("Content-Type: text/event-stream", head)
        self.assertIn("Transfer-Encoding: chunked", head)
        payload, complete = unchunk(body)
        self.assertTrue(complete)
        records = sse_records(payload)
        self.assertEqual(records[-1], "[DONE]")
        words = deltas(records)
        self.assertEqual("".join(words), answer)
        self.assertEqual(len(words), 6)
        for w in words:
            self.assertRegex(w, r"^\s*\S+$")
        first = json.loads(records[0])
        self.assertEqual(first["choices"][0]["delta"]["role"], "assistant")
        self.assertEqual(json.loads(records[-2])["choices"][0]["finish_reason"], "stop")
        call, = self.em.llm()["calls"]
        self.assertEqual((call["outcome"], call["tokens_sent"]), ("done", 6))

    def test_close_delimited_stream(self):
        self.em.llm_settings(answer="a b c", delay_ms=0, framing="close")
        head, body = raw_chat(self.em.port)
        self.assertNotIn("Transfer-Encoding", head)
        self.assertNotIn("Content-Length", head)
        self.assertEqual("".join(deltas(sse_records(body))), "a b c")

    def test_failure_500_then_recovers(self):
        self.em.llm_settings(fail="500", fail_count=1)
        status, _, raw = self.em.chat(USER, stream=True)
        self.assertEqual(status, 500)
        err = json.loads(raw)["error"]
        self.assertEqual(err["type"], "server_error")
        self.assertTrue(err["message"])
        self.assertEqual(self.em.llm()["fail"], "none")
        status, _, raw = self.em.chat(USER)
        self.assertEqual(status, 200)
        self.assertEqual([c["outcome"] for c in self.em.llm()["calls"]], ["error_500", "done"])

    def test_cut_stream_ends_without_done(self):
        self.em.llm_settings(answer="one two three four five six", delay_ms=1, fail="cut")
        _, body = raw_chat(self.em.port)
        payload, complete = unchunk(body)
        self.assertFalse(complete)
        records = sse_records(payload)
        self.assertNotIn("[DONE]", records)
        self.assertEqual("".join(deltas(records)), "one two three")
        self.assertEqual(self.em.llm()["calls"][0]["outcome"], "cut")

    def test_hang_holds_the_connection_until_the_client_leaves(self):
        self.em.llm_settings(fail="hang")
        body = json.dumps({"model": "m", "stream": True, "messages": USER}).encode()
        s = socket.create_connection(("127.0.0.1", self.em.port), timeout=10)
        try:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                      b"\r\n\r\n" % len(body) + body)
            wait_until(lambda: self.em.llm()["streams_open"] == 1, what="a held stream")
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(1)
        finally:
            s.close()
        wait_until(lambda: self.em.llm()["streams_open"] == 0, what="the stream closed")
        self.assertEqual(self.em.llm()["calls"][0]["outcome"], "client_closed")

    def test_key_and_bad_requests(self):
        self.em.llm_settings(key="sk-emu")
        self.assertEqual(self.em.chat(USER)[0], 401)
        self.assertEqual(self.em.chat(USER, key="sk-other")[0], 401)
        status, _, raw = self.em.chat(USER, key="sk-emu")
        self.assertEqual(status, 200, raw)
        self.assertEqual(self.em.llm()["calls"][-1]["authorization"], "Bearer sk-emu")
        for messages in ([], [{"role": "user"}], "hi"):
            status, _, raw = self.em.chat(messages, key="sk-emu")
            self.assertEqual(status, 400)
            self.assertEqual(json.loads(raw)["error"]["type"], "invalid_request_error")

    def test_settings_are_checked_before_any_applies(self):
        before = self.em.llm()
        for bad in ({"fail": "sometimes"}, {"delay_ms": -1}, {"answer": 3},
                    {"delay_ms": 5, "colour": "red"}, {"framing": "gzip"}):
            status, answer = self.em.request("POST", "/_emu/llm", bad)
            self.assertEqual(status, 400, bad)
            self.assertTrue(answer["error"])
        after = self.em.llm()
        self.assertEqual({k: after[k] for k in ("delay_ms", "fail", "answer", "framing")},
                         {k: before[k] for k in ("delay_ms", "fail", "answer", "framing")})
        self.em.chat(USER)
        self.assertEqual(self.em.clear_llm_calls(), 1)
        self.assertEqual(self.em.llm()["calls"], [])
        self.assertTrue(re.search(r"llm 127\.0\.0\.1:\d+: 3 token\(s\)", self.em.log()))


if __name__ == "__main__":
    unittest.main()
