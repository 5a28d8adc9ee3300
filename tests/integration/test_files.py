"""Files end to end, larkgw run against larkgw emulator: lark.api.upload as
multipart/form-data (the emulator's own parser checks the body and keeps the bytes, so
they are compared byte for byte), lark.api.download of stored and generated resources,
its bounds (max_bytes, the script's memory), JSON errors as nil, err, the upload bound,
lark.im.send_image/send_file, and lark.api.pages across page tokens."""
import base64
import hashlib
import json
import re
import unittest

from harness import GatewayCase

SCRIPT = r'''
local function all_bytes()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  local s = table.concat(t)
  -- a line that looks like a delimiter must travel as data
  return s .. "\r\n--larkgw-0123456789abcdef\r\n--\r\n" .. s
end
local DATA = all_bytes()
local RES = "im/v1/messages/om_files/resources/"

local function generated(s, n)
  if #s ~= n then return false end
  for i = 1, n, 997 do
    if s:byte(i) ~= (i - 1) % 251 then return false end
  end
  return true
end

local commands = {}

function commands.upload()
  local res, err = lark.api.upload("im/v1/images", {
    fields = { image_type = "message" },
    file = { field = "image", name = 'pic "1".png', content_type = "image/png", data = DATA },
  })
  if not res then error(err) end
  local key = res.data.image_key
  local bytes, headers = lark.api.download(RES .. key, { query = { type = "image" } })
  lark.log.info("upload key=" .. key .. " same=" .. tostring(bytes == DATA) ..
                " ctype=" .. headers.content_type)
end

function commands.gen(n)
  n = math.tointeger(tonumber(n))
  local bytes, headers = lark.api.download(RES .. "gen_" .. n, { query = { type = "file" } })
  if not bytes then error(headers) end
  lark.log.info("gen " .. n .. " ok=" .. tostring(generated(bytes, n)) ..
                " disposition=" .. headers.content_disposition)
end

function commands.toobig()
  local bytes, err = lark.api.download(RES .. "gen_200000",
                                       { query = { type = "file" }, max_bytes = 100000 })
  lark.log.info("toobig bytes=" .. tostring(bytes) .. " code=" .. err.code)
end

function commands.memory()
  local bytes, err = lark.api.download(RES .. "gen_" .. 12 * 1024 * 1024,
                                       { query = { type = "file" }, max_bytes = 20 * 1024 * 1024 })
  lark.log.info("memory bytes=" .. tostring(bytes) .. " code=" .. err.code .. " " .. err.msg)
end

function commands.missing()
  local bytes, err = lark.api.download(RES .. "no_such_key", { query = { type = "file" } })
  lark.log.info("missing bytes=" .. tostring(bytes) .. " code=" .. err.code)
end

function commands.bigupload()
  local res, err = lark.api.upload("im/v1/files", {
    fields = { file_type = "stream", file_name = "big.bin" },
    file = { field = "file", data = string.rep("x", 2 * 1024 * 1024) },
  })
  lark.log.info("bigupload res=" .. tostring(res) .. " code=" .. err.code)
end

function commands.media()
  local a, err = lark.im.send_image("chat_id", "oc_files", DATA,
                                    { name = "a.png", content_type = "image/png" })
  if not a then error(err) end
  local b, err2 = lark.im.send_file("chat_id", "oc_files", "hello, file",
                                    { name = "notes.txt", file_type = "stream" })
  if not b then error(err2) end
  lark.log.info("media sent " .. a.data.message_id .. " " .. b.data.message_id)
end

function commands.pages(size, max)
  local n, first, last = 0, nil, nil
  local opts = { page_size = math.tointeger(tonumber(size)) }
  if max ~= "0" then opts.max_items = math.tointeger(tonumber(max)) end
  for chat in lark.api.pages("im/v1/chats", opts) do
    n = n + 1
    first = first or chat.chat_id
    last = chat.chat_id
  end
  lark.log.info("pages n=" .. n .. " first=" .. tostring(first) .. " last=" .. tostring(last))
end

function commands.badargs()
  local cases = {
    function() lark.api.upload("im/v1/files", { fields = {}, file = { data = "x" } }) end,
    function() lark.api.upload("im/v1/files", { file = { field = "file", data = "x" }, filez = 1 }) end,
    function() lark.api.upload("im/v1/files", { fields = { n = {} }, file = { field = "f", data = "" } }) end,
    function() lark.api.download(RES .. "gen_1", { max_bytes = 0 }) end,
    function() lark.api.download(RES .. "gen_1", { body = "x" }) end,
  }
  local out = {}
  for i, f in ipairs(cases) do
    local ok, err = pcall(f)
    out[#out + 1] = ok and "ok" or tostring(err):match("lark%.api: (.*)$") or tostring(err)
  end
  lark.log.info("badargs " .. table.concat(out, " | "))
end

function on_p2_message_receive_v1(event)
  local words = {}
  for w in lark.message.text(event):gmatch("%S+") do words[#words + 1] = w end
  commands[words[1]](table.unpack(words, 2))
end
'''


