-- lark.card (lua/lark/card.lua) and lark.im.update outside the gateway: a stand-in
-- lark.api that records every call, and a clock that lark.sleep moves forward.
local card = require("lark.card")

describe("lark.card", function()
  local calls, clock, fail_next

  local function api(method, path, opts)
    clock = clock + 0.005           -- every call takes 5 ms
    calls[#calls + 1] = { method = method, path = path, body = opts.body, at = clock,
                          tenant_key = opts.tenant_key, query = opts.query,
                          seq = opts.body and opts.body.sequence }
    if fail_next > 0 then
      fail_next = fail_next - 1
      return nil, { code = 99991400, msg = "limited" }
    end
    if path == "/open-apis/cardkit/v1/cards" then return { code = 0, data = { card_id = "c1" } } end
    if path:match("/messages") then return { code = 0, data = { message_id = "om_card" } } end
    return { code = 0, data = {} }
  end

  -- The cardkit calls made on card c1 (create excluded), oldest first.
  local function ops()
    local out = {}
    for _, c in ipairs(calls) do
      if c.path:match("^/open%-apis/cardkit/v1/cards/c1") then out[#out + 1] = c end
    end
    return out
  end

  before_each(function()
    calls, clock, fail_next = {}, 1000, 0
    _G.lark = {
      json = { encode = function(t) return t end },   -- keep tables: easy to check
      now = function() return clock end,
      sleep = function(s) clock = clock + s end,
      api = {
        post = function(path, opts) return api("POST", path, opts) end,
        patch = function(path, opts) return api("PATCH", path, opts) end,
        request = function(o) return api(o.method, o.path, o) end,
      },
    }
    lark.im = require("lark.im")
  end)
  after_each(function() _G.lark = nil end)

  it("creates a streaming card entity and replies with it", function()
    local c = assert(card.stream("om_1", { title = "Assistant", tenant_key = "tk" }))
    assert.equal("c1", c.card_id)
    assert.equal("om_card", c.message_id)
    local create = calls[1]
    assert.equal("/open-apis/cardkit/v1/cards", create.path)
    assert.equal("card_json", create.body.type)
    local json = create.body.data
    assert.equal("2.0", json.schema)
    assert.is_true(json.config.streaming_mode)
    assert.is_true(json.config.update_multi)
    assert.same({ { tag = "markdown", element_id = "answer", content = "" } }, json.body.elements)
    assert.equal("Assistant", json.header.title.content)
    assert.equal("tk", create.tenant_key)
    assert.equal("/open-apis/im/v1/messages/om_1/reply", calls[2].path)
    assert.equal("interactive", calls[2].body.msg_type)
    assert.same({ type = "card", data = { card_id = "c1" } }, calls[2].body.content)
  end)

  it("sends a new message to a chat", function()
    assert(card.stream({ chat_id = "oc_1" }))
    assert.equal("/open-apis/im/v1/messages", calls[2].path)
    assert.same({ receive_id_type = "chat_id" }, calls[2].query)
    assert.equal("oc_1", calls[2].body.receive_id)
  end)

  it("coalesces pushes: only the latest whole text goes, at most every 100 ms", function()
    local c = assert(card.stream("om_1"))
    for i = 1, 100 do
      assert.is_true(c:push(("w%d "):format(i)))
      clock = clock + 0.01           -- a token every 10 ms for a second
    end
    assert.is_true(c:finish())
    local list = ops()
    assert.is_true(#list >= 5 and #list <= 12, #list)
    local last_seq = 0
    for i, op in ipairs(list) do
      assert.is_true(op.seq > last_seq)
      last_seq = op.seq
      if i > 1 then assert.is_true(op.at - list[i - 1].at >= 0.1, op.at - list[i - 1].at) end
    end
    -- every cardkit operation, create included, fits 10 in any second
    local all = { calls[1] }
    for _, op in ipairs(list) do all[#all + 1] = op end
    for i = 11, #all do assert.is_true(all[i].at - all[i - 10].at >= 1.0) end
    local final = list[#list - 1]
    assert.equal("PUT", final.method)
    assert.equal("/open-apis/cardkit/v1/cards/c1/elements/answer/content", final.path)
    assert.truthy(final.body.content:match("^w1 w2 .* w100 $"))
    assert.equal("PATCH", list[#list].method)
    assert.equal("/open-apis/cardkit/v1/cards/c1/settings", list[#list].path)
    assert.same({ config = { streaming_mode = false } }, list[#list].body.settings)
  end)

  it("set replaces the text; finish(text) sends the final one", function()
    local c = assert(card.stream("om_1"))
    clock = clock + 1
    c:push("draft")
    c:set("other")
    assert.is_true(c:finish("final answer"))
    local list = ops()
    assert.equal("draft", list[1].body.content)
    assert.equal("final answer", list[2].body.content)
    assert.equal(3, #list)
    assert.is_nil(c:push("late"))
    assert.is_true(c:finish())
    assert.equal(3, #ops())
  end)

  it("retries a failed update once, then answers nil, err and keeps the text", function()
    local c = assert(card.stream("om_1"))
    clock = clock + 1
    fail_next = 1
    assert.is_true(c:push("a"))                 -- failed, retried, went through
    assert.equal(2, #ops())
    assert.is_true(ops()[2].seq > ops()[1].seq)
    clock = clock + 1
    fail_next = 2
    local ok, err = c:push("b")
    assert.is_nil(ok)
    assert.equal(99991400, err.code)
    clock = clock + 1
    assert.is_true(c:push("c"))
    assert.equal("abc", ops()[#ops()].body.content)
  end)

  it("reports a card that could not be created", function()
    fail_next = 1
    local c, err = card.stream("om_1")
    assert.is_nil(c)
    assert.equal(99991400, err.code)
  end)

  it("refuses bad arguments before any call", function()
    assert.has_error(function() card.stream(42) end,
                     "bad argument #1 to 'stream' (message id or table expected, got number)")
    assert.has_error(function() card.stream({ room = "x" }) end)
    assert.has_error(function() card.stream("om_1", { colour = "red" }) end,
                     "bad argument #2 to 'stream' (unknown option 'colour')")
    assert.has_error(function() card.stream("om_1", { interval = 0.01 }) end)
    assert.has_error(function() card.stream("om_1", { element_id = "1bad" }) end)
    assert.equal(0, #calls)
  end)
end)

describe("lark.im.update", function()
  local patched
  before_each(function()
    patched = nil
    _G.lark = {
      json = { encode = function() return "CARD" end },
      api = { patch = function(path, opts)
        patched = { path = path, opts = opts }
        return { code = 0, data = {} }
      end },
    }
    package.loaded["lark.im"] = nil
  end)
  after_each(function() _G.lark = nil end)

  it("PATCHes the message with the card as a JSON string", function()
    local im = require("lark.im")
    assert(im.update("om_1", { config = { update_multi = true } }, { tenant_key = "tk" }))
    assert.equal("/open-apis/im/v1/messages/om_1", patched.path)
    assert.same({ content = "CARD" }, patched.opts.body)
    assert.equal("tk", patched.opts.tenant_key)
  end)

  it("refuses a bad message id", function()
    local im = require("lark.im")
    assert.has_error(function() im.update("om_1/x", {}) end,
                     "bad argument #1 to 'update' (not a message id)")
    assert.is_nil(patched)
  end)
end)
