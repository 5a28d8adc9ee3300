-- echo.lua: logs what it receives and answers with what it saw. Copy it to start a bot.

-- A message sent to the bot (im.message.receive_v1).
function on_p2_message_receive_v1(event)
  local msg = event.event.message
  local sender = event.event.sender.sender_id.open_id
  local content = lark.json.decode(msg.content) or {}
  local text = content.text or ("(" .. msg.message_type .. " message)")
  lark.log.info("message", msg.message_id, "from", sender, "in", msg.chat_id, ":", text)
  return { msg = "success", echo = text }
end

-- Every other event: log its type, to see what your app receives.
function on_event(event)
  local kind = event.header and event.header.event_type or event.event.type
  lark.log.info("event", kind, "received")
end