class Files(GatewayCase):
    @classmethod
    def setUpClass(cls):
        cls.em = cls.start_class_emulator(verification_token="v-token-7c1e")
        cfg = cls.em.gateway_config(limits={"upload_max_mb": 1, "memory_mb": 8})
        cls.d = cls.start_class_daemon(config=cfg, scripts={"files.lua": SCRIPT})
        cls.em.wait_connections(1)

    def run_command(self, text, pattern):
        """Sends text, waits for a new log line matching pattern and returns its match."""
        seen = len(re.findall(pattern, self.d.log(), re.M))
        self.em.send_text(text)
        self.d.wait_log(pattern, timeout=20, count=seen + 1)
        return list(re.finditer(pattern, self.d.log(), re.M))[seen]

    def test_upload_is_kept_byte_for_byte_and_downloads_back(self):
        self.em.clear_files()
        m = self.run_command("upload", r"upload key=(img_v3_\w+) same=(\w+) ctype=(\S+)$")
        self.assertEqual(m.group(2), "true", self.d.log()[-3000:])
        self.assertEqual(m.group(3), "image/png")
        files = self.em.files()
        self.assertEqual(len(files), 1, files)
        f = files[0]
        block = bytes(range(256))
        data = block + b"\r\n--larkgw-0123456789abcdef\r\n--\r\n" + block
        self.assertEqual(base64.b64decode(f["data_base64"]), data)
        self.assertEqual(f["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual((f["key"], f["kind"]), (m.group(1), "image"))
        self.assertEqual(f["name"], "pic %221%22.png")      # quotes escaped as browsers do
        self.assertEqual(f["content_type"], "image/png")
        self.assertEqual(f["fields"], {"image_type": "message"})
        call = self.em.api_calls("/open-apis/im/v1/images")[-1]
        self.assertEqual((call["token_kind"], call["code"]), ("tenant", 0))

    def test_generated_download(self):
        m = self.run_command("gen 300000", r"gen 300000 ok=(\w+) disposition=(.*)$")
        self.assertEqual(m.group(1), "true")
        self.assertIn('filename="gen_300000"', m.group(2))

    def test_download_bound(self):
        m = self.run_command("toobig", r"toobig bytes=(\S+) code=(-?\d+)$")
        self.assertEqual((m.group(1), m.group(2)), ("nil", "-4"))

    def test_download_billed_to_the_script(self):
        m = self.run_command("memory", r"memory bytes=(\S+) code=(-?\d+) (.*)$")
        self.assertEqual((m.group(1), m.group(2)), ("nil", "-4"))
        self.assertIn("limits.memory_mb", m.group(3))
        # the script still serves
        m = self.run_command("gen 10", r"gen 10 ok=(\w+)")
        self.assertEqual(m.group(1), "true")

    def test_json_error_is_nil_err(self):
        m = self.run_command("missing", r"missing bytes=(\S+) code=(-?\d+)$")
        self.assertEqual((m.group(1), m.group(2)), ("nil", "234003"))

    def test_upload_bound_checked_before_sending(self):
        before = len(self.em.api_calls("/open-apis/im/v1/files"))
        m = self.run_command("bigupload", r"bigupload res=(\S+) code=(-?\d+)$")
        self.assertEqual((m.group(1), m.group(2)), ("nil", "-4"))
        self.assertEqual(len(self.em.api_calls("/open-apis/im/v1/files")), before)

    def test_send_image_and_file(self):
        self.em.clear_files()
        self.run_command("media", r"media sent om_\S+ om_\S+$")
        files = {f["kind"]: f for f in self.em.files()}
        self.assertEqual(base64.b64decode(files["file"]["data_base64"]), b"hello, file")
        self.assertEqual(files["file"]["fields"], {"file_type": "stream", "file_name": "notes.txt"})
        sends = [c for c in self.em.api_calls("/open-apis/im/v1/messages")
                 if c["path"] == "/open-apis/im/v1/messages" and c["body"]
                 and c["body"]["msg_type"] in ("image", "file")]
        kinds = {c["body"]["msg_type"]: json.loads(c["body"]["content"]) for c in sends}
        self.assertEqual(kinds["image"], {"image_key": files["image"]["key"]})
        self.assertEqual(kinds["file"], {"file_key": files["file"]["key"]})

    def test_bad_arguments_raise(self):
        m = self.run_command("badargs", r"badargs (.*)$")
        got = m.group(1).split(" | ")
        self.assertEqual(len(got), 5, got)
        self.assertIn("file.field: string expected", got[0])
        self.assertIn("unknown option 'filez'", got[1])
        self.assertIn("option 'fields'", got[2])
        self.assertIn("option 'max_bytes'", got[3])
        self.assertIn("option 'body'", got[4])

    def test_pages(self):
        self.em.set_lists(chats=45)
        self.em.clear_api_calls()
        m = self.run_command("pages 20 0", r"pages n=(\d+) first=(\S+) last=(\S+)$")
        self.assertEqual(m.group(1), "45")
        self.assertTrue(m.group(2).endswith("0001") and m.group(3).endswith("0045"), m.group(0))
        calls = self.em.api_calls("/open-apis/im/v1/chats")
        self.assertEqual(len(calls), 3)
        self.assertEqual([c["query"].get("page_token", "") for c in calls],
                         ["", "pt_14", "pt_28"])
        self.em.clear_api_calls()
        m = self.run_command("pages 20 25", r"pages n=(\d+) first=\S+ last=(\S+)$")
        self.assertEqual(m.group(1), "25")
        self.assertEqual(len(self.em.api_calls("/open-apis/im/v1/chats")), 2)


class EmulatorMultipart(GatewayCase):
    """The emulator refuses what breaks the syntax: the oracle is strict."""

    def test_refuses_malformed_bodies(self):
        em = self.start_emulator()
        token = em.tenant_token()
        ctype = {"Content-Type": "multipart/form-data; boundary=XyZ"}
        good = (b"--XyZ\r\nContent-Disposition: form-data; name=\"image_type\"\r\n\r\nmessage\r\n"
                b"--XyZ\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n"
                b"Content-Type: image/png\r\n\r\n\x00\x01\x02\r\n--XyZ--\r\n")
        status, _, a = em.api("POST", "/open-apis/im/v1/images", good, token=token, headers=ctype)
        self.assertEqual((status, a["code"]), (200, 0), a)
        bad = [good.replace(b"\r\n--XyZ--\r\n", b"\r\n--XyZ"),        # no close delimiter
               good.replace(b"--XyZ--\r\n", b"--XyZ--\r\njunk"),       # bytes after it
               good.replace(b"form-data; name=\"image_type\"", b"inline"),
               good.replace(b"\r\n\r\nmessage", b"\n\nmessage"),       # bare LF head
               good[2:]]                                               # no first delimiter
        for body in bad:
            status, _, a = em.api("POST", "/open-apis/im/v1/images", body, token=token,
                                  headers=ctype)
            self.assertEqual((status, a["code"]), (400, 99992402), (body, a))
        status, _, a = em.api("POST", "/open-apis/im/v1/images", good, token=token,
                              headers={"Content-Type": "application/json"})
        self.assertEqual(a["code"], 99992402)


if __name__ == "__main__":
    unittest.main(verbosity=2)
