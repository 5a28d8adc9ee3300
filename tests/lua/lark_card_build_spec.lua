-- lark.card's builder (lua/lark/card_build.lua) outside the gateway.
local card = require("lark.card_build")

describe("lark.card builder", function()
  it("builds a JSON 2.0 card with buttons in a column set", function()
    local c = card.new({ title = "T", template = "blue" })
      :markdown("**hi**")
      :divider()
      :actions({ card.button("Go", { value = { op = "go" }, type = "primary" }) })
      :note("small")
      :json()
    assert.equal("2.0", c.schema)
    assert.same({ update_multi = true }, c.config)
    assert.same({ title = { tag = "plain_text", content = "T" }, template = "blue" }, c.header)
    local e = c.body.elements
    assert.same({ tag = "markdown", content = "**hi**" }, e[1])
    assert.same({ tag = "hr" }, e[2])
    assert.equal("column_set", e[3].tag)
    assert.same({ tag = "button", text = { tag = "plain_text", content = "Go" }, type = "primary",
                  behaviors = { { type = "callback", value = { op = "go" } } } },
                e[3].columns[1].elements[1])
    assert.same({ tag = "markdown", content = "small", text_size = "notation" }, e[4])
  end)

  it("builds the older layout", function()
    local c = card.new({ schema = "1.0" })
      :actions({ card.button("A", { value = { k = 1 } }), card.button("B") })
      :note("n")
      :json()
    assert.is_nil(c.schema)
    assert.is_nil(c.header)
    assert.same({ update_multi = true, wide_screen_mode = true }, c.config)
    assert.same({ tag = "action", actions = {
      { tag = "button", text = { tag = "plain_text", content = "A" }, type = "default", value = { k = 1 } },
      { tag = "button", text = { tag = "plain_text", content = "B" }, type = "default", value = {} },
    } }, c.elements[1])
    assert.same({ tag = "note", elements = { { tag = "plain_text", content = "n" } } }, c.elements[2])
  end)

  it("answers a callback with a toast and a raw card", function()
    local a = card.answer({ toast = card.toast("info", "x"), card = card.new():markdown("m") })
    assert.same({ type = "info", content = "x" }, a.toast)
    assert.equal("raw", a.card.type)
    assert.equal("m", a.card.data.body.elements[1].content)
  end)

  it("refuses what the platform would", function()
    assert.has_error(function() card.new({ template = "pink" }) end)
    assert.has_error(function() card.new({ colour = "blue" }) end)
    assert.has_error(function() card.new({ schema = "3.0" }) end)
    assert.has_error(function() card.button("x", { type = "huge" }) end)
    assert.has_error(function() card.new():actions({ { text = "not a button" } }) end)
    assert.has_error(function() card.toast("fatal", "x") end)
  end)

  it("updates later through the card update endpoint", function()
    local posted
    _G.lark = { api = { post = function(path, opts)
      posted = { path = path, opts = opts }
      return { code = 0 }
    end } }
    local res = card.update_later("c-1", card.new():markdown("done"), { tenant_key = "t" })
    _G.lark = nil
    assert.equal(0, res.code)
    assert.equal("interactive/v1/card/update", posted.path)
    assert.equal("c-1", posted.opts.body.token)
    assert.equal("done", posted.opts.body.card.body.elements[1].content)
    assert.equal("t", posted.opts.tenant_key)
  end)
end)
