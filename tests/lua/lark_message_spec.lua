-- The Lua half of lark (lua/lark/*.lua), outside the gateway.
local message = require("lark.message")

-- A stand-in for lark.json.decode: enough for {"text":"..."} without escapes.
local function decode(s)
  local text = s:match('^{"text":"(.*)"}$')
  if not text then return nil, "invalid JSON" end
  return { text = text }
end

local function event_with(content, message_type)
  return { schema = "2.0", header = { event_type = "im.message.receive_v1" },
           event = { message = { content = content, message_type = message_type or "text" } } }
end

describe("lark.message", function()
  it("strips mention placeholders and surrounding space", function()
    assert.equal("hello world", message.strip_mentions("@_user_1 hello  world"))
    assert.equal("a b", message.strip_mentions("@_user_12 a @_user_2 b "))
    assert.equal("", message.strip_mentions("@_user_1"))
  end)

  it("gives the text of a text message", function()
    assert.equal("hi there", message.text(event_with('{"text":"@_user_1 hi there"}'), decode))
  end)

  it("gives the decoded content", function()
    assert.same({ text = "x" }, message.content(event_with('{"text":"x"}'), decode))
  end)

  it("answers nil, err for what is not a message event", function()
    local v, err = message.text({ header = {} }, decode)
    assert.is_nil(v)
    assert.equal("not a message event", err)
    v, err = message.text(event_with("not json"), decode)
    assert.is_nil(v)
    assert.equal("invalid JSON", err)
    v, err = message.text(event_with('{"text":"x"}'))
    assert.is_nil(v)
    assert.equal("no JSON decoder", err)
  end)

  it("is what lark/init.lua adds to the C half", function()
    local c_half = { on = function() end }
    local lark = assert(loadfile("lua/lark/init.lua"))(c_half)
    assert.equal(c_half, lark)
    assert.equal(message, lark.message)
  end)
end)
