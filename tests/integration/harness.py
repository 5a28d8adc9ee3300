"""Integration harness: runs the real larkgw daemon on loopback and talks to it.

Every wait is bounded; every process started here is stopped here. A daemon that does
not exit 0 on SIGTERM (a leak under ASan, a crash) fails the test that ran it.
"""
import codecs
import http.client as httplib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("LARKGW_SRC", os.path.abspath(os.path.join(HERE, "..", "..")))
BIN = os.environ.get("LARKGW_BIN", os.path.join(SRC, "build", "larkgw"))
DATA = os.path.join(SRC, "tests", "data")

START_TIMEOUT = 30   # ASan builds start slowly on a loaded 2-core machine
STOP_TIMEOUT = 30


def wait_until(cond, timeout=10.0, interval=0.02, what="condition"):
    """Polls cond() until it returns a truthy value; raises AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def http(port, method, path, body=b"", headers=None, timeout=10.0, host="127.0.0.1"):
    """One HTTP request on a fresh connection; returns (status, headers dict, body bytes)."""
    conn = httplib.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def lua_value(v, indent="  "):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, dict):
        inner = ", ".join("%s = %s" % (k, lua_value(x)) for k, x in v.items())
        return "{ " + inner + " }"
    raise TypeError("no Lua form for %r" % (v,))


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


class LogReader:
    """Collects a process's combined output on a thread, so waits never block on a pipe.
    text() first takes whatever the pipe already holds: a line the daemon wrote before
    it answered a request is always seen by a test that got the answer."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        self.stream = stream
        os.set_blocking(self.fd, False)
        self.chunks = []
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.eof = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _drain(self):
        """Reads all the pipe holds now; call with the lock held."""
        while not self.eof:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not data:
                self.eof = True
                self.chunks.append(self.decoder.decode(b"", final=True))
                return
            self.chunks.append(self.decoder.decode(data))

    def _pump(self):
        while not self.eof:
            select.select([self.fd], [], [], 0.2)
            with self.lock:
                self._drain()
        self.stream.close()

    def text(self):
        with self.lock:
            self._drain()
            if len(self.chunks) > 1:
                self.chunks = ["".join(self.chunks)]
            return self.chunks[0] if self.chunks else ""

    def search(self, pattern):
        return re.search(pattern, self.text(), re.M)


