"""The Lua half of `lark` is compiled into the binary: a copy of larkgw in a directory
with no lua/ in reach, run without lua_path, still answers lark.im calls; a lua_path
that lacks lark/init.lua is a startup error (non-zero exit, a clear line)."""
import os
import shutil
import tempfile
import unittest

from harness import BIN, SRC, Daemon, GatewayCase

TOKEN = "v-token-b17n"

SCRIPT = r'''
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local res, err = lark.im.reply(msg.message_id, "text", { text = "built in" })
  if not res then error(err) end
  lark.log.info("replied to " .. msg.message_id)
end
'''


class CopiedDaemon(Daemon):
    """A Daemon run from a copy of the binary (its cwd is already a fresh temp dir)."""

    def __init__(self, binary, **kwargs):
        self.binary = binary
        super().__init__(**kwargs)

    def command(self):
        return [self.binary, "run", "--config", self.config_path] + self.extra_args


class LuaBuiltIn(GatewayCase):
    def copy_binary(self):
        where = tempfile.mkdtemp(prefix="larkgw-bin-")
        self.addCleanup(shutil.rmtree, where, True)
        exe = os.path.join(where, "larkgw")
        shutil.copy2(BIN, exe)
        self.assertFalse(os.path.exists(os.path.join(where, "..", "lua", "lark", "init.lua")))
        return exe

    def test_copied_binary_answers_lark_im(self):
        em = self.start_emulator(verification_token=TOKEN)
        cfg = em.gateway_config(mode="webhook")
        cfg["lua_path"] = None   # not written: the copy built in
        d = CopiedDaemon(self.copy_binary(), config=cfg, scripts={"bot.lua": SCRIPT},
                         start=False)
        self.addCleanup(d.cleanup)
        d.start()
        self.addCleanup(lambda: d.proc.poll() is None and d.stop())
        self.assertIn("the Lua half of lark: built in", d.log())
        em.webhook_to(d)
        em.send_text("hello", im_message_id="om_builtin_1", delivery="webhook")
        d.wait_log(r"replied to om_builtin_1$", timeout=20)
        calls = em.api_calls("/open-apis/im/v1/messages/om_builtin_1/reply")
        self.assertEqual(len(calls), 1, calls)
        self.assertEqual(d.stop(), 0)

    def test_lua_path_without_init_is_a_startup_error(self):
        lua = tempfile.mkdtemp(prefix="larkgw-lua-")
        self.addCleanup(shutil.rmtree, lua, True)
        shutil.copytree(os.path.join(SRC, "lua", "lark"), os.path.join(lua, "lark"))
        os.remove(os.path.join(lua, "lark", "init.lua"))
        d = Daemon(config={"lua_path": lua}, scripts={"bot.lua": SCRIPT}, start=False)
        self.addCleanup(d.cleanup)
        code, log = d.start(expect_fail=True)
        self.assertNotEqual(code, 0, log)
        self.assertIn("lua_path %s has no readable lark/init.lua" % lua, log)


if __name__ == "__main__":
    unittest.main()
