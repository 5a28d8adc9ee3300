-- lark.im (lua/lark/im.lua) outside the gateway, over a stand-in lark.api.post.
local im = require("lark.im")

describe("lark.im", function()
  local posted
  before_each(function()
    posted = nil
    _G.lark = {
      json = { encode = function(t) return "ENC(" .. t.text .. ")" end },
      api = { post = function(path, opts)
        posted = { path = path, opts = opts }
        return { code = 0, data = { message_id = "om_new" } }
      end },
    }
  end)
  after_each(function() _G.lark = nil end)

  it("sends to a receiver, encoding a table content", function()
    local res = im.send("chat_id", "oc_1", "text", { text = "hi" }, { uuid = "u-1" })
    assert.equal("om_new", res.data.message_id)
    assert.equal("/open-apis/im/v1/messages", posted.path)
    assert.same({ receive_id_type = "chat_id" }, posted.opts.query)
    assert.same({ receive_id = "oc_1", msg_type = "text", content = "ENC(hi)", uuid = "u-1" },
                posted.opts.body)
  end)

  it("replies, passing a string content as is and the options through", function()
    im.reply("om_1", "text", '{"text":"x"}', { reply_in_thread = true, tenant_key = "tk",
                                              timeout = 3 })
    assert.equal("/open-apis/im/v1/messages/om_1/reply", posted.path)
    assert.same({ msg_type = "text", content = '{"text":"x"}', reply_in_thread = true },
                posted.opts.body)
    assert.equal("tk", posted.opts.tenant_key)
    assert.equal(3, posted.opts.timeout)
  end)

  it("returns nil, err from the call as they are", function()
    lark.api.post = function() return nil, { code = 230001 } end
    local res, err = im.reply("om_1", "text", "{}")
    assert.is_nil(res)
    assert.equal(230001, err.code)
  end)

  it("refuses bad arguments before any call", function()
    assert.has_error(function() im.send("chat_id", nil, "text", "{}") end,
                     "bad argument #2 to 'send' (string expected, got nil)")
    assert.has_error(function() im.reply("om_1/../x", "text", "{}") end,
                     "bad argument #1 to 'reply' (not a message id)")
    assert.has_error(function() im.reply("om_1", "text", 42) end,
                     "bad argument #3 to 'reply' (string expected, got number)")
    assert.has_error(function() im.reply("om_1", "text", "{}", { thread = true }) end,
                     "bad argument #4 to 'reply' (unknown option 'thread')")
    assert.is_nil(posted)
  end)
end)
