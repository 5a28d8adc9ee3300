-- welcome.lua: when the bot is added to a chat (im.chat.member.bot.added_v1), it posts
-- a welcome card there.

function on_p2_chat_member_bot_added_v1(event)
  local e = event.event
  local name = type(e.name) == "string" and e.name ~= "" and e.name or "this chat"
  local c = lark.card.new({ title = "Hello, " .. name .. "!", template = "turquoise" })
    :markdown("Thanks for adding me. Send **/help** to see what I can do, "
              .. "or **/card** for a card with buttons.")
    :divider()
    :note("larkgw example: welcome.lua")
  local res, err = lark.im.send("chat_id", e.chat_id, "interactive", c:json())
  if not res then error(err) end
  lark.log.info("welcomed chat " .. e.chat_id)
end
