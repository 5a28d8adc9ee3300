-- lark.api.pages (lua/lark/pages.lua) over a stand-in lark.api.get.
local pages = require("lark.pages")

describe("lark.api.pages", function()
  local calls
  before_each(function()
    calls = {}
    _G.lark = { api = { get = function(path, opts)
      calls[#calls + 1] = { path = path, token = opts.query.page_token,
                            size = opts.query.page_size, tenant_key = opts.tenant_key }
      local start = tonumber(opts.query.page_token or "0")
      local items = {}
      for i = start + 1, math.min(start + opts.query.page_size, 7) do items[#items + 1] = i end
      local next_start = start + #items
      return { code = 0, data = { items = items, has_more = next_start < 7,
                                  page_token = next_start < 7 and tostring(next_start) or "" } }
    end } }
  end)
  after_each(function() _G.lark = nil end)

  it("iterates every item across page tokens", function()
    local got = {}
    for item in pages("im/v1/chats", { page_size = 3, tenant_key = "t" }) do got[#got + 1] = item end
    assert.same({ 1, 2, 3, 4, 5, 6, 7 }, got)
    assert.equal(3, #calls)
    assert.same({ nil, "3", "6" }, { calls[1].token, calls[2].token, calls[3].token })
    assert.equal("t", calls[1].tenant_key)
  end)

  it("stops at max_items without asking for more pages", function()
    local got = {}
    for item in pages("x", { page_size = 3, max_items = 4 }) do got[#got + 1] = item end
    assert.same({ 1, 2, 3, 4 }, got)
    assert.equal(2, #calls)
  end)

  it("raises a failed page's err and refuses bad options", function()
    lark.api.get = function() return nil, { code = 99991400 } end
    local ok, err = pcall(function() for _ in pages("x") do end end)
    assert.is_false(ok)
    assert.equal(99991400, err.code)
    assert.has_error(function() pages("x", { page_size = 0 }) end)
    assert.has_error(function() pages("x", { pagesize = 5 }) end)
    assert.has_error(function() pages(5) end)
  end)
end)
