"""A small local HTTP(S) server for tests of outbound calls, with a test CA made at test
time by the openssl command (nothing private is committed).

    ca = TestCA()                       # a CA, and a certificate for "localhost" it signed
    with TestServer(tls=ca) as srv:     # https://localhost:<srv.port>/...
        ...                             # the gateway trusts ca.ca_file via tls_ca_file

Routes (GET or POST; the query string tunes them):
  /echo                200 JSON {method, path, query, headers (lower-case), body}
  /status/<n>          that status, a JSON body
  /redirect            302 to /echo
  /big?n=N             N bytes of "x" with a Content-Length
  /slow?s=S            waits S seconds, then 200
  /sse?style=...       an event stream (see SSE_STYLES); &framing=chunked|close|length,
                       &pace=bytes|lines|whole, &close_notify=0 (TLS without close_notify)
  /drip?n=N&gap=S      N events S seconds apart, chunked (a stream that takes its time)
Every connection is counted: srv.open_connections() is how many are open now."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SSE_STYLES = {
    # what an OpenAI-compatible server sends
    "openai": (b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
               b': keep-alive\n\n'
               b'data: {"choices":[{"delta":{"content":"lo"}}]}\n\n'
               b'data: [DONE]\n\n'),
    # several data lines, CRLF and lone CR line ends, fields, a comment in the middle
    "awkward": (b'event: greeting\r\nid: 1\r\ndata: line one\r\ndata: line two\r\n\r\n'
                b': a comment\rdata: three\r\r'
                b'retry: 100\nid: 2\ndata:four\n\n'),
    # the last event has no blank line after it
    "unterminated": b'data: first\n\ndata: last',
}


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


class TestCA:
    """A throwaway CA and a server certificate for host names (DNS) it signed."""

    def __init__(self, names=("localhost",)):
        self.dir = tempfile.mkdtemp(prefix="larkgw-ca-")
        d = self.dir
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
                 "-out", "ca.pem", "-days", "2", "-subj", "/CN=larkgw test CA", cwd=d)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
                 "-out", "server.csr", "-subj", "/CN=%s" % names[0], cwd=d)
        with open(os.path.join(d, "ext.cnf"), "w") as f:
            f.write("subjectAltName=%s\n" % ",".join("DNS:" + n for n in names))
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
                 cwd=d)
        self.ca_file = os.path.join(d, "ca.pem")
        self.cert_file = os.path.join(d, "server.pem")
        self.key_file = os.path.join(d, "server.key")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _query(self):
        u = urllib.parse.urlsplit(self.path)
        return u.path, dict(urllib.parse.parse_qsl(u.query))

    def _send(self, status, body, ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.owner.requests.append(self.path)
        path, q = self._query()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if path == "/echo":
            out = {"method": self.command, "path": path, "query": q, "body": body.decode(),
                   "headers": {k.lower(): v for k, v in self.headers.items()}}
            self._send(200, json.dumps(out).encode())
        elif path.startswith("/status/"):
            self._send(int(path[8:]), json.dumps({"error": {"message": "as asked"}}).encode())
        elif path == "/redirect":
            self._send(302, b"{}", headers=[("Location", "/echo")])
        elif path == "/big":
            self._send(200, b"x" * int(q.get("n", "1000")), "text/plain")
        elif path == "/slow":
            time.sleep(float(q.get("s", "5")))
            self._send(200, b"{}")
        elif path == "/sse":
            self._sse(q)
        elif path == "/drip":
            self._drip(int(q.get("n", "100")), float(q.get("gap", "0.5")))
        else:
            self._send(404, b"{}")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _pieces(self, data, pace):
        if pace == "bytes":
            return [data[i:i + 1] for i in range(len(data))]
        if pace == "lines":
            return [p for p in data.replace(b"\n", b"\n\0").split(b"\0") if p]
        return [data]

    def _sse(self, q):
        data = SSE_STYLES[q.get("style", "openai")]
        framing = q.get("framing", "chunked")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif framing == "length":
            self.send_header("Content-Length", str(len(data)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.flush()
        for piece in self._pieces(data, q.get("pace", "whole")):
            if framing == "chunked":
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)
            self.wfile.flush()
            time.sleep(0.002)
        if framing == "chunked":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        if framing == "close" and isinstance(self.connection, ssl.SSLSocket) \
                and q.get("close_notify", "1") == "1":
            try:
                self.connection.unwrap()  # an orderly TLS close
            except (ssl.SSLError, OSError):
                pass

    def _drip(self, n, gap):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i in range(n):
                piece = b"data: %d\n\n" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(gap)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner, tls):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = None
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls.cert_file, tls.key_file)
            self.tls = ctx

    def handle_error(self, request, client_address):
        pass                              # clients hanging up mid-answer is what tests do

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def process_request_thread(self, request, client_address):
        with self.owner.lock:
            self.owner.open += 1
        try:
            if self.tls:
                try:
                    request.do_handshake()
                except (ssl.SSLError, OSError):
                    self.shutdown_request(request)
                    return
            super().process_request_thread(request, client_address)
        finally:
            with self.owner.lock:
                self.owner.open -= 1


class TestServer:
    """The server on 127.0.0.1, in a thread; TLS when given a TestCA."""

    def __init__(self, tls=None):
        self.lock = threading.Lock()
        self.open = 0
        self.requests = []
        self.httpd = _Server(self, tls)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def open_connections(self):
        with self.lock:
            return self.open

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def free_port():
    """A loopback port nobody listens on (for connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
