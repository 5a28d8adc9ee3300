-- The Lua half of the `lark` module: conveniences that need no C. In the gateway this
-- file runs once per script state with the C half (lark.on, lark.log, lark.json, ...)
-- as its argument and adds to it; outside the gateway (busted) it starts from {}.
local lark = ...
if type(lark) ~= "table" then lark = {} end

lark.message = require("lark.message")
lark.im = require("lark.im")
lark.card = require("lark.card")
if type(lark.api) == "table" then lark.api.pages = require("lark.pages") end
-- the card builder joins the streaming card in lark.card
for k, v in pairs(require("lark.card_build")) do lark.card[k] = v end

return lark
