-- lark.card: a card that streams text like a typewriter, over lark.api, lark.now and
-- lark.sleep. stream() creates a card entity (JSON 2.0, streaming_mode, one markdown
-- element) and sends it; :push(delta) appends, :set(text)
-- replaces, :finish([text]) ends streaming mode. The platform takes at most 10 cardkit
-- operations per second per card: texts are coalesced, only the latest whole text goes
-- out, at least `interval` (0.1 s) after the previous operation's answer, or at finish.
-- Like lark.api, only inside handlers and jobs.
local M = {}

local INTERVAL = 0.1       -- seconds between two operations on one card (10/s)
local CARDS = "/open-apis/cardkit/v1/cards/"
local TARGETS = { chat_id = true, open_id = true, user_id = true, union_id = true, email = true }
local OPTS = { title = true, template = true, text = true, element_id = true, summary = true,
               tenant_key = true, reply_in_thread = true, interval = true, timeout = true }

local Card = {}
Card.__index = Card

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

local function check_opts(opts)
  if opts == nil then return {} end
  if type(opts) ~= "table" then argerror(2, "stream", "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not OPTS[k] then argerror(2, "stream", "unknown option '" .. tostring(k) .. "'") end
  end
  if opts.element_id ~= nil and (type(opts.element_id) ~= "string"
      or not opts.element_id:match("^%a[%w_]*$") or #opts.element_id > 20) then
    argerror(2, "stream", "element_id: 1-20 letters, digits or _, starting with a letter")
  end
  if opts.interval ~= nil and (type(opts.interval) ~= "number" or opts.interval < INTERVAL) then
    argerror(2, "stream", "interval: seconds, at least " .. INTERVAL)
  end
  return opts
end

-- The receiver of a new message: { chat_id = "oc_..." } (or open_id, user_id, ...).
local function receiver(target)
  local kind, id
  for k, v in pairs(target) do
    if not TARGETS[k] or type(v) ~= "string" or kind then
      argerror(1, "stream", "a message id or one of {chat_id|open_id|user_id|union_id|email = id}")
    end
    kind, id = k, v
  end
  if not kind then argerror(1, "stream", "empty target") end
  return kind, id
end

-- The card JSON 2.0 of a new streaming card.
function M.build(opts)
  opts = opts or {}
  local card = {
    schema = "2.0",
    config = { streaming_mode = true, update_multi = true },
    body = { elements = { { tag = "markdown", element_id = opts.element_id or "answer",
                            content = opts.text or "" } } },
  }
  if opts.summary then card.config.summary = { content = opts.summary } end
  if opts.title then
    card.header = { title = { tag = "plain_text", content = opts.title },
                    template = opts.template }
  end
  return card
end

-- lark.card.stream(target, opts) -> card or nil, err.
-- target: a message id to reply to, or { chat_id = ... } for a new message.
-- opts: title, template (header colour), text (initial), element_id ("answer"), summary,
-- tenant_key, reply_in_thread, interval (seconds between updates, >= 0.1), timeout.
function M.stream(target, opts)
  local tt = type(target)
  if tt ~= "string" and tt ~= "table" then
    argerror(1, "stream", "message id or table expected, got " .. tt)
  end
  opts = check_opts(opts)
  local kind, id
  if tt == "table" then kind, id = receiver(target) end
  local created, err = lark.api.post(CARDS:sub(1, -2), {
    body = { type = "card_json", data = lark.json.encode(M.build(opts)) },
    tenant_key = opts.tenant_key, timeout = opts.timeout })
  if not created then return nil, err end
  local card_id = type(created.data) == "table" and created.data.card_id
  if type(card_id) ~= "string" then return nil, "the platform answered no card_id" end
  local self = setmetatable({
    card_id = card_id, element_id = opts.element_id or "answer",
    text = opts.text or "", sent = opts.text or "", seq = 0, last = lark.now(),
    interval = opts.interval or INTERVAL, tenant_key = opts.tenant_key,
    timeout = opts.timeout, finished = false,
  }, Card)
  local content = { type = "card", data = { card_id = self.card_id } }
  local msg
  if kind then
    msg, err = lark.im.send(kind, id, "interactive", content,
                            { tenant_key = opts.tenant_key, timeout = opts.timeout })
  else
    msg, err = lark.im.reply(target, "interactive", content,
                             { tenant_key = opts.tenant_key, timeout = opts.timeout,
                               reply_in_thread = opts.reply_in_thread })
  end
  if not msg then return nil, err end
  self.message_id = msg.data.message_id
  self.last = lark.now()
  return self
end

-- Waits until the next operation may go.
function Card:wait()
  local left = self.last + self.interval - lark.now()
  if left > 0 then lark.sleep(left + 0.001) end
end

-- One cardkit operation with the next sequence, retried once; true or nil, err.
function Card:op(method, path, body)
  local res, err
  for _ = 1, 2 do
    self:wait()
    self.seq = self.seq + 1
    body.sequence = self.seq
    body.uuid = ("%s-%d"):format(self.card_id, self.seq)
    res, err = lark.api.request { method = method, path = CARDS .. self.card_id .. path,
                                  body = body, tenant_key = self.tenant_key,
                                  timeout = self.timeout }
    self.last = lark.now()
    if res then return true end
  end
  return nil, err
end

-- Sends the latest text when it changed; true or nil, err (the text stays pending).
function Card:flush()
  if self.text == self.sent then return true end
  local text = self.text
  local ok, err = self:op("PUT", "/elements/" .. self.element_id .. "/content",
                          { content = text })
  if ok then self.sent = text end
  return ok, err
end

local function due(self)
  return lark.now() - self.last >= self.interval
end

-- card:push(delta): appends; sends when the last operation is old enough.
function Card:push(delta)
  if type(delta) ~= "string" then argerror(1, "push", "string expected, got " .. type(delta)) end
  if self.finished then return nil, "the card is finished" end
  self.text = self.text .. delta
  if due(self) then return self:flush() end
  return true
end

-- card:set(text): replaces the whole text; sent like push.
function Card:set(text)
  if type(text) ~= "string" then argerror(1, "set", "string expected, got " .. type(text)) end
  if self.finished then return nil, "the card is finished" end
  self.text = text
  if due(self) then return self:flush() end
  return true
end

-- card:finish([final_text]): sends what is pending (or final_text), then turns
-- streaming mode off, so the chat list stops showing the card as still generating.
function Card:finish(final)
  if final ~= nil and type(final) ~= "string" then
    argerror(1, "finish", "string expected, got " .. type(final))
  end
  if self.finished then return true end
  if final then self.text = final end
  local ok, err = self:flush()
  local off = lark.json.encode({ config = { streaming_mode = false } })
  local done, err2 = self:op("PATCH", "/settings", { settings = off })
  self.finished = done or false
  if not ok then return nil, err end
  return done, err2
end

return M
