-- The Lua half of the `lark` module: conveniences that need no C. In the gateway this
-- file runs once per script state with the C half (lark.on, lark.log, lark.json, ...)
-- as its argument and adds to it; outside the gateway (busted) it starts from {}.
local lark = ...
if type(lark) ~= "table" then lark = {} end

lark.message = require("lark.message")
lark.im = require("lark.im")

-- lark.card (the streaming card and the builder) loads on first use: every script state
-- pays for what it loads, and most scripts never touch a card
local card
lark.card = setmetatable({}, { __index = function(_, k)
  if not card then
    card = require("lark.card")
    for name, v in pairs(require("lark.card_build")) do card[name] = v end
  end
  return card[k]
end })
if type(lark.api) == "table" then
  lark.api.pages = function(...) return require("lark.pages")(...) end
end

return lark
