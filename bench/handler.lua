-- The bench's "no API" handler: what echo.lua does before it replies (read the text),
-- so the figure is the gateway's own cost per event without an OpenAPI round trip.
function on_p2_message_receive_v1(event)
  local text = lark.message.text(event)
  if not text then error("no text in " .. event.header.event_id) end
end
