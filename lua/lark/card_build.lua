-- lark.card's builder: a small card layout in a few calls, for messages and for card
-- callback answers, in card JSON 2.0 (the default) or the older layout that legacy
-- message cards and older clients take.
--   local c = lark.card.new{ title = "Deploy", template = "blue" }
--     :markdown("Ready to ship **v1.2**?")
--     :divider()
--     :actions{ lark.card.button("Ship", { value = { op = "ship" }, type = "primary" }) }
--     :note("asked by the deploy bot")
--   lark.im.send("chat_id", chat, "interactive", c:json())
-- A callback handler answers with lark.card.answer{ toast = lark.card.toast("success",
-- "Done"), card = c } and, past the 3 s, updates the card with
-- lark.card.update_later(event.event.token, c).
local M = {}

local Card = {}
Card.__index = Card

local TEMPLATES = { blue = true, wathet = true, turquoise = true, green = true, yellow = true,
                    orange = true, red = true, carmine = true, violet = true, purple = true,
                    indigo = true, grey = true, default = true }
local BUTTON_TYPES = { default = true, primary = true, danger = true, text = true,
                       primary_filled = true, danger_filled = true, laser = true }
local NEW_OPTS = { title = true, template = true, schema = true, update_multi = true,
                   wide_screen = true }
local TOASTS = { success = true, info = true, warning = true, error = true }

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

local function check_string(v, n, fname)
  if type(v) ~= "string" then argerror(n, fname, "string expected, got " .. type(v)) end
end

local function plain(text) return { tag = "plain_text", content = text } end

-- lark.card.new([opts]): opts title, template (header colour), schema ("2.0", the
-- default, or "1.0" for the older layout), update_multi (default true: the card can be
-- updated for everyone), wide_screen (1.0 only, default true).
function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then argerror(1, "new", "table expected, got " .. type(opts)) end
  for k in pairs(opts) do
    if not NEW_OPTS[k] then argerror(1, "new", "unknown option '" .. tostring(k) .. "'") end
  end
  local schema = opts.schema or "2.0"
  if schema ~= "2.0" and schema ~= "1.0" then argerror(1, "new", "schema: \"2.0\" or \"1.0\"") end
  if opts.title ~= nil then check_string(opts.title, 1, "new") end
  if opts.template ~= nil and not TEMPLATES[opts.template] then
    argerror(1, "new", "unknown template '" .. tostring(opts.template) .. "'")
  end
  return setmetatable({ v2 = schema == "2.0", title = opts.title, template = opts.template,
                        update_multi = opts.update_multi ~= false,
                        wide_screen = opts.wide_screen ~= false, elements = {} }, Card)
end

function Card:add(element)
  self.elements[#self.elements + 1] = element
  return self
end

function Card:markdown(text)
  check_string(text, 1, "markdown")
  return self:add({ tag = "markdown", content = text })
end

function Card:divider()
  return self:add({ tag = "hr" })
end

-- A small grey line: a note in the older layout, notation-sized markdown in 2.0 (which
-- has no note element).
function Card:note(text)
  check_string(text, 1, "note")
  if self.v2 then return self:add({ tag = "markdown", content = text, text_size = "notation" }) end
  return self:add({ tag = "note", elements = { plain(text) } })
end

-- A row of buttons (lark.card.button): an action block in the older layout, a column
-- set in 2.0.
function Card:actions(buttons)
  if type(buttons) ~= "table" or #buttons == 0 then
    argerror(1, "actions", "a list of lark.card.button(...) expected")
  end
  local list = {}
  for i, b in ipairs(buttons) do
    if getmetatable(b) ~= M.Button then argerror(1, "actions", "item " .. i .. " is not a button") end
    list[i] = b
  end
  return self:add({ actions = list, is_actions = true })
end

local function button_json(b, v2)
  local out = { tag = "button", text = plain(b.text), type = b.type }
  if v2 then
    out.behaviors = { { type = "callback", value = b.value } }
  else
    out.value = b.value
  end
  return out
end

local function element_json(e, v2)
  if not e.is_actions then return e end
  if not v2 then
    local actions = {}
    for i, b in ipairs(e.actions) do actions[i] = button_json(b, false) end
    return { tag = "action", actions = actions }
  end
  local columns = {}
  for i, b in ipairs(e.actions) do
    columns[i] = { tag = "column", width = "auto", elements = { button_json(b, true) } }
  end
  return { tag = "column_set", flex_mode = "none", horizontal_spacing = "default",
           columns = columns }
end

-- The card as a table, ready for lark.json.encode, lark.im.send's content, a callback's
-- answer or lark.card.update_later.
function Card:json()
  local elements = {}
  for i, e in ipairs(self.elements) do elements[i] = element_json(e, self.v2) end
  local card = { config = { update_multi = self.update_multi } }
  if self.title then
    card.header = { title = plain(self.title), template = self.template or "default" }
  end
  if self.v2 then
    card.schema = "2.0"
    card.body = { elements = elements }
  else
    card.config.wide_screen_mode = self.wide_screen
    card.elements = elements
  end
  return card
end

M.Button = {}

-- lark.card.button(text [, opts]): opts value (a table the click's action.value
-- carries), type (default, primary, danger, ...).
function M.button(text, opts)
  check_string(text, 1, "button")
  opts = opts or {}
  if type(opts) ~= "table" then argerror(2, "button", "table expected, got " .. type(opts)) end
  if opts.value ~= nil and type(opts.value) ~= "table" then
    argerror(2, "button", "value: table expected")
  end
  if opts.type ~= nil and not BUTTON_TYPES[opts.type] then
    argerror(2, "button", "unknown type '" .. tostring(opts.type) .. "'")
  end
  return setmetatable({ text = text, value = opts.value or {}, type = opts.type or "default" },
                      M.Button)
end

-- lark.card.toast(type, text): a callback answer's toast (success, info, warning, error).
function M.toast(kind, text)
  if not TOASTS[kind] then argerror(1, "toast", "success, info, warning or error expected") end
  check_string(text, 2, "toast")
  return { type = kind, content = text }
end

local function as_json(card)
  if getmetatable(card) == Card then return card:json() end
  return card
end

-- lark.card.answer{toast =, card =}: what a card.action.trigger handler returns; card a
-- builder or a card table (sent as a raw card).
function M.answer(parts)
  if type(parts) ~= "table" then argerror(1, "answer", "table expected, got " .. type(parts)) end
  local out = {}
  if parts.toast then out.toast = parts.toast end
  if parts.card then out.card = { type = "raw", data = as_json(parts.card) } end
  return out
end

-- lark.card.update_later(token, card [, opts]): the delayed update a callback's
-- event.token allows within 30 minutes, a couple of times per token (for work that
-- outlives the 3 s the click's answer has). Returns the decoded answer or nil, err;
-- opts tenant_key, timeout. Only inside handlers and jobs, like lark.api.
function M.update_later(token, card, opts)
  check_string(token, 1, "update_later")
  if type(card) ~= "table" then argerror(2, "update_later", "card expected, got " .. type(card)) end
  opts = opts or {}
  return lark.api.post("interactive/v1/card/update", {
    body = { token = token, card = as_json(card) },
    tenant_key = opts.tenant_key, timeout = opts.timeout })
end

return M