class Daemon:
    """larkgw run with a generated config and scripts, in a private temp dir."""

    DEFAULTS = {
        "mode": "webhook",
        "verification_token": "v-token-7c1e",
        "webhook": {"listen": "127.0.0.1:0"},
        "admin": {"listen": "127.0.0.1:0"},
        "log": {"level": "debug"},
    }

    def __init__(self, config=None, scripts=None, extra_args=None, env=None, start=True,
                 scripts_dir=None, config_flag=True):
        self.dir = tempfile.mkdtemp(prefix="larkgw-test-")
        self.scripts_dir = scripts_dir or os.path.join(self.dir, "scripts")
        os.makedirs(self.scripts_dir, exist_ok=True)
        for name, text in (scripts or {}).items():
            self.write_script(name, text)
        cfg = merge(self.DEFAULTS, config or {})
        cfg.setdefault("scripts", self.scripts_dir)
        cfg.setdefault("state_dir", self.dir)
        cfg.setdefault("lua_path", os.path.join(SRC, "lua"))
        self.config = cfg
        self.config_path = os.path.join(self.dir, "larkgw.conf.lua")
        with open(self.config_path, "w") as f:
            for k, v in cfg.items():
                if v is not None:
                    f.write("%s = %s\n" % (k, lua_value(v)))
        self.extra_args = extra_args or []
        # without --config, larkgw finds larkgw.conf.lua in its working directory, self.dir
        self.config_flag = config_flag
        self.env = dict(os.environ)
        for var in ("LARK_APP_ID", "LARK_APP_SECRET", "LARK_ENCRYPT_KEY",
                    "LARK_VERIFICATION_TOKEN", "LARK_DOMAIN"):
            self.env.pop(var, None)
        self.env.update(env or {})
        self.proc = None
        self.reader = None
        self.webhook_port = None
        self.admin_port = None
        if start:
            self.start()

    def write_script(self, name, text):
        path = os.path.join(self.scripts_dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
        return path

    def command(self):
        flag = ["--config", self.config_path] if self.config_flag else []
        return [BIN, "run"] + flag + self.extra_args

    def start(self, expect_fail=False):
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=self.env, cwd=self.dir)
        self.reader = LogReader(self.proc.stdout)
        if expect_fail:
            try:
                code = self.proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
                raise AssertionError("daemon was expected to refuse to start:\n" + self.log())
            self.reader.thread.join(timeout=5)
            return code, self.log()
        wait_until(lambda: self.reader.search(r"gateway: ready") or self.proc.poll() is not None,
                   timeout=START_TIMEOUT, what="gateway: ready")
        if self.proc.poll() is not None:
            raise AssertionError("daemon exited with %s at start:\n%s" % (self.proc.returncode, self.log()))
        m = self.reader.search(r"webhook: listening on .*:(\d+)\s*$")
        self.webhook_port = int(m.group(1)) if m else None
        m = self.reader.search(r"admin: listening on .*:(\d+)\s*$")
        self.admin_port = int(m.group(1)) if m else None
        return self

    def log(self):
        return self.reader.text() if self.reader else ""

    def wait_log(self, pattern, timeout=10.0, count=1):
        """Waits until pattern (a regex, multiline) matches at least count times."""
        return wait_until(lambda: len(re.findall(pattern, self.log(), re.M)) >= count or None,
                          timeout=timeout, what="log /%s/ x%d" % (pattern, count))

    def post(self, body, headers=None, path=None):
        return http(self.webhook_port, "POST", path or self.config["webhook"].get("path", "/webhook/event"),
                    body=body, headers=headers)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def metric(self, name):
        """The value of one line of /metrics ("name" or "name{labels}"), None when absent."""
        body = http(self.admin_port, "GET", "/metrics")[2].decode()
        for line in body.splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return float(value)
        return None

    def stop(self, check=True):
        if not self.proc or self.proc.poll() is not None:
            code = self.proc.returncode if self.proc else 0
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
                raise AssertionError("daemon did not stop within %ds:\n%s" % (STOP_TIMEOUT, self.log()))
        if self.reader:
            self.reader.thread.join(timeout=5)
        if check and code != 0:
            raise AssertionError("daemon exited with %s:\n%s" % (code, self.log()[-8000:]))
        return code

    def _kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self._kill()
        self._keep_log()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _keep_log(self):
        """Leaves the log, and the secrets this daemon was given, in LARKGW_LOG_DIR for
        check_logs.py, which reads every daemon log of the run once all tests are done."""
        out = os.environ.get("LARKGW_LOG_DIR")
        if not out or not self.reader:
            return
        os.makedirs(out, exist_ok=True)
        secrets = [self.config.get(k) for k in ("app_secret", "encrypt_key", "verification_token")]
        secrets.append(self.config.get("admin", {}).get("token"))
        secrets += [self.env.get(k) for k in ("LARK_APP_SECRET", "LARK_ENCRYPT_KEY",
                                               "LARK_VERIFICATION_TOKEN")]
        base = os.path.join(out, "%s-%d" % (os.path.basename(sys.argv[0]), self.proc.pid))
        with open(base + ".log", "w") as f:
            f.write(self.log())
        with open(base + ".secrets", "w") as f:
            json.dump(sorted({s for s in secrets if isinstance(s, str) and s}), f)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.proc and exc_type is None:
                self.stop()
        finally:
            self.cleanup()
        return False


class GatewayCase(unittest.TestCase):
    """Base of the integration tests: daemons (and emulators) started through it are
    stopped, checked (exit 0, so ASan found nothing) and cleaned up after each test,
    whatever the test did."""

    def start_daemon(self, **kwargs):
        d = Daemon(start=False, **kwargs)
        self.addCleanup(d.cleanup)
        d.start()
        self.addCleanup(lambda: d.proc.poll() is None and d.stop())
        return d

    def start_daemon_failing(self, **kwargs):
        """Starts a daemon that must refuse to start; returns (exit code, log)."""
        d = Daemon(start=False, **kwargs)
        self.addCleanup(d.cleanup)
        return d.start(expect_fail=True)

    def start_emulator(self, **kwargs):
        from emulator import Emulator   # the emulator driver imports this module
        em = Emulator(**kwargs)
        em.__enter__()
        self.addCleanup(em.__exit__, None, None, None)
        return em

    # The same for a daemon (or emulator) shared by every test of a class: started in
    # setUpClass, stopped, checked and cleaned up once the class is done.

    @classmethod
    def start_class_daemon(cls, **kwargs):
        d = Daemon(start=False, **kwargs)
        cls.addClassCleanup(d.cleanup)
        d.start()
        cls.addClassCleanup(lambda: d.proc.poll() is None and d.stop())
        return d

    @classmethod
    def start_class_emulator(cls, **kwargs):
        from emulator import Emulator
        em = Emulator(**kwargs)
        em.__enter__()
        cls.addClassCleanup(em.__exit__, None, None, None)
        return em
