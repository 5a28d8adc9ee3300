-- Helpers for im.message.receive_v1 events (pure Lua: usable and testable anywhere).
local M = {}

-- The decoded `content` of a message event, or nil, err. decode defaults to
-- lark.json.decode; pass another JSON decoder outside the gateway.
function M.content(event, decode)
  local msg = type(event) == "table" and type(event.event) == "table" and event.event.message
  if type(msg) ~= "table" or type(msg.content) ~= "string" then
    return nil, "not a message event"
  end
  decode = decode or (lark and lark.json and lark.json.decode)
  if not decode then return nil, "no JSON decoder" end
  local content, err = decode(msg.content)
  if type(content) ~= "table" then return nil, err or "content is not a JSON object" end
  return content
end

-- Removes the @_user_N placeholders the platform puts where mentions were, and the
-- spaces around the remaining text.
function M.strip_mentions(text)
  local s = text:gsub("@_user_%d+", ""):gsub("%s+", " ")
  return (s:match("^%s*(.-)%s*$"))
end

-- The plain text of a text message without mentions, or nil, err.
function M.text(event, decode)
  local content, err = M.content(event, decode)
  if not content then return nil, err end
  if type(content.text) ~= "string" then return nil, "not a text message" end
  return M.strip_mentions(content.text)
end

return M
