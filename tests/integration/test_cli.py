"""The command line: version, --help, check (config and scripts, file:line errors),
replay, flags over the config file, and webhook mode refusing to start insecurely."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, DATA, SRC, GatewayCase


def larkgw(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("LARK_")}
    e.update(env or {})
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=60, env=e)
    return p.returncode, p.stdout + p.stderr


class Cli(GatewayCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="larkgw-cli-")
        self.scripts = os.path.join(self.dir.name, "scripts")
        os.mkdir(self.scripts)
        self.write("scripts/ok.lua", "function on_event() return { seen = true } end\n")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def config(self, extra=""):
        return self.write("c.lua", 'scripts = "%s"\nlua_path = "%s/lua"\n%s'
                          % (self.scripts, SRC, extra))

    def test_version_and_help(self):
        code, out = larkgw("version")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"^larkgw \d+\.\d+\.\d+")
        code, out = larkgw("--help")
        self.assertEqual(code, 0)
        for word in ("run", "check", "replay", "emulator", "--config", "--set"):
            self.assertIn(word, out)
        code, out = larkgw("frobnicate")
        self.assertEqual(code, 2)
        self.assertIn("unknown command 'frobnicate'", out)

    def test_check(self):
        self.assertEqual(larkgw("check", "--config", self.config())[0], 0)
        bad = self.write("scripts/broken.lua", "function on_event()\n  x = = 1\nend\n")
        code, out = larkgw("check", "--config", self.config())
        self.assertEqual(code, 1)
        self.assertIn("%s:2:" % bad, out)
        os.remove(bad)
        code, out = larkgw("check", "--config", self.config("webhook = { lisen = 1 }\n"))
        self.assertEqual(code, 1)
        self.assertIn("unknown key 'webhook.lisen'", out)
        code, out = larkgw("check", "--config", self.config("connections = '3'\n"))
        self.assertEqual(code, 1)
        self.assertIn("key 'connections': integer expected, got string", out)
        code, out = larkgw("check", "--config", self.config(), "--set", "mode=pigeon")
        self.assertEqual(code, 1)
        self.assertIn("key 'mode'", out)

    def test_replay(self):
        event = os.path.join(DATA, "webhook", "event.plain.json")
        code, out = larkgw("replay", "--config", self.config(), event)
        self.assertEqual(code, 0, out)
        self.assertIn('200 {"seen":true}', out)
        self.write("scripts/ok.lua", "function on_event() error('nope') end\n")
        code, out = larkgw("replay", "--config", self.config(), event)
        self.assertEqual(code, 1)
        self.assertIn("ok.lua:1: nope", out)

    def test_flags_and_env_override(self):
        # env fills the token, a flag picks the mode and the listener: it starts
        d = self.start_daemon(config={"verification_token": None},
                              env={"LARK_VERIFICATION_TOKEN": "vt-from-env-3c9a"},
                              extra_args=["--mode", "webhook", "--listen", "127.0.0.1:0"])
        self.assertIsNotNone(d.webhook_port)
        d.wait_log(r"gateway: ready mode=webhook")

    def test_webhook_mode_refuses_without_token(self):
        code, log = self.start_daemon_failing(config={"verification_token": None})
        self.assertEqual(code, 1)
        self.assertIn("verification", log)

    def test_config_from_the_current_directory_is_logged(self):
        # the harness runs the daemon in its directory, where it writes larkgw.conf.lua
        d = self.start_daemon(scripts={"ok.lua": "function on_event() end\n"},
                              extra_args=["--mode", "webhook"], config_flag=False)
        d.wait_log(r"INFO  config: read larkgw\.conf\.lua from the current directory "
                   + re.escape(os.path.realpath(d.dir)) + "$")
        d2 = self.start_daemon(scripts={"ok.lua": "function on_event() end\n"})
        self.assertNotIn("from the current directory", d2.log())

class Packaging(unittest.TestCase):
    UNIT = os.path.join(SRC, "packaging", "larkgw.service")

    def test_systemd_unit_verifies_and_is_hardened(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed: the unit is not verified")
        with open(self.UNIT) as f:
            unit = f.read()
        for line in ("LimitNOFILE=", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/larkgw", "PrivateTmp=yes", "ProtectHome=yes",
                     "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                     "CapabilityBoundingSet=\n"):
            self.assertIn("\n" + line, unit)
        # verify wants ExecStart to exist: point it at the binary under test
        with tempfile.TemporaryDirectory(prefix="larkgw-unit-") as tmp:
            path = os.path.join(tmp, "larkgw.service")
            with open(path, "w") as f:
                f.write(unit.replace("/usr/bin/larkgw", BIN))
            p = subprocess.run([analyze, "verify", path], capture_output=True, text=True,
                               timeout=60)
        # it exits 0 even over unknown keys and bad values; those are printed
        complaints = [l for l in (p.stdout + p.stderr).splitlines() if "larkgw.service" in l]
        self.assertEqual((p.returncode, complaints), (0, []), p.stdout + p.stderr)

    def test_example_config_checks(self):
        code, out = larkgw("check", "--config", os.path.join(SRC, "packaging", "larkgw.conf.lua"),
                           "--set", "scripts=" + os.path.join(SRC, "scripts", "examples"),
                           "--set", "lua_path=" + os.path.join(SRC, "lua"))
        self.assertEqual(code, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
