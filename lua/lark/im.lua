-- lark.im: send, reply to and update messages over lark.api. Like every
-- lark.api call, each returns the decoded answer (res.data.message_id) or nil, err, and
-- may only be called from a handler. `content` is a table (encoded here) or a JSON string.
local M = {}

local function check(v, n, fname, want)
  if type(v) ~= want then
    error(("bad argument #%d to '%s' (%s expected, got %s)"):format(n, fname, want, type(v)), 3)
  end
end

local function encode(content, n, fname)
  if type(content) == "table" then return lark.json.encode(content) end
  check(content, n, fname, "string")
  return content
end

local function options(opts, n, fname, allowed)
  if opts == nil then return {} end
  check(opts, n, fname, "table")
  for k in pairs(opts) do
    if not allowed[k] then
      error(("bad argument #%d to '%s' (unknown option '%s')"):format(n, fname, tostring(k)), 3)
    end
  end
  return opts
end

local SEND_OPTS = { uuid = true, tenant_key = true, timeout = true }
local REPLY_OPTS = { uuid = true, reply_in_thread = true, tenant_key = true, timeout = true }
local UPDATE_OPTS = { tenant_key = true, timeout = true }

-- Raises at the caller of fname (level 3: this, fname, its caller).
local function message_id_arg(message_id, fname)
  if type(message_id) ~= "string" then
    error(("bad argument #1 to '%s' (string expected, got %s)"):format(fname, type(message_id)), 3)
  end
  if #message_id > 128 or not message_id:match("^[%w_%-]+$") then
    error(("bad argument #1 to '%s' (not a message id)"):format(fname), 3)
  end
end

-- lark.im.send(receive_id_type, receive_id, msg_type, content [, opts])
-- receive_id_type: "open_id", "user_id", "union_id", "email" or "chat_id".
-- opts: uuid (the platform's idempotency key), tenant_key, timeout (seconds).
function M.send(receive_id_type, receive_id, msg_type, content, opts)
  check(receive_id_type, 1, "send", "string")
  check(receive_id, 2, "send", "string")
  check(msg_type, 3, "send", "string")
  content = encode(content, 4, "send")
  opts = options(opts, 5, "send", SEND_OPTS)
  return lark.api.post("/open-apis/im/v1/messages", {
    query = { receive_id_type = receive_id_type },
    body = { receive_id = receive_id, msg_type = msg_type, content = content, uuid = opts.uuid },
    tenant_key = opts.tenant_key,
    timeout = opts.timeout,
  })
end

-- lark.im.reply(message_id, msg_type, content [, opts])
-- opts: reply_in_thread (boolean), uuid, tenant_key, timeout (seconds).
function M.reply(message_id, msg_type, content, opts)
  message_id_arg(message_id, "reply")
  check(msg_type, 2, "reply", "string")
  content = encode(content, 3, "reply")
  opts = options(opts, 4, "reply", REPLY_OPTS)
  return lark.api.post("/open-apis/im/v1/messages/" .. message_id .. "/reply", {
    body = { msg_type = msg_type, content = content, reply_in_thread = opts.reply_in_thread,
             uuid = opts.uuid },
    tenant_key = opts.tenant_key,
    timeout = opts.timeout,
  })
end

local MEDIA_OPTS = { name = true, content_type = true, file_type = true, duration = true,
                     uuid = true, tenant_key = true, timeout = true }

-- Uploads bytes and sends them as one image or file message (two calls: the upload's
-- key, then the message). Returns the send's answer, or nil, err of whichever failed.
local function send_media(fname, receive_id_type, receive_id, data, opts, image)
  check(receive_id_type, 1, fname, "string")
  check(receive_id, 2, fname, "string")
  check(data, 3, fname, "string")
  opts = options(opts, 4, fname, MEDIA_OPTS)
  local upload
  if image then
    upload = { fields = { image_type = "message" },
               file = { field = "image", name = opts.name or "image",
                        content_type = opts.content_type, data = data } }
  else
    local name = opts.name or "file"
    upload = { fields = { file_type = opts.file_type or "stream", file_name = name,
                          duration = opts.duration },
               file = { field = "file", name = name, content_type = opts.content_type,
                        data = data } }
  end
  upload.tenant_key, upload.timeout = opts.tenant_key, opts.timeout
  local res, err = lark.api.upload(image and "im/v1/images" or "im/v1/files", upload)
  if not res then return nil, err end
  local key = image and "image_key" or "file_key"
  return M.send(receive_id_type, receive_id, image and "image" or "file",
                { [key] = res.data[key] },
                { uuid = opts.uuid, tenant_key = opts.tenant_key, timeout = opts.timeout })
end

-- lark.im.send_image(receive_id_type, receive_id, bytes [, opts])
-- opts: name, content_type ("image/png"), uuid, tenant_key, timeout.
function M.send_image(receive_id_type, receive_id, data, opts)
  return send_media("send_image", receive_id_type, receive_id, data, opts, true)
end

-- lark.im.send_file(receive_id_type, receive_id, bytes [, opts])
-- opts: name (the file name shown), file_type (opus|mp4|pdf|doc|xls|ppt|stream, default
-- stream), duration (ms, audio and video), content_type, uuid, tenant_key, timeout.
function M.send_file(receive_id_type, receive_id, data, opts)
  return send_media("send_file", receive_id_type, receive_id, data, opts, false)
end

-- lark.im.update(message_id, card [, opts]): replaces the card of a card message the app
-- sent (PATCH). The platform wants config.update_multi = true in the card sent and in
-- the new one, and takes at most 5 updates per second per message; to stream text,
-- use lark.card.stream. card: a table (encoded here) or a JSON string.
-- opts: tenant_key, timeout (seconds).
function M.update(message_id, card, opts)
  message_id_arg(message_id, "update")
  card = encode(card, 2, "update")
  opts = options(opts, 3, "update", UPDATE_OPTS)
  return lark.api.patch("/open-apis/im/v1/messages/" .. message_id, {
    body = { content = card },
    tenant_key = opts.tenant_key,
    timeout = opts.timeout,
  })
end

return M
