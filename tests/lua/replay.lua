-- Runs the saved test event through `larkgw replay` with a temporary scripts directory:
-- the sandbox as a script sees it, through the real binary. Shared by the specs here;
-- `larkgw replay` exits 0 only on a 200 answer.
local M = {}
M.bin = os.getenv("LARKGW_BIN")
M.src = os.getenv("LARKGW_SRC") or "."

local function sh(cmd)
  local p = io.popen(cmd)
  local out = p:read("*a")
  local ok = p:close()
  return ok, out
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- scripts: name -> text; conf: extra config lines; env: "VAR=value " to prefix the
-- command with. Returns ok, output.
function M.run(scripts, conf, env)
  local _, dir = sh("mktemp -d /tmp/larkgw-spec-XXXXXX")
  dir = dir:gsub("%s+$", "")
  os.execute("mkdir " .. dir .. "/scripts")
  for name, text in pairs(scripts) do write(dir .. "/scripts/" .. name, text) end
  write(dir .. "/conf.lua", ("scripts = %q\nlua_path = %q\n%s\n")
        :format(dir .. "/scripts", M.src .. "/lua", conf or ""))
  local ok, out = sh(("%s%s replay --config %s %s/tests/data/webhook/event.plain.json 2>&1")
                     :format(env or "", M.bin, dir .. "/conf.lua", M.src))
  os.execute("rm -rf " .. dir)
  return ok, out
end

return M
