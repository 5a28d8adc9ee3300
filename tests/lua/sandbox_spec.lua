-- The sandbox seen from a script, through the real binary: `larkgw replay` runs one
-- saved event through a scripts directory and exits 0 only on a 200 answer.
local R = dofile((os.getenv("LARKGW_SRC") or ".") .. "/tests/lua/replay.lua")
local bin = R.bin

-- Runs `body` as the on_event handler of a one-script bot; returns ok, output.
local function replay(body, top)
  return R.run({ ["probe.lua"] = (top or "") .. "\nfunction on_event(event)\n" .. body .. "\nend\n" },
               "limits = { handler_timeout_ms = 300, memory_mb = 16 }")
end

local function reachable_nothing(expr)
  local ok, out = replay("assert(" .. expr .. ")")
  assert(ok, expr .. " should hold; output:\n" .. out)
end

describe("the sandbox, through larkgw replay", function()
  if not bin then
    pending("LARKGW_BIN is not set (run through ctest)")
    return
  end

  it("runs a handler and answers 200", function()
    local ok, out = replay("lark.log.info('hello from', event.header.event_id)")
    assert.is_true(ok, out)
    assert.truthy(out:find("probe.lua %[f7984f25108f8137722bb63cee927e66%]: hello from"), out)
  end)

  it("answers 500 with file:line when a handler raises", function()
    local ok, out = replay("error('broken')")
    assert.is_falsy(ok)
    assert.truthy(out:find("^500 ") or out:find("\n500 "), out)
    assert.truthy(out:find("probe.lua:3: broken", 1, true), out)
  end)

  it("hides io, os.execute, os.getenv, debug, package.loadlib", function()
    reachable_nothing("io == nil")
    reachable_nothing("os.execute == nil and os.getenv == nil and os.exit == nil")
    reachable_nothing("debug == nil")
    reachable_nothing("package == nil")
  end)

  it("refuses C modules and binary chunks, and has no string.dump", function()
    reachable_nothing("not pcall(require, 'cjson') and not pcall(require, 'io')")
    reachable_nothing("load('\\27Lua') == nil")
    reachable_nothing("string.dump == nil and ('').dump == nil")
  end)

  it("fails a looping handler on its time budget", function()
    local ok, out = replay("while true do pcall(function() while true do end end) end")
    assert.is_falsy(ok)
    assert.truthy(out:find("time budget spent", 1, true), out)
  end)

  it("fails a memory bomb on its memory cap", function()
    local ok, out = replay("local s = 'x' while true do s = s .. s end")
    assert.is_falsy(ok)
    assert.truthy(out:find("not enough memory", 1, true), out)
  end)
end)
