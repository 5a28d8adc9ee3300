-- Sandbox escape attempts (docs/lua-api.md, "Sandbox and limits"), through the real binary: each probe
-- is a function that returns true when the escape WORKED. A handler runs a list of them
-- and raises, naming them, if any did; `larkgw replay` exits 0 only on a 200 answer.
-- What tests/lua/sandbox_spec.lua and tests/unit/test_sandbox.c already cover (io, os.*,
-- debug, package == nil, string.dump, binary chunks, pcall-hidden loops) is not repeated.
local R = dofile((os.getenv("LARKGW_SRC") or ".") .. "/tests/lua/replay.lua")
local bin = R.bin

local SECRET = "s3cr3t-app-secret-5f1d"
local ENCRYPT = "encrypt-key-93aa"

-- Runs the event through a scripts dir holding `scripts` (name -> text); returns ok, output.
local function replay(scripts, limits)
  return R.run(scripts, ("app_id = 'cli_escape'\napp_secret = %q\n" ..
               "limits = { handler_timeout_ms = 300, memory_mb = 16 %s}"):format(SECRET, limits or ""),
               "LARK_ENCRYPT_KEY=" .. ENCRYPT .. " ")
end

-- probes: { name = "lua function body returning true on escape", ... }
local function probe_script(probes)
  local parts = { "local probes = {}\n" }
  for name, body in pairs(probes) do
    parts[#parts + 1] = ("probes[%q] = function()\n%s\nend\n"):format(name, body)
  end
  parts[#parts + 1] = [[
function on_event(event)
  local escaped = {}
  for name, probe in pairs(probes) do
    local ok, worked = pcall(probe)
    if ok and worked then escaped[#escaped + 1] = name end
  end
  table.sort(escaped)
  if #escaped > 0 then error("ESCAPED: " .. table.concat(escaped, ", ")) end
  lark.log.info("no escape")
end
]]
  return table.concat(parts)
end

local function assert_contained(probes, extra)
  local scripts = extra or {}
  scripts["probe.lua"] = probe_script(probes)
  local ok, out = replay(scripts)
  assert(ok and out:find("no escape", 1, true), out)
end

describe("sandbox escape attempts, through larkgw replay", function()
  if not bin then
    pending("LARKGW_BIN is not set (run through ctest)")
    return
  end

  it("the probe harness can fail", function()
    local ok, out = replay({ ["probe.lua"] = probe_script({ always = "return true" }) })
    assert.is_falsy(ok)
    assert.truthy(out:find("ESCAPED: always", 1, true), out)
  end)

  it("metatable tricks on shared types", function()
    assert_contained({
      string_mt = "return type(getmetatable('')) == 'table'",
      string_mt_index = "return getmetatable('').__index ~= nil",
      string_index = "return ('').__index ~= nil or string.__index ~= nil",
      set_string_mt = "setmetatable('', {}) return true",
      set_number_mt = "setmetatable(1, {}) return true",
      set_function_mt = "setmetatable(print, {}) return true",
      set_thread_mt = "setmetatable(coroutine.running(), {}) return true",
      set_boolean_mt = "setmetatable(true, {}) return true",
      number_mt = "return getmetatable(1) ~= nil or getmetatable(print) ~= nil",
      rawset_string_mt = "rawset(getmetatable(''), '__index', {}) return true",
      late_gc = [[
        local ran = false
        local mt = {}
        setmetatable({}, mt)
        mt.__gc = function() ran = true end
        collectgarbage() collectgarbage()
        return ran]],
      gc_via_index = [[
        local ran = false
        setmetatable({}, setmetatable({}, {__index = {__gc = function() ran = true end}}))
        collectgarbage() collectgarbage()
        return ran]],
    })
  end)

  it("collectgarbage offers only collect and count", function()
    local probes = {}
    for _, opt in ipairs({ "stop", "restart", "step", "incremental", "generational",
                           "setpause", "setstepmul", "isrunning" }) do
      probes["collectgarbage_" .. opt] = ("collectgarbage(%q) return true"):format(opt)
    end
    probes.count_is_number = "return type(collectgarbage('count')) ~= 'number'"
    assert_contained(probes)
  end)

  it("load with a custom env reaches nothing new", function()
    assert_contained({
      empty_env_io = "return load('return io', 'x', 't', {})() ~= nil",
      proxy_env = "return load('return io or os.execute or debug', 'x', 't', setmetatable({}, {__index = _G}))() ~= nil",
      env_require = "return load('return require(\"io\")', 'x', 't', {require = require})() ~= nil",
      nested_load = "return load('return load(\"return io\")()')() ~= nil",
      env_is_g = "return load('return _G')() ~= _G",
      dofile_via_env = "return load('return dofile or loadfile or loadstring', 'x', 't', _G)() ~= nil",
    })
  end)

  it("globals stay guarded: setmetatable(_G), rawset(_ENV), _G replacement", function()
    assert_contained({
      setmetatable_G = "setmetatable(_G, {__index = function(_, k) return k end}) return true",
      setmetatable_ENV_nil = "setmetatable(_ENV, nil) return true",
      getmetatable_G = "return getmetatable(_G) ~= false",
      rawset_ENV = "rawset(_ENV, 'leak', 1) return true",
      rawset_G = "rawset(_G, 'leak2', 1) return rawget(_G, 'leak2') == 1",
      newindex = "leak3 = 1 return true",
      via_load = "load('leak4 = 1')() return true",
      via_load_G = "load('_G.leak5 = 1')() return true",
    })
  end)

  it("C modules and files stay out of reach", function()
    assert_contained({
      require_lfs = "require('lfs') return true",
      require_socket = "require('socket.core') return true",
      require_posix = "require('posix') return true",
      require_ffi = "require('ffi') return true",
      require_abs = "require('/usr/lib/x86_64-linux-gnu/liblua5.4.so') return true",
      require_dots = "require('..lua.lark.init') return true",
      loadlib = "return package ~= nil or (require('package') ~= nil)",
      require_debug = "return require('debug') ~= nil",
      require_os = "local os2 = require('os') return os2.execute ~= nil",
    })
  end)

  it("the config and the environment are not readable", function()
    local walk = [[
      local seen, found = {}, nil
      local function visit(v, path, depth)
        if found or depth > 12 then return end
        local t = type(v)
        if t == 'string' then
          if v:find(%q, 1, true) or v:find(%q, 1, true) then found = path end
          return
        end
        if t ~= 'table' and t ~= 'function' then return end
        if seen[v] then return end
        seen[v] = true
        if t == 'table' then
          for k, x in next, v do visit(k, path .. '.<key>', depth + 1) visit(x, path .. '.' .. tostring(k), depth + 1) end
          local mt = getmetatable(v)
          if mt then visit(mt, path .. '.<mt>', depth + 1) end
        end
      end
      visit(_G, '_G', 0)
      visit(lark, 'lark', 0)
      visit(lark.event, 'lark.event', 0)
      if found then error('secret reachable at ' .. found) end
      return false]]
    assert_contained({
      walk_everything = walk:format(SECRET, ENCRYPT),
      getenv = "return os.getenv ~= nil",
      config_global = "return app_secret ~= nil or config ~= nil or lark.config ~= nil",
      require_conf = "require('conf') return true",
      require_conf_up = "require('..conf') return true",
    })
  end)

  it("another script's globals are not reachable", function()
    assert_contained({
      other_global = "return other_secret ~= nil or _G.other_secret ~= nil or rawget(_G, 'other_secret') ~= nil",
      require_other = "require('other') return other_secret ~= nil or rawget(_G, 'counter') ~= nil",
      shared_string_lib = "return string.upper == nil",
      shared_lark = "return lark.log == nil",
    }, {
      -- `...` is empty for a script's top level, (name, path) when required as a module:
      -- only the script's own state loses string.upper and lark.log
      ["other.lua"] = "other_secret = 'from other.lua'\ncounter = 0\n" ..
                      "if ... == nil then string.upper = nil lark.log = nil end\n" ..
                      "function on_event() counter = counter + 1 end\n",
    })
  end)

  it("hidden infinite loops still die on their time budget", function()
    for _, body in ipairs({
      "coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()",
      "while true do pcall(coroutine.wrap(function() while true do end end)) end",
      "local co = coroutine.create(function() while true do end end)\n" ..
        "while true do coroutine.resume(co) co = coroutine.create(function() while true do end end) end",
      "while true do pcall(string.rep, 'x', 1 << 40) end",
      "while true do xpcall(string.find, function() end, ('a'):rep(5000), '.-.-.-.-.-b') end",
    }) do
      local ok, out = replay({ ["probe.lua"] = "function on_event()\n" .. body .. "\nend\n" })
      assert.is_falsy(ok)
      assert.truthy(out:find("time budget spent (limits.handler_timeout_ms = 300)", 1, true)
                    or out:find("too many coroutines", 1, true), out)
    end
  end)

  it("a log line cannot be forged", function()
    local ok, out = replay({ ["probe.lua"] =
      "function on_event() print('first\\n2026-01-01T00:00:00.000Z ERROR gateway: forged') end\n" })
    assert.is_true(ok, out)
    assert.truthy(out:find("first\\n2026-01-01T00:00:00.000Z ERROR gateway: forged", 1, true), out)
    assert.is_falsy(out:find("\n2026-01-01T00:00:00.000Z ERROR", 1, true), out)
  end)
end)
