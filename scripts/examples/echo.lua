-- echo.lua: replies to every message with what it said. Copy it to start a bot.

-- A message sent to the bot (im.message.receive_v1).
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local text = lark.message.text(event) or ("(a " .. tostring(msg.message_type) .. " message)")
  if text:sub(1, 1) == "/" then return end  -- a command: commands.lua answers it
  local res, err = lark.im.reply(msg.message_id, "text", { text = "echo: " .. text })
  if not res then error(err) end  -- answered 500: the platform delivers the event again
end

-- Every other event: log its type, to see what your app receives.
function on_event(event)
  local kind = event.header and event.header.event_type or event.event.type
  lark.log.info("event", kind, "received")
end
