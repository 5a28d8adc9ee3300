"""A private redis-server for a test: loopback only, a free port, no persistence, in a
temp dir; stopped (and its dir removed) by the test that started it.

    from redis_server import RedisServer
    with RedisServer() as rs:
        cfg = {"redis": {"url": rs.url}}
        rs.command("GET", "larkgw:store:k")      # b"..." / int / None / list
        rs.kill(); rs.restart()                  # an outage, then the same port again

In a GatewayCase: rs = start_redis(self) (stopped by the test's cleanup). Tests are
skipped, not failed, when redis-server is not installed (tools/deps.sh installs it).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from harness import START_TIMEOUT, LogReader, wait_until

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    return os.access(REDIS_SERVER, os.X_OK)


class RedisServer:
    def __init__(self, password=None, port=None, start=True):
        self.password = password
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="larkgw-redis-")
        self.proc = None
        self.reader = None
        if start:
            self.start()

    @property
    def url(self):
        auth = ":%s@" % self.password if self.password else ""
        return "redis://%s127.0.0.1:%d/0" % (auth, self.port)

    def start(self):
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
               "--protected-mode", "yes"]
        if self.password:
            cmd += ["--requirepass", self.password]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     cwd=self.dir)
        self.reader = LogReader(self.proc.stdout)
        wait_until(lambda: self._ping() or self.proc.poll() is not None,
                   timeout=START_TIMEOUT, what="redis-server on port %d" % self.port)
        if self.proc.poll() is not None:
            raise AssertionError("redis-server exited at start:\n" + self.reader.text())
        return self

    def _ping(self):
        try:
            return self.command("PING") == b"PONG"
        except OSError:
            return False

    def command(self, *args, timeout=5.0):
        """One command over a fresh connection (RESP); returns bytes, int, None or list."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            if self.password:
                s.sendall(_encode(("AUTH", self.password)))
                _read(f)
            s.sendall(_encode(args))
            return _read(f)

    def kill(self):
        """SIGKILL: the gateways see their connection drop."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.reader.thread.join(timeout=5)

    def restart(self):
        self.kill()
        return self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.reader:
            self.reader.thread.join(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop()
        return False


def start_redis(case, **kwargs):
    """A RedisServer stopped by case's cleanup. Without redis-server the test fails:
    make test installs it (tools/deps.sh), so a missing one is a broken box."""
    if not available():
        case.fail("redis-server is not installed (tools/deps.sh)")
    rs = RedisServer(**kwargs)
    case.addCleanup(rs.stop)
    return rs


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class RedisError(Exception):
    pass


def _read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read(f) for _ in range(n)]
    raise RedisError("unexpected reply %r" % line)
